"""Issue 14: what the field is sure of holds by construction, and SHAP agrees with the reasons.

One bundle is trained on the session's synthetic data. Declarations of its test window are
perturbed the way the field reasons (a lower declared value, a watchlist hit, an earlier
positive outcome of the same importer) and the calibrated risk must never move the other
way; LightGBM's monotone constraints guarantee it, these tests check it on the bundle as
served. The model is compared with the baselines on every declaration of the test window
against the hidden truth, and `shap.TreeExplainer` with the reasons every score carries.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.columns import DeclarationColumns
from features.dataset import load_dataset
from features.live import live_point_in_time
from features.schema import label_column
from features.validation import validate_watchlist
from models.bundle import ModelBundle
from training.config import load_config
from training.fit import LOWER_VALUE_FEATURES, FitSettings
from training.intervals import Bootstrap, paired_precision_difference
from training.pipeline import fit_run
from training.splits import split_positions, windows_from_config

from ..conftest import write_config

pytestmark = pytest.mark.slow
TARGETS = 300
# ceil(0 + tiny): risks are compared to the last bit, less floating-point noise.
EPSILON = 1e-12


@pytest.fixture(scope="module")
def fitted(synthetic_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    path = write_config(tmp_path_factory.mktemp("behaviour") / "train.yaml", synthetic_dir)
    config = load_config(path)
    dataset = load_dataset(config.source)
    run = fit_run(config, dataset, FitSettings.from_config(config.model))
    test = split_positions(dataset.declarations, dataset.labels, windows_from_config(config.split))[
        "test"
    ]
    return run, dataset, test


@pytest.fixture(scope="module")
def targets(fitted) -> pd.DataFrame:
    _, dataset, test = fitted
    return dataset.declarations.iloc[test[:TARGETS]].reset_index(drop=True)


def risks(bundle: ModelBundle, declarations: pd.DataFrame) -> pd.DataFrame:
    return bundle.risk_frame(declarations).filter(like="risk_")


def test_boosters_carry_the_constraints(fitted) -> None:
    run, _, _ = fitted
    for threat, booster in run.bundle.boosters.items():
        text = booster.model_to_string()
        line = next(x for x in text.splitlines() if x.startswith("[monotone_constraints:"))
        directions = dict(
            zip(
                booster.feature_name(),
                map(int, line.split(":")[1].strip(" ]").split(",")),
                strict=True,
            )
        )
        assert all(directions[f] == 1 for f in directions if f.startswith("watchlist_")), threat
        if f"importer_hits_{threat}" in directions:
            assert directions[f"importer_hits_{threat}"] == 1
        if threat == "revenue":
            assert {directions[f] for f in LOWER_VALUE_FEATURES if f in directions} == {-1}


@pytest.mark.parametrize("factor", [0.5, 0.1])
def test_a_lower_declared_value_never_lowers_revenue_risk(fitted, targets, factor: float) -> None:
    run, _, _ = fitted
    cheaper = targets.assign(customs_value_eur=targets["customs_value_eur"] * factor)
    before, after = risks(run.bundle, targets), risks(run.bundle, cheaper)
    assert (after["risk_revenue"] >= before["risk_revenue"] - EPSILON).all()
    assert (after["risk_revenue"] > before["risk_revenue"]).any()  # the perturbation is felt


def unlabelled(declarations: pd.DataFrame, threats: list[str]) -> pd.DataFrame:
    """Labels of declarations nobody inspected (yet)."""
    return pd.DataFrame(
        {
            "inspected": False,
            "known_at": pd.Series(pd.NaT, index=declarations.index, dtype="datetime64[ns, UTC]"),
            **{label_column(t): np.nan for t in threats},
        },
        index=declarations.index,
    )


def test_a_watchlist_hit_never_lowers_any_risk(fitted, targets) -> None:
    run, _, _ = fitted
    threats = list(run.bundle.threats)
    entries = validate_watchlist(
        pd.DataFrame(
            [
                {
                    "entity_type": "importer_id",
                    "entity_id": importer,
                    "threat": threat,
                    "valid_from": "2000-01-01",
                }
                for importer in targets["importer_id"].unique()
                for threat in threats
            ]
        )
    )
    columns, labels = DeclarationColumns(targets), unlabelled(targets, threats)
    without = live_point_in_time(columns, labels, threats)
    with_hits = live_point_in_time(columns, labels, threats, entries)
    before = run.bundle.risk_frame(targets, live=without).filter(like="risk_")
    after = run.bundle.risk_frame(targets, live=with_hits).filter(like="risk_")
    assert (after.to_numpy() >= before.to_numpy() - EPSILON).all()
    assert (after.to_numpy() > before.to_numpy()).any()


def _earlier_of_same_importer(targets: pd.DataFrame) -> pd.DataFrame:
    """One earlier declaration per target sharing only the importer (no other entity)."""
    earlier = targets.copy()
    fresh = [f"BEHAVIOUR-{i}" for i in range(len(targets))]
    for column in ("declaration_id", "exporter_id", "declarant_id", "carrier_id", "vehicle_id"):
        earlier[column] = [f"{value}-{column}" for value in fresh]
    earlier["office_id"] = "BEHAVIOUR-OFFICE"
    earlier["origin_country"] = earlier["dispatch_country"] = "ZZ"
    earlier["hs_code"] = "999999"
    earlier["itinerary"] = None
    earlier["lodged_at"] = targets["lodged_at"].min() - pd.Timedelta(days=30)
    return earlier.reset_index(drop=True)


@pytest.mark.parametrize("threat", ["weapons", "migrants", "revenue"])
def test_an_earlier_positive_of_the_importer_never_lowers_that_risk(
    fitted, targets, threat: str
) -> None:
    run, _, _ = fitted
    threats = list(run.bundle.threats)
    earlier = _earlier_of_same_importer(targets)
    both = pd.concat([earlier, targets], ignore_index=True)
    known_at = earlier["lodged_at"].max() + pd.Timedelta(days=1)  # before every target
    mine = np.arange(len(earlier), len(both))

    def risks_with(positive: float) -> pd.DataFrame:
        labels = unlabelled(both, threats)
        labels.loc[: len(earlier) - 1, "inspected"] = True
        labels.loc[: len(earlier) - 1, "known_at"] = known_at
        for t in threats:
            labels.loc[: len(earlier) - 1, label_column(t)] = positive if t == threat else 0.0
        live = live_point_in_time(DeclarationColumns(both), labels, threats).take(mine)
        return run.bundle.risk_frame(targets, live=live).filter(like="risk_")

    clean, positive = risks_with(0.0), risks_with(1.0)
    column = f"risk_{threat}"
    assert (positive[column] >= clean[column] - EPSILON).all()
    booster = run.bundle.boosters[threat]
    splits = dict(zip(booster.feature_name(), booster.feature_importance("split"), strict=True))
    if splits.get(f"importer_hits_{threat}", 0) + splits.get(f"importer_hit_rate_{threat}", 0):
        assert (positive[column] > clean[column]).any()  # the perturbation is felt
    else:  # the booster does not split on the importer's history of this threat
        np.testing.assert_array_equal(positive[column], clean[column])


# What the suite's data size can show (4,738 test declarations holding 17 weapons, 19 migrants
# and 99 revenue cases; 14 weapons and 11 migrants labelled positives to train on). Measured in
# bench/RESULTS.md, "The model against logistic regression and rules, per threat and data size"
# (`python -m bench baselines`, this data and model configuration): revenue beats both
# baselines beyond the interval of the difference (+0.094 [0.043, 0.150] and +0.195 [0.138,
# 0.281]) and migrants beats the rules (+0.070 [0.022, 0.132]); weapons against both and
# migrants against the regression are inside the interval. These claims hold on data seeds 12
# and 13 too (on 13 migrants has too few training positives to be trained). With eight times
# the declarations per day (70-87 weapons and migrants training positives) migrants and revenue
# beat both baselines beyond the interval on both seeds measured, and weapons beats the rules;
# weapons against the regression is beyond on seed 11 (+0.008 [0.001, 0.016]) and level on
# seed 12 (-0.002 [-0.008, 0.005]). A training run of that size is beyond the suite's budget.
BEYOND = {"revenue": ("logistic_regression", "rules"), "migrants": ("rules",)}
BASELINES = ("logistic_regression", "rules")


def test_the_model_beats_the_baselines_beyond_the_interval(fitted, synthetic_dir: Path) -> None:
    """Against the hidden truth on every test declaration, paired bootstrap over rates.

    Where the suite's size shows it (``BEYOND``) the model's mean precision exceeds the
    baseline's by more than the 95% interval of the difference; everywhere else no baseline
    is better than the model beyond that interval. `python -m bench baselines` measures the
    rest at up to eight times this size.
    """
    run, dataset, test = fitted
    truth = pd.read_parquet(synthetic_dir / "truth.parquet")
    truth = truth.set_index("declaration_id").loc[dataset.declarations["declaration_id"].iloc[test]]
    rankings = run.test_rankings
    rates = [0.01, 0.02, 0.05, 0.1]
    assert set(rankings["shiprisk"]) == {"weapons", "migrants", "revenue"}
    for threat in rankings["shiprisk"]:
        y = truth[threat].to_numpy(dtype=float)
        for baseline in BASELINES:
            compared = paired_precision_difference(
                y, rankings["shiprisk"][threat], rankings[baseline][threat], rates, Bootstrap()
            )
            lowest, highest = compared["interval"]
            assert highest > 0, ("the baseline is better beyond the interval", threat, compared)
            if baseline in BEYOND.get(threat, ()):
                assert lowest > 0, ("not beyond the interval", threat, baseline, compared)


def test_tree_explainer_gives_the_bundles_reasons_to_1e9(fitted, targets) -> None:
    import shap

    run, _, _ = fitted
    bundle = run.bundle
    explained = bundle.explain(targets)
    matrix = bundle.matrix(targets)
    for threat, booster in bundle.boosters.items():
        columns = [bundle.features.index(f) for f in booster.feature_name()]
        explainer = shap.TreeExplainer(booster)
        values = np.asarray(explainer.shap_values(matrix[:, columns]))
        ours = explained[threat].contributions[booster.feature_name()].to_numpy()
        np.testing.assert_allclose(values, ours, rtol=0, atol=1e-9)
        np.testing.assert_allclose(
            explainer.expected_value, explained[threat].base_value, rtol=0, atol=1e-9
        )


def test_global_explanations_load_back_as_shap_explanations(fitted, tmp_path: Path) -> None:
    import shap

    from training.explanations import load_explanation, write_explanations

    run, _, _ = fitted
    written = write_explanations(run.explanations, tmp_path)
    assert {p.name for p in written["plots"]} >= {f"{t}_beeswarm.png" for t in run.explanations}
    for threat, explanation in run.explanations.items():
        loaded = load_explanation(tmp_path / "explanations", threat)
        assert isinstance(loaded, shap.Explanation)
        np.testing.assert_array_equal(loaded.values, explanation.values)
        np.testing.assert_array_equal(loaded.base_values, explanation.base_values)
        assert list(loaded.feature_names) == list(explanation.feature_names)
        # The explanation adds up to the booster's margin, as SHAP values must.
        margin = run.bundle.boosters[threat].predict(
            loaded.data,
            raw_score=True,
            num_iteration=run.bundle.boosters[threat].best_iteration or None,
        )
        np.testing.assert_allclose(
            loaded.values.sum(axis=1) + loaded.base_values, margin, atol=1e-9
        )
    assert (
        run.importance[threat] and next(iter(run.importance[threat])) in explanation.feature_names
    )
