"""The scoring queue: requests that wait together are scored as one batch, each gets its rows.

`ScoringQueue` is what the score route awaits; `CanonicalScores` carry the declarations as
they were scored, so whoever keeps the scores keeps exactly those; `validated_declarations` is
the frame path for what the record fast path declines.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd

from features.extras import validated_for_model
from features.records import CanonicalRecords
from models.bundle import ScoredDeclaration
from serving.base import LoadedModel
from serving.scoring.lanes import with_office_lanes
from serving.scoring.live import read_batch, watchlist_reasons, with_watchlist_reasons
from serving.scoring.profiles import profile_decisions, with_profiles
from serving.store.database import Store
from serving.store.offices import live_versions

# Batches smaller than this are scored on one LightGBM thread: waking OpenMP threads for a
# few rows costs more than it saves (with 2 threads, 4-row batches took 25% more CPU and the
# service answered 20% fewer requests per second).
PARALLEL_ROWS = 256
# How many recent batches tell the queue how many clients send concurrently.
RECENT_BATCHES = 16
# Waiting for company pays only while the process is busy: a batch's fixed cost saved then
# shortens the queue behind it, while on a worker with time to spare the wait only delays the
# answer (at 40 requests/s a 20 ms wait tripled the median latency, 12 -> 36 ms). Busy: the
# process used at least this share of one core over the last BUSY_WINDOW_SECONDS.
BUSY_CPU_SHARE = 0.5
BUSY_WINDOW_SECONDS = 0.25


class CanonicalScores(list[ScoredDeclaration]):
    """A request's scores, row for row with the canonical declarations they were scored from.

    Returned by `ScoringQueue.score`, so that whoever keeps the scores
    (`serving.inspections.service.store_scores`) keeps the declarations exactly as they were scored.
    """

    def __init__(
        self,
        scores: list[ScoredDeclaration],
        declarations: CanonicalRecords,
        scored_at: datetime | None = None,
    ) -> None:
        if len(scores) != len(declarations):
            raise ValueError(f"{len(declarations)} declarations but {len(scores)} scores")
        super().__init__(scores)
        self.declarations = declarations
        # when the batch read its live inputs from the store: the scores' "as of"
        self.scored_at = scored_at or datetime.now(UTC)


def validated_declarations(
    raw: Callable[[], pd.DataFrame],
    *,
    source: str = "request",
    extra_features: tuple[tuple[str, ...], tuple[str, ...]] = ((), ()),
) -> CanonicalRecords:
    """A request's declarations validated as a frame by `validate_declarations`.

    For what `features.records.canonical_records` declines: unusual values, extra ``x_``
    features (kept as columns), invalid declarations, and every request to a model trained
    with extra features: those the model reads (``extra_features``, the bundle's
    ``(categorical, numeric)``) are typed as training read them, and one left out is a
    missing value (`features.extras`). ``raw`` builds the raw frame.

    Raises:
        DataValidationError: the declarations do not validate (the message says why).
    """
    return CanonicalRecords.from_frame(validated_for_model(raw(), extra_features, source=source))


class ProcessLoad:
    """Whether this process has been busy lately: the CPU time of all its threads over the
    last `BUSY_WINDOW_SECONDS` of wall time, read when asked (one clock read each)."""

    def __init__(self) -> None:
        self._marks: deque[tuple[float, float]] = deque()  # (wall, process CPU) seconds

    def busy(self) -> bool:
        now, used = time.monotonic(), time.process_time()
        marks = self._marks
        marks.append((now, used))
        while len(marks) > 2 and now - marks[1][0] >= BUSY_WINDOW_SECONDS:
            marks.popleft()
        then, used_then = marks[0]
        return now > then and (used - used_then) / (now - then) >= BUSY_CPU_SHARE


@dataclass
class _ScoringJob:
    """One request's canonical declarations waiting to be scored with the model it took."""

    model: LoadedModel
    declarations: CanonicalRecords
    top_k: int
    done: threading.Event = field(default_factory=threading.Event)
    result: list[ScoredDeclaration] | None = None
    error: BaseException | None = None
    # Called by the worker once the job is done (an event loop's wake-up), besides `done`.
    notify: Callable[[], None] | None = None

    def finish(self) -> None:
        self.done.set()
        if self.notify is not None:
            self.notify()


