"""The model bundle: scoring, save/load round trip, and refusal of bundles that were changed.

The feature builder here is a stand-in that follows the documented FeatureBuilder interface
(docs/internals.md: transform_columns, save/load, feature_names_, categorical_features_,
feature_fields_). It keeps these tests about the bundle alone: they must pass whatever the
real features compute, and the bundle may rely on nothing else of the builder.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

import models.bundle
from features.columns import DeclarationColumns
from models.bundle import ModelBundle, ScoredDeclaration, verify_bundle
from models.calibration import Calibrator
from models.explain import Reason
from models.lanes import LanePolicy
from models.manifest import BundleIntegrityError, manifest_sha256

THREATS = ("weapons", "migrants", "revenue")
OFFICES = ("MK-TAB", "RS-HOR", "AL-DUR")
TRANSPORT_MODES = ("road", "sea", "postal")


FEATURE_FIELDS = {
    "log_value_per_kg": ["customs_value_eur", "net_mass_kg"],
    "duty_rate": ["duty_rate"],
    "transport_mode_code": ["transport_mode"],
    "hs_chapter": ["hs_code"],
}


class StandInFeatureBuilder:
    """Four features from canonical fields, saved as JSON: the documented interface, nothing more."""

    def __init__(self, vocabulary: list[str] | None = None) -> None:
        self.vocabulary = vocabulary or list(TRANSPORT_MODES)
        self.feature_names_ = ["log_value_per_kg", "duty_rate", "transport_mode_code", "hs_chapter"]
        self.categorical_features_ = ["transport_mode_code"]
        self.feature_fields_ = FEATURE_FIELDS

    def transform_columns(self, columns: DeclarationColumns, live: object = None) -> np.ndarray:
        codes = {mode: float(i) for i, mode in enumerate(self.vocabulary)}
        modes = columns.strings("transport_mode").tolist()
        chapters = columns.strings("hs_code").tolist()
        return np.column_stack(
            [
                np.log1p(columns.numbers("customs_value_eur"))
                - np.log1p(columns.numbers("net_mass_kg")),
                columns.numbers("duty_rate"),
                np.array([codes.get(mode, np.nan) for mode in modes], dtype=np.float64),
                np.array([float(code[:2]) for code in chapters], dtype=np.float64),
            ]
        ).reshape(len(columns), len(self.feature_names_))

    def transform(self, declarations: pd.DataFrame, live: object = None) -> pd.DataFrame:
        """The training matrix these tests fit boosters on (the bundle never calls it)."""
        return pd.DataFrame(
            self.transform_columns(DeclarationColumns(declarations)),
            index=declarations.index,
            columns=self.feature_names_,
        )

    def save(self, directory: Path) -> list[Path]:
        path = Path(directory) / "stand_in.json"
        path.write_text(json.dumps({"vocabulary": self.vocabulary}))
        return [path]

    @classmethod
    def load(cls, directory: Path) -> StandInFeatureBuilder:
        return cls(json.loads((Path(directory) / "stand_in.json").read_text())["vocabulary"])


def stand_in_reason_text(feature: str, value: Any, declaration: dict[str, Any]) -> str:
    """Names the declaration, so a test can see that each reason got its own row."""
    return f"{declaration['declaration_id']}: {feature} is {value:.3f}"


def make_declarations(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "declaration_id": [f"D{seed}-{i}" for i in range(n)],
            "office_id": rng.choice(OFFICES, n),
            "transport_mode": rng.choice(TRANSPORT_MODES, n),
            "hs_code": rng.choice(["930510", "870899", "731814", "620342"], n),
            "customs_value_eur": rng.lognormal(8, 1.5, n),
            "net_mass_kg": rng.lognormal(5, 1.0, n),
            "duty_rate": rng.choice([0.0, 5.0, 10.0, np.nan], n),
        }
    )


def train_booster(matrix: pd.DataFrame, labels: np.ndarray, features: list[str]) -> lgb.Booster:
    params = {
        "objective": "binary",
        "num_threads": 1,
        "num_leaves": 7,
        "min_data_in_leaf": 10,
        "learning_rate": 0.3,
        "verbose": -1,
        "seed": 1,
    }
    categorical = [f for f in features if f == "transport_mode_code"]
    data = lgb.Dataset(
        matrix[features], labels, categorical_feature=categorical, free_raw_data=False
    )
    return lgb.train(params, data, num_boost_round=8)


def make_bundle(
    n: int = 600, seed: int = 0, *, revenue_features: list[str] | None = None
) -> tuple[ModelBundle, pd.DataFrame]:
    """A tiny bundle on random declarations whose labels depend on the stand-in features."""
    builder = StandInFeatureBuilder()
    declarations = make_declarations(n, seed)
    matrix = builder.transform(declarations)
    rng = np.random.default_rng(seed + 1)
    signal = {
        "weapons": (matrix["hs_chapter"] == 93) * 2.0 - 3.0,
        "migrants": (matrix["transport_mode_code"] == 0) * 1.5 - 2.0,
        "revenue": -0.8 * matrix["log_value_per_kg"].to_numpy() + 1.0,
    }
    features = list(builder.feature_names_)
    boosters, calibrators = {}, {}
    clear = np.ones(n)
    for threat in THREATS:
        labels = (rng.random(n) < 1 / (1 + np.exp(-np.asarray(signal[threat], float)))).astype(
            float
        )
        own = revenue_features if threat == "revenue" and revenue_features else features
        boosters[threat] = train_booster(matrix, labels, own)
        margin = boosters[threat].predict(matrix[own].to_numpy(), raw_score=True, num_threads=1)
        calibrators[threat] = Calibrator().fit(margin, labels)
        clear *= 1 - calibrators[threat].predict(margin)
    lanes = LanePolicy(red=0.05, yellow=0.15, min_office_rows=50)
    lanes.fit(1 - clear, declarations["office_id"].to_numpy())
    return ModelBundle(
        builder,
        boosters,
        calibrators,
        lanes,
        features,
        {
            "name": "shiprisk",
            "training_window": {"train": ["2024-01-01", "2024-06-30"]},
            "metrics": {"revenue": {"roc_auc": 0.7}},
            "parameters": {"num_leaves": 7},
            "seed": 1,
        },
        reason_text=stand_in_reason_text,
    ), declarations


@pytest.fixture(scope="module")
def bundle_and_declarations() -> tuple[ModelBundle, pd.DataFrame]:
    return make_bundle()


@pytest.fixture()
def saved_bundle(tmp_path: Path, bundle_and_declarations) -> Path:
    bundle, _ = bundle_and_declarations
    bundle.save(tmp_path / "bundle")
    return tmp_path / "bundle"


def load(directory: Path) -> ModelBundle:
    return ModelBundle.load(
        directory, builder_loader=StandInFeatureBuilder.load, reason_text=stand_in_reason_text
    )


# -- scoring ----------------------------------------------------------------------------------


def test_overall_risk_is_probability_of_at_least_one_irregularity(bundle_and_declarations) -> None:
    bundle, declarations = bundle_and_declarations
    frame = bundle.risk_frame(declarations.head(20))
    for _, row in frame.iterrows():
        clear = (1 - row["risk_weapons"]) * (1 - row["risk_migrants"]) * (1 - row["risk_revenue"])
        assert row["overall"] == pytest.approx(1 - clear, rel=1e-12)
    assert list(frame.columns) == [
        "declaration_id",
        "risk_weapons",
        "risk_migrants",
        "risk_revenue",
        "overall",
        "lane",
    ]


def test_risk_is_the_calibrated_margin_and_lane_follows_the_office(bundle_and_declarations) -> None:
    bundle, declarations = bundle_and_declarations
    frame = bundle.risk_frame(declarations)
    margins = bundle.margins(declarations)
    for threat in THREATS:
        expected = bundle.calibrators[threat].predict(margins[threat])
        np.testing.assert_array_equal(frame[f"risk_{threat}"].to_numpy(), expected)
    lanes = bundle.lanes.assign(frame["overall"], declarations["office_id"])
    np.testing.assert_array_equal(frame["lane"].to_numpy(), lanes)
    # Fitted on these rows with enough rows per office: 5% red in every office.
    for office in OFFICES:
        in_office = frame["lane"][declarations["office_id"] == office]
        assert (in_office == "red").sum() == round(0.05 * len(in_office))


def test_score_returns_one_result_per_declaration_with_reasons(bundle_and_declarations) -> None:
    bundle, declarations = bundle_and_declarations
    scored = bundle.score(declarations.head(3), top_k=2)
    frame = bundle.risk_frame(declarations.head(3))
    assert [s.declaration_id for s in scored] == ["D0-0", "D0-1", "D0-2"]
    first = scored[0]
    assert isinstance(first, ScoredDeclaration)
    assert first.risk == {t: frame[f"risk_{t}"].iloc[0] for t in THREATS}
    assert first.overall == frame["overall"].iloc[0]
    assert first.lane == frame["lane"].iloc[0]
    assert 1 <= len(first.reasons) <= 2
    reason = first.reasons[0]
    assert isinstance(reason, Reason)
    assert reason.contribution > 0
    assert reason.text == f"D0-0: {reason.feature} is {reason.value:.3f}"
    assert reason.fields == FEATURE_FIELDS[reason.feature]
    assert bundle.score(declarations.head(3), explain=False)[0].reasons == []


def test_no_declarations_give_no_results(bundle_and_declarations) -> None:
    bundle, declarations = bundle_and_declarations
    assert bundle.score(declarations.head(0)) == []
    frame = bundle.risk_frame(declarations.head(0))
    assert frame.shape == (0, 6)


def test_a_threat_may_use_a_subset_of_the_features() -> None:
    bundle, declarations = make_bundle(
        300, seed=4, revenue_features=["log_value_per_kg", "duty_rate"]
    )
    explanations = bundle.explain(declarations.head(30))
    unused = explanations["revenue"].contributions[["transport_mode_code", "hs_chapter"]]
    assert (unused.to_numpy() == 0.0).all()
    margin = bundle.margins(declarations.head(30))["revenue"]
    np.testing.assert_allclose(explanations["revenue"].margin(), margin, rtol=0, atol=1e-9)


def test_booster_features_must_be_in_the_bundle(bundle_and_declarations) -> None:
    bundle, _ = bundle_and_declarations
    with pytest.raises(ValueError) as error:
        ModelBundle(
            bundle.builder,
            bundle.boosters,
            bundle.calibrators,
            bundle.lanes,
            ["log_value_per_kg", "duty_rate", "hs_chapter"],
            {},
        )
    assert str(error.value) == (
        "booster 'weapons' uses features the bundle does not list: ['transport_mode_code']"
    )


def test_single_declaration_with_reasons_is_fast(bundle_and_declarations) -> None:
    bundle, declarations = bundle_and_declarations
    one = declarations.head(1)
    bundle.score(one)  # warm up
    started = time.perf_counter()
    for _ in range(20):
        bundle.score(one)
    per_call = (time.perf_counter() - started) / 20
    # A few ms in practice; the bound is loose because the test machine is shared.
    assert per_call < 0.05


# -- save and load -----------------------------------------------------------------------------


def test_round_trip_gives_identical_scores_and_reasons(
    saved_bundle: Path, bundle_and_declarations
) -> None:
    bundle, declarations = bundle_and_declarations
    loaded = load(saved_bundle)
    pd.testing.assert_frame_equal(loaded.risk_frame(declarations), bundle.risk_frame(declarations))
    assert loaded.score(declarations.head(25)) == bundle.score(declarations.head(25))
    assert loaded.threats == THREATS
    assert loaded.metadata["seed"] == 1
    assert loaded.metadata["training_window"] == {"train": ["2024-01-01", "2024-06-30"]}


def test_manifest_lists_every_file_with_its_sha256(saved_bundle: Path) -> None:
    manifest = json.loads((saved_bundle / "manifest.json").read_text())
    assert sorted(manifest["files"]) == [
        "calibration.json",
        "features/stand_in.json",
        "lanes.json",
        "models/migrants.txt",
        "models/revenue.txt",
        "models/weapons.txt",
    ]
    revenue = (saved_bundle / "models" / "revenue.txt").read_bytes()
    assert manifest["files"]["models/revenue.txt"] == hashlib.sha256(revenue).hexdigest()
    assert manifest["threats"] == ["weapons", "migrants", "revenue"]
    assert manifest["categorical_features"] == ["transport_mode_code"]
    assert manifest["lanes"]["capacity"] == {"red": 0.05, "yellow": 0.15, "offices": {}}
    assert set(manifest["lanes"]["offices"]) == set(OFFICES)
    assert manifest["metrics"] == {"revenue": {"roc_auc": 0.7}}
    assert manifest["parameters"] == {"num_leaves": 7}
    assert manifest["metadata"] == {"seed": 1}
    assert manifest["name"] == "shiprisk"
    digest = hashlib.sha256((saved_bundle / "manifest.json").read_bytes()).hexdigest()
    assert manifest_sha256(saved_bundle) == digest


def test_tampered_model_is_refused_before_anything_loads(saved_bundle: Path) -> None:
    model = saved_bundle / "models" / "revenue.txt"
    model.write_text(model.read_text().replace("learning_rate: 0.3", "learning_rate: 0.4", 1))
    loaded_features: list[Path] = []
    with pytest.raises(BundleIntegrityError) as error:
        ModelBundle.load(saved_bundle, builder_loader=loaded_features.append)
    assert str(error.value) == (
        f"bundle {saved_bundle} refused: models/revenue.txt: sha256 does not match the manifest "
        "(file changed)"
    )
    assert loaded_features == []


def test_missing_and_extra_files_are_named(saved_bundle: Path) -> None:
    (saved_bundle / "lanes.json").unlink()
    (saved_bundle / "features" / "history.parquet").write_bytes(b"not in the manifest")
    with pytest.raises(BundleIntegrityError) as error:
        verify_bundle(saved_bundle)
    assert error.value.problems == [
        "lanes.json: missing",
        "features/history.parquet: not listed in the manifest",
    ]


def test_missing_or_broken_manifest_is_refused(saved_bundle: Path) -> None:
    manifest = saved_bundle / "manifest.json"
    text = manifest.read_text()
    manifest.write_text(text.replace('"threats"', '"threat"'))
    with pytest.raises(BundleIntegrityError) as error:
        verify_bundle(saved_bundle)
    assert error.value.problems == [
        "manifest.json: unreadable (key 'threats' missing or not a list)"
    ]
    manifest.unlink()
    with pytest.raises(BundleIntegrityError) as error:
        verify_bundle(saved_bundle)
    assert error.value.problems == ["manifest.json: missing"]


def test_manifest_cannot_point_outside_the_bundle(saved_bundle: Path) -> None:
    manifest_path = saved_bundle / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["files"]["../outside.txt"] = "0" * 64
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(BundleIntegrityError) as error:
        verify_bundle(saved_bundle)
    assert error.value.problems == ["../outside.txt: path not allowed in a manifest"]


def test_booster_is_saved_at_its_best_iteration(tmp_path: Path) -> None:
    bundle, declarations = make_bundle(200, seed=2)
    bundle.boosters["weapons"].best_iteration = 3
    bundle.save(tmp_path / "bundle")
    loaded = load(tmp_path / "bundle")
    assert loaded.boosters["weapons"].num_trees() == 3
    assert loaded.boosters["revenue"].num_trees() == 8
    matrix = bundle.matrix(declarations)
    expected = bundle.boosters["weapons"].predict(matrix, num_iteration=3, raw_score=True)
    np.testing.assert_array_equal(loaded.margins(declarations)["weapons"], expected)


def test_save_refuses_a_non_empty_directory(tmp_path: Path, bundle_and_declarations) -> None:
    bundle, _ = bundle_and_declarations
    (tmp_path / "old.txt").write_text("x")
    with pytest.raises(FileExistsError) as error:
        bundle.save(tmp_path)
    assert str(error.value) == f"{tmp_path} is not empty: a bundle is written into a new directory"


def test_default_builder_loader_is_the_documented_feature_builder(
    saved_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stand-in replaces features.builder.FeatureBuilder.load; which loader the bundle
    # calls by default is what is tested here.
    calls: list[Path] = []

    def stand_in_load(directory: Path) -> StandInFeatureBuilder:
        calls.append(directory)
        return StandInFeatureBuilder.load(directory)

    monkeypatch.setattr(models.bundle, "load_feature_builder", stand_in_load)
    ModelBundle.load(saved_bundle)
    assert calls == [saved_bundle / "features"]
