"""The model holder: a reload swaps only a completely loaded model, and a failure keeps the old one."""

from __future__ import annotations

from typing import Any, cast

import pytest

from models.bundle import ModelBundle
from serving.model.holder import ModelHolder, ModelLoadError


class ScriptedLoader:
    """Returns the scripted (bundle, name, version) answers in turn; an exception is raised."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.uris: list[str] = []

    def __call__(self, model_uri: str) -> tuple[ModelBundle, str, str]:
        self.uris.append(model_uri)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return cast(tuple[ModelBundle, str, str], answer)


# Stand-ins for bundles: the holder never looks inside one.
FIRST, SECOND = cast(ModelBundle, object()), cast(ModelBundle, object())


def test_load_makes_the_model_current_and_returns_the_previous_one() -> None:
    loader = ScriptedLoader((FIRST, "shiprisk", "1"), (SECOND, "shiprisk", "2"))
    holder = ModelHolder("models:/shiprisk@champion", loader)
    assert holder.current is None
    assert holder.last_error == "no model loaded yet"

    first, previous = holder.load()
    assert (first.bundle, first.label, previous) == (FIRST, "shiprisk/1", None)
    second, previous = holder.load()
    assert (second.bundle, second.label) == (SECOND, "shiprisk/2")
    assert previous is first
    assert holder.current is second
    assert holder.last_error is None
    assert loader.uris == ["models:/shiprisk@champion"] * 2


def test_a_failed_load_keeps_the_current_model_and_records_why() -> None:
    failures: list[str] = []
    loader = ScriptedLoader((FIRST, "shiprisk", "1"), ConnectionError("registry unreachable"))
    holder = ModelHolder("models:/shiprisk@champion", loader, on_failure=failures.append)
    first, _ = holder.load()

    with pytest.raises(ModelLoadError) as error:
        holder.load()

    reason = "could not load models:/shiprisk@champion: ConnectionError: registry unreachable"
    assert str(error.value) == reason
    assert holder.current is first
    assert holder.last_error == reason
    assert failures == [reason]
