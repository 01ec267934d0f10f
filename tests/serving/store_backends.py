"""Operational stores to test against: a SQLite file, and PostgreSQL when a server is given.

The PostgreSQL URL comes from SHIPRISK_TEST_POSTGRES_URL (``scripts/postgres.sh`` prints one);
without it the PostgreSQL cases are skipped. Each test gets an empty database: the public
schema is dropped and recreated before the migrations run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from serving.store.database import Store, normalised_url

POSTGRES_URL_VARIABLE = "SHIPRISK_TEST_POSTGRES_URL"

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


def empty_postgres(url: str) -> str:
    """Drop everything in the server's public schema; returns the URL."""
    engine = create_engine(normalised_url(url))
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def store_url_for(backend: str, tmp_path: Path) -> str:
    """A URL of an empty store of ``backend``; skips when PostgreSQL is not configured."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'shiprisk.db'}"
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        pytest.skip(f"{POSTGRES_URL_VARIABLE} is not set (scripts/postgres.sh prints one)")
    return empty_postgres(url)


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty store's URL, once per backend."""
    return store_url_for(request.param, tmp_path)


@pytest.fixture
def operational_store(store_url: str) -> Iterator[Store]:
    """An open, migrated, empty store."""
    store = Store.open(store_url)
    yield store
    store.close()
