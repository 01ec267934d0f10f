"""Red / yellow / green lanes from the overall risk, sized by each office's inspection capacity.

ASYCUDA-style lanes: red is a physical examination, yellow a documentary check, green release.
Capacity, not a fixed probability, decides how many declarations an office can examine, so the
thresholds are quantiles of the overall risk on a reference window: an office configured for
2% red gets the risk above which 2% of its declarations fell. Offices with too few reference
declarations for their own quantiles use the quantiles of all offices together, at their own
capacity. The policy is plain data (`to_dict` / `from_dict`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

LANES: tuple[str, str, str] = ("red", "yellow", "green")


def validated_capacity(red: float, yellow: float, where: str | None = None) -> tuple[float, float]:
    """The (red, yellow) shares as floats, or ``ValueError`` when they do not fit in one
    (each between 0 and 1, together at most 1); the message starts with ``where`` if given.
    The training configuration's lanes section checks its shares with this rule too."""
    red, yellow = float(red), float(yellow)
    if not (0.0 <= red <= 1.0 and 0.0 <= yellow <= 1.0 and red + yellow <= 1.0):
        prefix = f"{where}: " if where else ""
        raise ValueError(
            f"{prefix}lane shares must be between 0 and 1 and red + yellow at most 1, "
            f"got red={red}, yellow={yellow}"
        )
    return red, yellow


def capacity_threshold(sorted_descending: NDArray[np.float64], share: float) -> float:
    """The lowest score that still falls inside the top ``share`` of the reference scores.

    ``round(share * n)`` declarations score at or above it (fewer only when ties straddle the
    cut); ``+inf`` when that count is zero, so a zero capacity selects nobody.
    """
    count = math.floor(share * len(sorted_descending) + 0.5)
    if count <= 0:
        return math.inf
    return float(sorted_descending[count - 1])


def _office_array(office_ids: ArrayLike) -> NDArray[np.str_]:
    """Office ids as a flat array of strings, whatever array, Series or dtype they came in."""
    return np.asarray(office_ids, dtype=object).reshape(-1).astype(str)


def thresholds_for(scores: ArrayLike, red: float, yellow: float) -> dict[str, float]:
    """Red and yellow thresholds putting the top ``red`` share of ``scores`` in red and the
    next ``yellow`` share in yellow (``+inf``: the lane takes nobody)."""
    ordered = np.sort(np.asarray(scores, dtype=np.float64).reshape(-1))[::-1]
    red_threshold = capacity_threshold(ordered, red)
    # Yellow is the next `yellow` share below red: the top red + yellow go to red or yellow.
    yellow_threshold = min(capacity_threshold(ordered, red + yellow), red_threshold)
    return {"red": red_threshold, "yellow": yellow_threshold}


def lanes_from_thresholds(
    overall: ArrayLike, red: ArrayLike, yellow: ArrayLike
) -> NDArray[np.str_]:
    """Red at or above the red threshold, yellow at or above the yellow one, else green
    (thresholds per declaration, or one for all)."""
    scores = np.asarray(overall, dtype=np.float64)
    red_at, yellow_at = np.asarray(red, dtype=np.float64), np.asarray(yellow, dtype=np.float64)
    return np.where(scores >= red_at, "red", np.where(scores >= yellow_at, "yellow", "green"))


