"""The scoring queue: requests that wait together are scored in one call, each gets its own rows."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from features.records import CanonicalRecords
from models.bundle import ModelBundle, ScoredDeclaration
from models.explain import Reason
from serving.base import LoadedModel
from serving.scoring import queue as scoring_queue
from serving.scoring.queue import ProcessLoad, ScoringQueue, validated_declarations
from serving.scoring.schemas import Declaration, declarations_frame
from tests.serving.test_schemas import MINIMAL


class RecordingBundle:
    """Scores each row with its position in the call; the first call waits until released."""

    threats = ("revenue",)

    def __init__(self, *, fail_on: str | None = None) -> None:
        self.calls: list[tuple[list[str], int]] = []
        self.started = threading.Event()
        self.release = threading.Event()
        self.fail_on = fail_on  # a declaration id whose batch raises

    def score(
        self,
        declarations: CanonicalRecords,
        *,
        top_k: int,
        explain: bool,
        num_threads: int,
        live: object = None,
    ) -> list[ScoredDeclaration]:
        if not self.calls:
            self.started.set()
            self.release.wait(timeout=30)
        ids = [str(i) for i in declarations.columns.strings("declaration_id").tolist()]
        assert [row["declaration_id"] for row in declarations.rows] == ids
        self.calls.append((ids, top_k))
        if self.fail_on in ids:
            raise RuntimeError("scoring failed")
        return [
            ScoredDeclaration(
                declaration_id=declaration_id,
                risk={"revenue": 0.5},
                overall=0.5,
                lane="green",
                reasons=[Reason("revenue", f"f{k}", 1.0, 1.0 / (k + 1), "t") for k in range(top_k)],
            )
            for declaration_id in ids
        ]


def declarations(*ids: str, **changes: Any) -> list[Declaration]:
    return [Declaration.model_validate({**MINIMAL, **changes, "declaration_id": i}) for i in ids]


def raw(*ids: str, **changes: Any) -> CanonicalRecords:
    """A request's declarations made canonical, as the score route makes them."""
    payload = declarations(*ids, **changes)
    return validated_declarations(lambda: declarations_frame(payload))


def loaded(bundle: RecordingBundle) -> LoadedModel:
    return LoadedModel(cast(ModelBundle, bundle), "shiprisk", "1", "models:/x", datetime.now(UTC))


def submit_while_busy(
    scoring: ScoringQueue, bundle: RecordingBundle, requests: list[tuple[CanonicalRecords, int]]
) -> list[Any]:
    """Submit the first request, then the rest while the first is being scored."""
    model = loaded(bundle)
    answers: list[Any] = [None] * len(requests)

    def send(k: int) -> None:
        try:
            answers[k] = scoring.score(model, *requests[k])
        except RuntimeError as error:
            answers[k] = error

    first = threading.Thread(target=send, args=(0,))
    first.start()
    assert bundle.started.wait(timeout=30)  # the worker is scoring the first request
    others = [threading.Thread(target=send, args=(k,)) for k in range(1, len(requests))]
    for thread in others:
        thread.start()
    while scoring._jobs.qsize() < len(others):
        time.sleep(0.01)
    bundle.release.set()
    for thread in [first, *others]:
        thread.join(timeout=30)
    return answers


@pytest.fixture
def scoring() -> Any:
    queue = ScoringQueue(num_threads=1, max_rows=1000)
    queue.start()
    yield queue
    queue.stop()


def test_waiting_requests_are_scored_together_and_get_their_own_rows(
    scoring: ScoringQueue,
) -> None:
    bundle = RecordingBundle()
    answers = submit_while_busy(
        scoring, bundle, [(raw("A"), 2), (raw("B1", "B2"), 1), (raw("C"), 3), (raw("D"), 0)]
    )
    assert bundle.calls == [(["A"], 2), (["B1", "B2", "C", "D"], 3)]
    assert [[s.declaration_id for s in answer] for answer in answers] == [
        ["A"],
        ["B1", "B2"],
        ["C"],
        ["D"],
    ]
    assert [[len(s.reasons) for s in answer] for answer in answers] == [[2], [1, 1], [3], [0]]


def test_a_failed_batch_fails_each_of_its_requests_and_the_next_batch_scores(
    scoring: ScoringQueue,
) -> None:
    bundle = RecordingBundle(fail_on="C")
    answers = submit_while_busy(
        scoring, bundle, [(raw("A"), 1), (raw("B"), 1), (raw("C"), 1), (raw("D"), 1)]
    )
    assert bundle.calls == [(["A"], 1), (["B", "C", "D"], 1)]
    assert [answer[0].declaration_id for answer in answers[:1]] == ["A"]
    assert [str(answer) for answer in answers[1:]] == ["scoring failed"] * 3
    after = scoring.score(loaded(bundle), raw("E"), 1)
    assert [s.declaration_id for s in after] == ["E"]


