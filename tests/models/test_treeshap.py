"""The TreeSHAP kernel equals LightGBM's own ``pred_contrib`` to 1e-9 on every row.

The reference is always ``booster.predict(..., pred_contrib=True)``: on random boosters of
depth 2 to 8 with categorical splits, NaN and zeros, on the bundle's threats, on the session's
trained model, on the deep-leaf path (no tables), and on values at the edges of LightGBM's
decisions (negative and huge categories, tiny numbers, infinities).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from models.bundle import ModelBundle
from models.explain import shap_values, tree_shap
from models.treeshap import TreeShap
from tests.models.test_bundle import THREATS, make_bundle

ATOL = 1e-9


def reference(booster: lgb.Booster, matrix: np.ndarray) -> np.ndarray:
    return np.asarray(booster.predict(matrix, pred_contrib=True, num_threads=1))


def random_data(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Numeric, categorical (0..39 and 0..4), NaN-bearing and zero-heavy columns."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 9))
    X[:, 0] = rng.integers(0, 40, rows)
    X[:, 5] = rng.integers(0, 5, rows)
    X[rng.random(rows) < 0.1, 1] = np.nan
    X[rng.random(rows) < 0.05, 0] = np.nan
    X[rng.random(rows) < 0.3, 3] = 0.0
    X[rng.random(rows) < 0.1, 6] = np.nan
    signal = (
        (X[:, 0] % 3 == 0) * 1.5
        + np.nan_to_num(X[:, 1], nan=2.0)
        + (X[:, 3] == 0) * 0.8
        + X[:, 2] * X[:, 4]
        + (X[:, 5] == 2)
        + np.isnan(X[:, 6])
    )
    y = (signal + rng.normal(size=rows) > 1.0).astype(float)
    return X, y


def random_booster(depth: int, seed: int = 0, rounds: int = 25, **params: object) -> lgb.Booster:
    X, y = random_data(3000, seed)
    settings = {
        "objective": "binary",
        "num_leaves": min(2**depth, 127),
        "max_depth": depth,
        "min_data_in_leaf": 5,
        "max_cat_to_onehot": 2,
        "min_data_per_group": 5,
        "cat_smooth": 1.0,
        "verbose": -1,
        "num_threads": 1,
        "seed": seed,
    }
    settings.update(params)
    data = lgb.Dataset(X, y, categorical_feature=[0, 5])
    return lgb.train(settings, data, num_boost_round=rounds)


def edge_rows(X: np.ndarray) -> np.ndarray:
    """Rows whose values sit on LightGBM's decision edges."""
    edges = X[:40].copy()
    edges[0:4, 0] = [-0.5, -1.0, -3.0, 1e12]  # categories: truncation to 0, negatives, overflow
    edges[4:8, 0] = [39.9, 64.0, 1000.0, np.inf]  # beyond the bitset
    edges[8:12, 3] = [1e-40, -1e-40, 0.0, -0.0]  # within LightGBM's zero threshold
    edges[12:16, 2] = [np.inf, -np.inf, np.nan, 0.0]
    edges[16:20, 5] = [np.nan, -2.0, 4.0, 2.5]
    edges[20:24, :] = np.nan
    edges[24:28, :] = 0.0
    return edges


@pytest.mark.parametrize("depth", [2, 3, 4, 5, 6, 7, 8])
def test_equals_pred_contrib_on_random_boosters(depth: int) -> None:
    booster = random_booster(depth, seed=depth)
    X, _ = random_data(1500, seed=100 + depth)
    matrix = np.vstack([X, edge_rows(X)])
    kernel = TreeShap.from_booster(booster)
    assert kernel is not None
    assert kernel.max_depth >= min(depth, 3)  # the trees are as deep as asked
    got = kernel.contributions(matrix)
    np.testing.assert_allclose(got, reference(booster, matrix), atol=ATOL)
    raw = booster.predict(matrix, raw_score=True, num_threads=1)
    np.testing.assert_allclose(got.sum(axis=1), raw, rtol=0, atol=ATOL)  # sums to the margin


@pytest.mark.parametrize("full_depth", [0, 3, 6])
def test_every_kind_of_leaf_table_is_exact(full_depth: int) -> None:
    """Whole-contribution tables up to ``full_depth`` path features, E and v * Z tables above."""
    booster = random_booster(8, seed=14)
    X, _ = random_data(700, seed=15)
    matrix = np.vstack([X, edge_rows(X)])
    kernel = TreeShap.from_booster(booster, full_depth=full_depth)
    assert kernel is not None
    whole = kernel.full_start >= 0
    np.testing.assert_array_equal(whole, kernel.leaf_depth <= full_depth)
    assert np.count_nonzero(~whole) > 0  # some leaves take the E and v * Z tables
    np.testing.assert_allclose(kernel.contributions(matrix), reference(booster, matrix), atol=ATOL)


