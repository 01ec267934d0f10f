"""The bundle with the real FeatureBuilder and reason texts: what serving will actually load.

The other model tests use a stand-in builder so they test the bundle alone; this one checks
that the real feature state travels through save/load (default loader, no stand-in) and that
explanations and reasons hold on the real feature matrix.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from features.builder import FeatureBuilder
from features.descriptions import reason_text
from features.schema import label_column
from models.bundle import ModelBundle
from models.calibration import Calibrator
from models.lanes import LanePolicy
from tests.features.builder_frames import generated_frames


@pytest.fixture(scope="module")
def real_bundle(tmp_path_factory: pytest.TempPathFactory):
    declarations, labels, watchlist = generated_frames(300, seed=5)
    builder = FeatureBuilder().fit(declarations, labels)
    matrix = builder.transform_point_in_time(declarations, labels, watchlist)
    features = list(builder.feature_names_)
    boosters, calibrators = {}, {}
    rng = np.random.default_rng(5)
    for threat in builder.threats:
        # Labels from the features so the trees split; uninspected rows count as negatives
        # here only because this is a test of the bundle, not of training.
        y = labels[label_column(threat)].fillna(0).to_numpy()
        y = np.maximum(y, (rng.random(len(y)) < 0.2).astype(float))
        data = lgb.Dataset(
            matrix[features], y, categorical_feature=list(builder.categorical_features_)
        )
        params = {"objective": "binary", "num_threads": 1, "num_leaves": 5, "verbose": -1}
        boosters[threat] = lgb.train(params, data, num_boost_round=5)
        margin = boosters[threat].predict(matrix[features].to_numpy(), raw_score=True)
        calibrators[threat] = Calibrator().fit(margin, y)
    bundle = ModelBundle(builder, boosters, calibrators, LanePolicy(), features, {"name": "t"})
    bundle.lanes.fit(np.linspace(0, 1, 300), declarations["office_id"])
    directory = tmp_path_factory.mktemp("real") / "bundle"
    bundle.save(directory)
    with_itinerary = declarations[declarations["itinerary"].notna()]
    return bundle, directory, with_itinerary.head(60)


def test_real_feature_state_survives_save_and_load(real_bundle) -> None:
    bundle, directory, declarations = real_bundle
    loaded = ModelBundle.load(directory)
    assert isinstance(loaded.builder, FeatureBuilder)
    assert sorted(p.name for p in (directory / "features").iterdir()) == sorted(
        name.split("/")[1] for name in loaded.manifest.files if name.startswith("features/")
    )
    pd.testing.assert_frame_equal(loaded.risk_frame(declarations), bundle.risk_frame(declarations))
    assert loaded.score(declarations) == bundle.score(declarations)


def test_shap_adds_up_and_reasons_read_as_sentences(real_bundle) -> None:
    bundle, _, declarations = real_bundle
    explanations = bundle.explain(declarations)
    margins = bundle.margins(declarations)
    for threat, explanation in explanations.items():
        np.testing.assert_allclose(explanation.margin(), margins[threat], rtol=0, atol=1e-9)
    scored = bundle.score(declarations.head(3), top_k=3)
    rows = declarations.head(3).to_dict(orient="records")
    reasons = [
        (reason, row) for result, row in zip(scored, rows, strict=True) for reason in result.reasons
    ]
    assert reasons, "the tiny boosters should raise some risk"
    for reason, row in reasons:
        assert reason.fields == bundle.builder.feature_fields_[reason.feature]
        # The default reason text is features.descriptions', read on the declaration's own row.
        assert reason.text == reason_text(reason.feature, reason.value, row)
    single = [bundle.score(declarations.iloc[[i]], top_k=3)[0] for i in range(3)]
    assert single == scored