def test_requests_with_different_extra_features_are_scored_apart(scoring: ScoringQueue) -> None:
    bundle = RecordingBundle()
    answers = submit_while_busy(
        scoring,
        bundle,
        [(raw("A"), 1), (raw("B"), 1), (raw("C", x_fleet_size=3), 1), (raw("D"), 1)],
    )
    assert bundle.calls == [(["A"], 1), (["B", "D"], 1), (["C"], 1)]
    assert [answer[0].declaration_id for answer in answers] == ["A", "B", "C", "D"]
    assert [answer.declarations.extras for answer in answers] == [(), (), ("x_fleet_size",), ()]


def test_without_a_worker_requests_are_scored_in_the_caller_thread() -> None:
    bundle = RecordingBundle()
    bundle.release.set()
    scoring = ScoringQueue(num_threads=1, max_rows=1000)
    answer = scoring.score(loaded(bundle), raw("A", "B"), 1)
    assert [s.declaration_id for s in answer] == ["A", "B"]
    assert bundle.calls == [(["A", "B"], 1)]


def test_a_lone_client_never_waits_for_company() -> None:
    bundle = RecordingBundle()
    bundle.release.set()
    scoring = ScoringQueue(num_threads=1, max_rows=1000, max_wait_seconds=30)
    scoring.start()
    try:
        started = time.perf_counter()
        for name in ("A", "B", "C"):
            assert [s.declaration_id for s in scoring.score(loaded(bundle), raw(name), 0)] == [name]
        assert time.perf_counter() - started < 10
    finally:
        scoring.stop()
    assert bundle.calls == [(["A"], 0), (["B"], 0), (["C"], 0)]


def _answered_alone_after_a_batch_of_three(scoring: ScoringQueue) -> tuple[RecordingBundle, float]:
    """A batch of three requests, then one request alone: the seconds its answer took."""
    bundle = RecordingBundle()
    submit_while_busy(scoring, bundle, [(raw("A"), 0), (raw("B"), 0), (raw("C"), 0)])
    started = time.perf_counter()
    assert [s.declaration_id for s in scoring.score(loaded(bundle), raw("D"), 0)] == ["D"]
    return bundle, time.perf_counter() - started


def test_a_process_with_time_to_spare_does_not_wait_for_company() -> None:
    scoring = ScoringQueue(num_threads=1, max_rows=1000, max_wait_seconds=30, busy=lambda: False)
    scoring.start()
    try:
        bundle, seconds = _answered_alone_after_a_batch_of_three(scoring)
    finally:
        scoring.stop()
    assert bundle.calls == [(["A"], 0), (["B", "C"], 0), (["D"], 0)]
    assert seconds < 10  # not the 30 s a busy process may wait for two more


def test_a_busy_process_waits_for_as_many_requests_as_its_recent_batches() -> None:
    scoring = ScoringQueue(num_threads=1, max_rows=1000, max_wait_seconds=30, busy=lambda: True)
    scoring.start()
    try:
        bundle = RecordingBundle()
        submit_while_busy(scoring, bundle, [(raw("A"), 0), (raw("B"), 0), (raw("C"), 0)])
        model = loaded(bundle)
        answers: dict[str, Any] = {}

        def send(name: str) -> None:
            answers[name] = scoring.score(model, raw(name), 0)

        first = threading.Thread(target=send, args=("D",))
        first.start()
        time.sleep(0.2)  # the worker holds D, waiting for a second request like B and C
        second = threading.Thread(target=send, args=("E",))
        second.start()
        for thread in (first, second):
            thread.join(timeout=60)
    finally:
        scoring.stop()
    assert bundle.calls[-1] == (["D", "E"], 0)
    assert [answers[name][0].declaration_id for name in ("D", "E")] == ["D", "E"]


def test_process_load_is_busy_when_the_process_used_half_a_core_lately(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = {"wall": 100.0, "cpu": 10.0}
    monkeypatch.setattr(scoring_queue.time, "monotonic", lambda: clock["wall"])
    monkeypatch.setattr(scoring_queue.time, "process_time", lambda: clock["cpu"])
    load = ProcessLoad()

    def after(wall: float, cpu: float) -> bool:
        clock["wall"] += wall
        clock["cpu"] += cpu
        return load.busy()

    assert not load.busy()  # nothing to compare with yet
    assert not after(0.1, 0.02)  # a fifth of a core
    assert after(0.1, 0.08)  # 0.1 s of CPU over 0.2 s: half a core
    assert after(0.2, 0.2)  # a whole core for the last 0.2 s
    # an idle second: the marks older than the window go, so the busy past is forgotten
    assert not after(1.0, 0.0)
    assert not after(0.1, 0.01)