def test_a_row_gets_the_same_bits_alone_as_in_any_block() -> None:
    """Rows are explained in blocks; a row's result does not depend on its neighbours."""
    booster = random_booster(6, seed=16)
    X, _ = random_data(600, seed=17)
    matrix = np.vstack([X, edge_rows(X)])
    kernel = TreeShap.from_booster(booster)
    assert kernel is not None
    batch = kernel.contributions(matrix)
    for row in (0, 1, 255, 256, 257, 599, 600, 630):
        np.testing.assert_array_equal(kernel.contributions(matrix[row : row + 1])[0], batch[row])
    np.testing.assert_array_equal(kernel.contributions(matrix[250:270]), batch[250:270])


@pytest.mark.parametrize(
    "params",
    [
        {"use_missing": False},
        {"zero_as_missing": True},
        {"max_cat_to_onehot": 64},  # one-vs-rest categorical splits
        {"min_data_in_leaf": 1, "num_leaves": 255, "max_depth": -1},  # deep, irregular trees
    ],
    ids=["no-missing", "zero-as-missing", "one-hot-categories", "unbounded-depth"],
)
def test_equals_pred_contrib_whatever_the_missing_handling(params: dict[str, object]) -> None:
    booster = random_booster(6, seed=11, **params)
    X, _ = random_data(800, seed=12)
    matrix = np.vstack([X, edge_rows(X)])
    kernel = TreeShap.from_booster(booster)
    assert kernel is not None
    np.testing.assert_allclose(kernel.contributions(matrix), reference(booster, matrix), atol=ATOL)


def test_deep_leaves_without_tables_are_exact() -> None:
    """Leaves with more unique features than the table depth take the direct formula."""
    booster = random_booster(8, seed=4)
    X, _ = random_data(600, seed=5)
    matrix = np.vstack([X, edge_rows(X)])
    direct = TreeShap.from_booster(booster, table_depth=1)
    assert direct is not None
    assert (direct.table_start[:-1] < 0).mean() > 0.5  # most leaves really go without tables
    np.testing.assert_allclose(direct.contributions(matrix), reference(booster, matrix), atol=ATOL)


def test_threads_split_rows_without_changing_a_bit() -> None:
    booster = random_booster(7, seed=2)
    X, _ = random_data(1000, seed=3)
    kernel = TreeShap.from_booster(booster)
    assert kernel is not None
    one = kernel.contributions(X, num_threads=1)
    two = kernel.contributions(X, num_threads=2, pool_size=2)
    np.testing.assert_array_equal(one, two)


def test_single_leaf_trees_and_best_iteration_match_predict() -> None:
    X, y = random_data(2000, seed=8)
    valid = random_data(500, seed=9)
    params = {"objective": "binary", "verbose": -1, "num_threads": 1, "learning_rate": 0.5}
    booster = lgb.train(
        params,
        lgb.Dataset(X, y),
        num_boost_round=200,
        valid_sets=[lgb.Dataset(*valid)],
        callbacks=[lgb.early_stopping(3, verbose=False)],
        keep_training_booster=True,  # keeps the trees after the best iteration
    )
    assert 0 < booster.best_iteration < booster.current_iteration()
    contributions, base = shap_values(booster, X[:300])
    expected = reference(booster, X[:300])  # predict uses the best iteration too
    np.testing.assert_allclose(contributions, expected[:, :-1], atol=ATOL)
    np.testing.assert_allclose(base, expected[:, -1], atol=ATOL)

    stump = lgb.train({**params, "min_gain_to_split": 1e9}, lgb.Dataset(X, y), num_boost_round=3)
    kernel = TreeShap.from_booster(stump)
    assert kernel is not None and len(kernel.leaf_depth) == 0  # only single-leaf trees
    np.testing.assert_allclose(kernel.contributions(X[:5]), reference(stump, X[:5]), atol=ATOL)


