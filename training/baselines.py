"""Baselines every run is compared with: a logistic regression and rules-only selection.

A model earns its place only by finding more at the same inspection rate than what an
administration could do without it: the risk profiles it already runs, or a plain linear
model on the same features.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def logistic_baseline(
    numeric: Sequence[str], categorical: Sequence[str], *, seed: int = 0
) -> Pipeline:
    """A scikit-learn pipeline: impute and scale numbers, one-hot codes, balanced logistic regression."""
    transformers = []
    if numeric:
        transformers.append(
            (
                "numeric",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                    StandardScaler(),
                ),
                list(numeric),
            )
        )
    if categorical:
        transformers.append(
            (
                "codes",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value=-1.0, keep_empty_features=True),
                    OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=20),
                ),
                list(categorical),
            )
        )
    return Pipeline(
        [
            ("columns", ColumnTransformer(transformers, sparse_threshold=1.0)),
            (
                "model",
                LogisticRegression(
                    C=0.5, class_weight="balanced", max_iter=2000, random_state=seed
                ),
            ),
        ]
    )


def finite(X: pd.DataFrame) -> pd.DataFrame:
    """Infinite values (a ratio over a zero mass) as missing, for estimators that need finite input."""
    return X.replace([np.inf, -np.inf], np.nan)


class RuleProfileBaseline:
    """Rules-only selection as risk profiles are written: hit rate of HS chapter x origin.

    Each profile cell (first two HS digits, origin country) scores the smoothed share of its
    inspected declarations that were irregular in the training window, the way an analyst
    reads seizure statistics to write "HS 93 from country X: red". Cells never inspected get
    the overall rate.
    """

    def __init__(self, prior_strength: float = 20.0) -> None:
        self.prior_strength = prior_strength

    @staticmethod
    def _cells(declarations: pd.DataFrame) -> pd.Series:
        return (
            declarations["hs_code"].astype(str).str[:2]
            + "|"
            + declarations["origin_country"].astype(str)
        )

    def fit(self, declarations: pd.DataFrame, y: np.ndarray) -> RuleProfileBaseline:
        """Learn the profile table from labelled declarations and their 0/1 outcomes."""
        y = np.asarray(y, dtype=float)
        self.base_rate_ = float(y.mean()) if len(y) else 0.0
        frame = pd.DataFrame({"cell": self._cells(declarations).to_numpy(), "y": y})
        stats = frame.groupby("cell")["y"].agg(["sum", "count"])
        self.rates_ = (stats["sum"] + self.prior_strength * self.base_rate_) / (
            stats["count"] + self.prior_strength
        )
        return self

    def score(self, declarations: pd.DataFrame) -> np.ndarray:
        """The profile hit rate of each declaration's cell."""
        cells = self._cells(declarations)
        return cells.map(self.rates_).fillna(self.base_rate_).to_numpy(dtype=float)
