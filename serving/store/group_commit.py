"""Group commit: the writes of concurrent requests land in one transaction, each acknowledged
only after that transaction committed.

A durable commit (SQLite's fsync with ``synchronous=FULL``, a round trip and WAL flush on
PostgreSQL) costs far more than the rows it carries. Requests that arrive while a commit is
running queue their writes; when it finishes, the first of them becomes the next leader,
takes every queued write, runs them in arrival order in ONE transaction and commits. Every
request waits until the commit that carried its write has returned, so a route that answers
after `GroupCommit.submit` returned still answers only after its write is durable.

Writes run in arrival order inside the transaction, so appends that read what the previous
write left (the consultation log's hash chain) stay sequential. When the shared transaction
fails, it is rolled back and every write of it is run again in a transaction of its own: one
bad write never fails the others, and each gets its own error.

Writes add their rows with `insert_rows`: inside a group, the rows of every write go into one
multi-row INSERT per table when the group's transaction ends (in the order the tables were
first written), instead of one statement per write and table. Statement overhead, not the
rows, is what a request's write costs; four requests' scores and consultation records then
take three statements instead of twelve.

There is no thread to start or stop: a waiting request does the committing itself.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session, sessionmaker

from serving.store.database import Store

T = TypeVar("T")

# How long a leader waits for the writes of requests answered together (see `submit`).
GATHER_SECONDS = 0.003
RECENT_GROUPS = 16
_INSERTS = "shiprisk.group_inserts"  # session.info: table -> rows still to insert


def insert_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` into ``table`` in this session's transaction.

    In a group commit's transaction the rows wait and go in with the other writes' rows of
    the same table, in one statement just before the commit; in any other session they are
    inserted now. Every row of a table must have the same keys.
    """
    if not rows:
        return
    waiting: dict[Table, list[Mapping[str, Any]]] | None = session.info.get(_INSERTS)
    if waiting is None:
        session.execute(insert(table), list(rows))
    else:
        waiting.setdefault(table, []).extend(rows)


@contextmanager
def _transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A transaction whose `insert_rows` wait for its end, then go in one statement per table."""
    with sessions.begin() as session:
        waiting: dict[Table, list[Mapping[str, Any]]] = {}
        session.info[_INSERTS] = waiting
        try:
            yield session
            for table, rows in waiting.items():
                session.execute(insert(table), rows)
        finally:
            session.info.pop(_INSERTS, None)


@dataclass(eq=False)
class _PendingWrite(Generic[T]):
    """One request's write, and what became of it once its transaction ended."""

    write: Callable[[Session], T]
    done: bool = False
    result: Any = None
    error: BaseException | None = None
    _finished: threading.Event = field(default_factory=threading.Event)


class GroupCommit:
    """Runs the writes submitted concurrently to one store together, one commit per group."""

    def __init__(
        self, sessions: sessionmaker[Session], *, max_wait_seconds: float = GATHER_SECONDS
    ) -> None:
        self.sessions = sessions
        self.max_wait_seconds = max_wait_seconds
        self._lock = threading.Lock()
        self._pending: list[_PendingWrite[Any]] = []
        # Writes per recent group: the largest is how many requests write together.
        self._recent: deque[int] = deque([1], maxlen=RECENT_GROUPS)
        self._leading = False  # a thread is running a group's transaction now
        self._turn = threading.Condition(self._lock)
        self.commits = 0  # transactions committed (shared and alone), for tests and tuning
        self.writes = 0  # writes committed

    def submit(self, write: Callable[[Session], T]) -> T:
        """Run ``write`` in a transaction shared with concurrent writes; return once committed.

        ``write`` gets the session of the transaction, must not commit, and may run twice
        (the second time in a fresh transaction of its own, after the shared one failed), so
        it must take everything it writes from its arguments, not from an earlier attempt.

        Raises:
            Whatever ``write`` or the commit raised when the write ran alone.
        """
        pending: _PendingWrite[T] = _PendingWrite(write)
        with self._turn:
            self._pending.append(pending)
            self._turn.notify_all()  # a leader may be gathering its group
            while self._leading and not pending.done:
                self._turn.wait()
            if pending.done:
                return self._outcome(pending)
            self._leading = True
            # Requests scored in one batch reach here a millisecond or two apart: gather as
            # many writes as the largest of the recent groups had, for at most
            # max_wait_seconds, so that they share one commit instead of the first committing
            # alone. Once the last RECENT_GROUPS groups were single writes, nobody waits.
            deadline = time.monotonic() + self.max_wait_seconds
            while len(self._pending) < max(self._recent):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._turn.wait(left)
            group, self._pending = self._pending, []
            self._recent.append(len(group))
        try:
            self._commit_group(group)
        finally:
            with self._turn:
                for unfinished in group:  # only when the leader itself was interrupted
                    if not unfinished.done:
                        unfinished.error = RuntimeError("the group commit was interrupted")
                        unfinished.done = True
                self._leading = False
                self._turn.notify_all()
        return self._outcome(pending)

    @staticmethod
    def _outcome(pending: _PendingWrite[T]) -> T:
        if pending.error is not None:
            raise pending.error
        result: T = pending.result
        return result

    def _commit_group(self, group: list[_PendingWrite[Any]]) -> None:
        """Commit ``group`` in one transaction; on failure, each write in its own."""
        try:
            if len(group) > 1:
                results = []
                with _transaction(self.sessions) as session:
                    for pending in group:
                        results.append(pending.write(session))
                self._finish(group, results, commits=1)
                return
        except Exception:  # each write is run again alone below, and gets its own error
            pass
        for pending in group:
            try:
                with _transaction(self.sessions) as session:
                    result = pending.write(session)
            except BaseException as error:  # handed to the request that submitted it
                pending.error = error
                self._finish([pending], [None], commits=0)
            else:
                self._finish([pending], [result], commits=1)

    def _finish(self, group: list[_PendingWrite[Any]], results: list[Any], *, commits: int) -> None:
        with self._turn:
            for pending, result in zip(group, results, strict=True):
                pending.result = result
                pending.done = True
            self.commits += commits
            self.writes += len(group) if commits else 0
            self._turn.notify_all()


# Open store (by identity) -> its writer; an entry goes when its store is collected. The
# writer holds the store's session factory, not the store, so it does not keep it alive.
_WRITERS: dict[int, GroupCommit] = {}
_WRITERS_LOCK = threading.Lock()


def group_commit(store: Store) -> GroupCommit:
    """The group-commit writer of ``store``: one per open store, made on first use.

    Kept beside the store rather than in it so that every writer of the store (the score
    route, the consultation log) shares one, whoever opened the store; it goes when the
    store does.
    """
    with _WRITERS_LOCK:
        writer = _WRITERS.get(id(store))
        if writer is None or writer.sessions is not store.sessions:
            writer = _WRITERS[id(store)] = GroupCommit(store.sessions)
            weakref.finalize(store, _WRITERS.pop, id(store), None)
        return writer