def test_boosters_the_kernel_does_not_cover_fall_back_to_pred_contrib() -> None:
    X, y = random_data(1000, seed=6)
    numeric = np.nan_to_num(X[:, 1:5])
    base = {"objective": "binary", "verbose": -1, "num_threads": 1}
    forest = lgb.train(
        {**base, "boosting": "rf", "bagging_fraction": 0.7, "bagging_freq": 1},
        lgb.Dataset(numeric, y),
        num_boost_round=5,
    )
    linear = lgb.train({**base, "linear_tree": True}, lgb.Dataset(numeric, y), num_boost_round=5)
    classes = lgb.train(
        {**base, "objective": "multiclass", "num_class": 3},
        lgb.Dataset(numeric, (y + (numeric[:, 0] > 0)).astype(int)),
        num_boost_round=3,
    )
    assert TreeShap.from_booster(forest) is None  # averaged outputs
    assert TreeShap.from_booster(linear) is None
    assert TreeShap.from_booster(classes) is None
    contributions, values = shap_values(forest, numeric[:50])
    expected = reference(forest, numeric[:50])
    np.testing.assert_array_equal(contributions, expected[:, :-1])
    np.testing.assert_array_equal(values, expected[:, -1])
    with pytest.raises(lgb.basic.LightGBMError, match="linear trees"):
        shap_values(linear, numeric[:50])  # LightGBM's own refusal, unchanged


def test_kernel_is_rebuilt_when_the_booster_grows() -> None:
    X, y = random_data(500, seed=13)
    params = {"objective": "binary", "verbose": -1, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(X, y), num_boost_round=2, keep_training_booster=True)
    before = tree_shap(booster)
    assert tree_shap(booster) is before  # kept while nothing changes
    booster.update()
    after = tree_shap(booster)
    assert after is not before
    contributions, _ = shap_values(booster, X[:20])
    np.testing.assert_allclose(contributions, reference(booster, X[:20])[:, :-1], atol=ATOL)


def test_every_threat_of_the_bundle_equals_pred_contrib() -> None:
    bundle, declarations = make_bundle(500, seed=21, revenue_features=["log_value_per_kg"])
    matrix = bundle.matrix(declarations)
    explanations = bundle.explain(declarations)
    for threat in THREATS:
        own = bundle._threat_matrix(threat, matrix)
        expected = reference(bundle.boosters[threat], own)
        got = explanations[threat].contributions[bundle.boosters[threat].feature_name()]
        np.testing.assert_allclose(got.to_numpy(), expected[:, :-1], atol=ATOL)
        np.testing.assert_allclose(explanations[threat].base_value, expected[:, -1], atol=ATOL)


def test_the_trained_models_threats_equal_pred_contrib(trained) -> None:
    """The session's model: the real feature builder, categorical codes, missing values."""
    bundle = ModelBundle.load(trained.bundle_dir)
    declarations = pd.read_parquet(trained.declarations_path)
    matrix = bundle.matrix(declarations)
    assert np.isnan(matrix).any()  # missing values reach the trees
    categorical = 0
    for threat, booster in bundle.boosters.items():
        kernel = tree_shap(booster)
        assert kernel is not None
        categorical += int(np.count_nonzero(kernel.trees.decision & 1))
        own = bundle._threat_matrix(threat, matrix)
        contributions, base = shap_values(booster, own, num_threads=2)
        expected = reference(booster, own)
        np.testing.assert_allclose(contributions, expected[:, :-1], atol=ATOL)
        np.testing.assert_allclose(base, expected[:, -1], atol=ATOL)
    assert categorical > 0  # categorical splits were exercised


CACHE_PROBE = """
import sys
import numba.core.caching as caching
kept = sys.argv[1].split(",") if sys.argv[1] else []
caching.CacheImpl._locator_classes = [
    c for c in caching.CacheImpl._locator_classes if c.__name__ in kept
]
import models.treeshap as treeshap
print(treeshap.CACHE, type(treeshap._rows._cache).__name__, getattr(treeshap._rows._cache, "_cache_path", "-"))
"""


@pytest.mark.parametrize(
    ("locators", "cached", "where"),
    [
        ("InTreeCacheLocator,UserWideCacheLocator", "True", "models/__pycache__"),
        ("UserWideCacheLocator", "True", "xdg-cache"),  # the package directory is read-only
        ("", "False", ""),  # nothing writable: compiled per process, still importable
    ],
    ids=["fresh-clone", "read-only-package", "nothing-writable"],
)
def test_the_kernel_caches_where_it_can_and_imports_where_it_cannot(
    tmp_path: Path, locators: str, cached: str, where: str
) -> None:
    """numba refuses ``cache=True`` at import when no cache directory is writable."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg-cache")
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    result = subprocess.run(
        [sys.executable, "-c", CACHE_PROBE, locators],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    flag, cache, path = result.stdout.split()
    assert flag == cached
    assert (cache == "FunctionCache") == (cached == "True")
    assert where in path