class ScoringQueue:
    """Scores the requests that arrive while a batch is being scored together, in one call.

    Scoring has a fixed cost per call (one LightGBM call per threat, for the values and for
    the SHAP contributions, and the feature code's array operations), so four concurrent
    single-declaration requests scored as one four-row batch cost little more than one. One
    worker thread takes every job waiting (up to `max_rows` declarations), scores them as one
    batch, and hands each request its rows. A batch is whatever queued while the previous one
    ran; when that is fewer requests than the largest of the recent batches had and the
    process is busy (``busy``, by default `ProcessLoad`), the worker waits up to
    `max_wait_seconds` for the rest: clients answered by the previous batch are a few
    milliseconds from their next request. A lone client never waits, once the last
    `RECENT_BATCHES` batches held one request each, and nobody waits on a process with time
    to spare.

    Each request still gets exactly its own answer: rows do not influence each other's
    features, and reasons are computed for the largest ``top_k`` then cut to each request's.
    Requests arrive canonical (`canonical_declarations`), so a batch never fails because of
    another request's declarations.
    """

    def __init__(
        self,
        *,
        num_threads: int,
        max_rows: int,
        max_wait_seconds: float = 0.0,
        busy: Callable[[], bool] | None = None,
    ) -> None:
        self.num_threads = num_threads
        self.max_rows = max_rows
        self.max_wait_seconds = max_wait_seconds
        self._busy = busy or ProcessLoad().busy
        # the operational store the batches read their live inputs from (set by the
        # lifespan once the store is open; None: an empty store, nothing known or listed)
        self.store: Store | None = None
        self._jobs: queue.SimpleQueue[_ScoringJob | None] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None

    def start(self) -> None:
        """Start the worker thread (the app's lifespan does this)."""
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, name="shiprisk-scoring", daemon=True)
            self._worker.start()

    def stop(self) -> None:
        """Finish the queued jobs, then stop the worker."""
        if self._worker is not None:
            self._jobs.put(None)
            self._worker.join()
            self._worker = None

    def score(
        self, model: LoadedModel, declarations: CanonicalRecords, top_k: int
    ) -> CanonicalScores:
        """Score one request's canonical declarations with ``model``."""
        job = _ScoringJob(model, declarations, top_k)
        if self._worker is None:  # not started (no lifespan): score in the caller's thread
            self._score_together([job])
        else:
            self._jobs.put(job)
            job.done.wait()
        return self._outcome(job)

    async def score_async(
        self, model: LoadedModel, declarations: CanonicalRecords, top_k: int
    ) -> CanonicalScores:
        """`score` for a coroutine: waits on the event loop, not in a worker thread.

        The route awaits its batch without holding a thread: the worker wakes the loop
        when the batch is scored.
        """
        if self._worker is None:
            return self.score(model, declarations, top_k)
        loop = asyncio.get_running_loop()
        finished = loop.create_future()

        def wake() -> None:
            loop.call_soon_threadsafe(_resolve, finished)

        job = _ScoringJob(model, declarations, top_k, notify=wake)
        self._jobs.put(job)
        await finished
        return self._outcome(job)

    @staticmethod
    def _outcome(job: _ScoringJob) -> CanonicalScores:
        if job.error is not None:
            raise job.error
        assert isinstance(job.result, CanonicalScores)
        return job.result

    def _work(self) -> None:
        stopping = False
        # Requests per recent batch: the largest is how many clients send concurrently.
        recent: deque[int] = deque([1], maxlen=RECENT_BATCHES)
        while not stopping:
            first = self._jobs.get()
            if first is None:
                return
            batch, rows = [first], len(first.declarations)
            gather = max(recent) > 1 and self.max_wait_seconds > 0 and self._busy()
            deadline = time.monotonic() + self.max_wait_seconds
            while rows < self.max_rows:
                # Wait only for as many requests as the largest recent batch had: concurrent
                # clients are gathered into one batch again (the last batch's size alone let
                # four clients settle into pairs), and a client alone long enough never waits.
                wait = deadline - time.monotonic() if gather and len(batch) < max(recent) else 0.0
                try:
                    job = self._jobs.get(timeout=wait) if wait > 0 else self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                batch.append(job)
                rows += len(job.declarations)
            recent.append(len(batch))
            # A reload may land between two requests of one batch, and requests may carry
            # different extra feature columns: each group is scored on its own.
            groups: dict[tuple[int, tuple[str, ...]], list[_ScoringJob]] = {}
            for job in batch:
                groups.setdefault((id(job.model), job.declarations.extras), []).append(job)
            for jobs in groups.values():
                self._score_together(jobs)

    def _score_together(self, jobs: list[_ScoringJob]) -> None:
        """Score the jobs as one batch; every job ends with its result or the error."""
        top_k = max(job.top_k for job in jobs)
        try:
            declarations = CanonicalRecords.concat([job.declarations for job in jobs])
            bundle = jobs[0].model.bundle
            live = (
                None
                if self.store is None
                else read_batch(self.store, declarations, list(bundle.builder.threats))
            )
            scored = bundle.score(
                declarations,
                top_k=top_k,
                explain=top_k > 0,
                live=None if live is None else live.live,
                num_threads=self.num_threads if len(declarations) >= PARALLEL_ROWS else 1,
            )
            # the office's own thresholds (a capacity set since training), before profiles;
            # whether they or the profiles changed: one query for both
            versions = None if self.store is None else live_versions(self.store)
            model = jobs[0].model
            scored = with_office_lanes(
                self.store,
                declarations,
                scored,
                (model.name, model.version),
                version=None if versions is None else versions.offices,
            )
            listed = (
                watchlist_reasons(live, len(declarations))
                if live is not None
                else [[] for _ in scored]
            )
            decisions = profile_decisions(
                self.store,
                declarations,
                live,
                version=None if versions is None else versions.profiles,
            )
            scored_at = None if live is None else live.scored_at
            start = 0
            for job in jobs:
                stop = start + len(job.declarations)
                rows = scored[start:stop]
                hits = listed[start:stop]
                # profile and watchlist hits always show, before the model's top reasons
                rows = with_watchlist_reasons(rows, hits, job.top_k)
                if decisions is not None:
                    rows = with_profiles(rows, decisions.part(start, stop))
                start = stop
                job.result = CanonicalScores(rows, job.declarations, scored_at)
        except BaseException as error:  # handed to each request's thread, raised there
            for job in jobs:
                if job.result is None:
                    job.error = error
        finally:
            for job in jobs:
                job.finish()


def _resolve(finished: asyncio.Future[None]) -> None:
    if not finished.done():  # the request may have been cancelled (client gone)
        finished.set_result(None)