class LanePolicy(BaseEstimator):
    """Lane thresholds on the overall risk (a scikit-learn estimator).

    Args:
        red: default share of declarations for physical examination.
        yellow: default share for a documentary check (in addition to red).
        offices: per-office capacity overrides, ``{office_id: {"red": .., "yellow": ..}}`` (a
            ``(red, yellow)`` pair is accepted too).
        min_office_rows: reference declarations an office needs for thresholds of its own.
    """

    def __init__(
        self,
        red: float = 0.02,
        yellow: float = 0.08,
        offices: Mapping[str, Mapping[str, float] | tuple[float, float]] | None = None,
        *,
        min_office_rows: int = 200,
    ) -> None:
        self.red = red
        self.yellow = yellow
        self.offices = offices
        self.min_office_rows = min_office_rows

    def capacity(self, office_id: str) -> tuple[float, float]:
        """The (red, yellow) shares configured for an office, the defaults when not overridden."""
        override = (self.offices or {}).get(office_id)
        if override is None:
            return validated_capacity(self.red, self.yellow, "lane capacity")
        if isinstance(override, Mapping):
            red, yellow = override.get("red", self.red), override.get("yellow", self.yellow)
        else:  # a (red, yellow) pair
            red, yellow = override
        return validated_capacity(red, yellow, f"office {office_id}")

    def fit(self, overall: ArrayLike, office_ids: ArrayLike) -> LanePolicy:
        """Set thresholds from reference overall risks and the office of each declaration."""
        scores = np.asarray(overall, dtype=np.float64).reshape(-1)
        offices = _office_array(office_ids)
        if len(scores) != len(offices) or len(scores) == 0:
            raise ValueError(
                f"lanes need one office per score, got {len(scores)} scores and {len(offices)} offices"
            )
        if not np.all(np.isfinite(scores)):
            raise ValueError("lane reference scores must be finite")
        red, yellow = validated_capacity(self.red, self.yellow, "lane capacity")
        self.global_thresholds_: dict[str, float] = thresholds_for(scores, red, yellow)
        self.office_thresholds_: dict[str, dict[str, Any]] = {}
        distinct, counts = np.unique(offices, return_counts=True)
        row_counts = dict(zip(distinct.tolist(), counts.tolist(), strict=True))
        for office in sorted({*row_counts, *(self.offices or {})}):
            office_red, office_yellow = self.capacity(office)
            rows = int(row_counts.get(office, 0))
            own = rows >= self.min_office_rows
            reference = scores[offices == office] if own else scores
            self.office_thresholds_[office] = {
                **thresholds_for(reference, office_red, office_yellow),
                "rows": rows,
                "reference": "office" if own else "global",
            }
        self.n_reference_: int = len(scores)
        return self

    def assign(self, overall: ArrayLike, office_ids: ArrayLike) -> NDArray[np.str_]:
        """The lane of each declaration; offices unseen in `fit` use the global thresholds."""
        check_is_fitted(self)
        scores = np.asarray(overall, dtype=np.float64).reshape(-1)
        offices = _office_array(office_ids)
        if len(scores) != len(offices):
            raise ValueError(
                f"lanes need one office per score, got {len(scores)} scores and {len(offices)} offices"
            )
        # Look thresholds up once per distinct office, not once per declaration.
        distinct, position = np.unique(offices, return_inverse=True)
        fallback = self.global_thresholds_
        red = np.array([self.office_thresholds_.get(o, fallback)["red"] for o in distinct])[
            position
        ]
        yellow = np.array([self.office_thresholds_.get(o, fallback)["yellow"] for o in distinct])[
            position
        ]
        return lanes_from_thresholds(scores, red, yellow)

    def to_dict(self) -> dict[str, Any]:
        """Capacities and fitted thresholds as JSON-ready data (``null`` stands for an infinite threshold)."""
        check_is_fitted(self)

        def finite_or_none(thresholds: Mapping[str, Any]) -> dict[str, Any]:
            return {
                key: (None if isinstance(value, float) and math.isinf(value) else value)
                for key, value in thresholds.items()
            }

        return {
            "red": float(self.red),
            "yellow": float(self.yellow),
            "offices": {
                office: dict(zip(("red", "yellow"), self.capacity(office), strict=True))
                for office in (self.offices or {})
            },
            "min_office_rows": int(self.min_office_rows),
            "n_reference": self.n_reference_,
            "thresholds": {
                "global": finite_or_none(self.global_thresholds_),
                "offices": {o: finite_or_none(t) for o, t in self.office_thresholds_.items()},
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LanePolicy:
        """Rebuild a fitted policy from `to_dict` output."""

        def restored(thresholds: Mapping[str, Any]) -> dict[str, Any]:
            out = dict(thresholds)
            for lane in ("red", "yellow"):
                out[lane] = math.inf if thresholds[lane] is None else float(thresholds[lane])
            return out

        policy = cls(
            red=float(data["red"]),
            yellow=float(data["yellow"]),
            offices={
                str(o): {k: float(v) for k, v in c.items()} for o, c in data["offices"].items()
            },
            min_office_rows=int(data["min_office_rows"]),
        )
        policy.global_thresholds_ = {
            k: v
            for k, v in restored(data["thresholds"]["global"]).items()
            if k in ("red", "yellow")
        }
        policy.office_thresholds_ = {
            str(o): restored(t) for o, t in data["thresholds"]["offices"].items()
        }
        policy.n_reference_ = int(data["n_reference"])
        return policy
