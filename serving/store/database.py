"""Connecting to the operational store and bringing its schema up to date.

SQLite by default (a file under the data directory), PostgreSQL by URL through psycopg 3.
`upgrade_to_head` runs the Alembic migrations shipped in this package, programmatically, so a
fresh deployment and an old one reach the same schema on start.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")
DATABASE_FILE = "shiprisk.db"


def default_database_url(data_dir: str | Path) -> str:
    """``sqlite:///<data_dir>/shiprisk.db``: the store when no SHIPRISK_DATABASE_URL is set."""
    return f"sqlite:///{Path(data_dir) / DATABASE_FILE}"


def conflict_insert(session: Session, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into ``table`` that can say ON CONFLICT, in the dialect of ``session``'s
    database (PostgreSQL or SQLite: the two the store runs on)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def normalised_url(url: str) -> URL:
    """The URL with a driver SQLAlchemy can use here: ``postgresql://`` means psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _prepare_sqlite_folder(url: URL) -> None:
    """Create the folder of a SQLite file (not at import: when the store is opened)."""
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside a writer; synchronous=FULL makes every commit durable
    # before it returns (a 2xx must survive a crash); foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_store_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their folder, WAL and durable commits."""
    parsed = normalised_url(url)
    if parsed.get_backend_name() == "sqlite":
        _prepare_sqlite_folder(parsed)
        engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(parsed, pool_pre_ping=True)


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade_engine(engine: Engine) -> None:
    """Run every migration not yet applied on ``engine``'s database."""
    from alembic import command

    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "head")


def upgrade_to_head(url: str) -> None:
    """Bring the store at ``url`` to the newest schema (creating it when empty)."""
    engine = create_store_engine(url)
    try:
        upgrade_engine(engine)
    finally:
        engine.dispose()


@dataclass
class Store:
    """An open operational store: its engine and a factory of sessions."""

    engine: Engine
    sessions: sessionmaker[Session]

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Store:
        """Connect to ``url`` and, unless told not to, migrate it to the newest schema."""
        engine = create_store_engine(url)
        if migrate:
            upgrade_engine(engine)
        return cls(engine, sessionmaker(engine, expire_on_commit=False))

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed when the block ends (rolled back on error).

        Callers acknowledge a write only after this block has returned: the commit is done.
        """
        with self.sessions.begin() as session:
            yield session

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
