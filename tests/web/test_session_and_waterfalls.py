"""The session cookie refuses tampering; the declaration page's waterfalls end at the margin."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from models.bundle import ModelBundle
from serving.access.sessions import new_session
from serving.web.explanations import declaration_frame, threat_waterfalls
from serving.web.session import SessionCodec, session_secret
from tests.serving.conftest import TrainedModel, json_payload

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
SESSION, SECRET = new_session(name="Ana Officer", role="officer", now=NOW)


def test_a_signed_reference_reads_back_and_a_changed_one_does_not() -> None:
    codec = SessionCodec(session_secret(b"pepper"))
    value = codec.reference(SESSION.session_id, SECRET)
    assert codec.loads(value) == (SESSION.session_id, SECRET)
    assert SECRET not in SESSION.csrf and "officer" not in value  # no role, no key inside
    tampered = value[:-2] + ("AA" if value[-2:] != "AA" else "BB")
    assert codec.loads(tampered) is None
    assert SessionCodec(session_secret(b"other pepper")).loads(value) is None
    assert codec.loads("") is None and codec.loads(None) is None


def test_an_old_cookie_is_refused() -> None:
    codec = SessionCodec(session_secret(b"pepper"), max_age_seconds=1)
    value = codec.reference(SESSION.session_id, SECRET)
    time.sleep(2.1)  # itsdangerous counts whole seconds
    assert codec.loads(value) is None


def test_the_form_token_must_match() -> None:
    assert SESSION.form_token_matches(SESSION.csrf)
    assert not SESSION.form_token_matches(SESSION.csrf + "x")
    assert not SESSION.form_token_matches(None)


def test_the_cookie_secret_is_derived_not_the_pepper() -> None:
    assert session_secret(b"pepper") != b"pepper"
    assert session_secret(b"pepper") == session_secret(b"pepper")
    assert session_secret(b"pepper") != session_secret(b"pepper2")


@pytest.mark.slow
def test_each_threat_waterfall_ends_at_the_models_raw_margin(trained: TrainedModel) -> None:
    bundle = ModelBundle.load(trained.bundle_dir)
    declarations = pd.read_parquet(trained.declarations_path).head(5)
    for stored in json_payload(declarations):  # as the store returns them: JSON values
        charts = threat_waterfalls(bundle, stored, max_bars=4)
        margins = bundle.margins(declaration_frame(stored))
        assert set(charts) == set(bundle.threats)
        for threat, chart in charts.items():
            assert len(chart.bars) <= 5
            assert chart.margin == pytest.approx(float(margins[threat][0]), abs=1e-9)
            assert np.isclose(chart.bars[0].start, chart.base_value)
