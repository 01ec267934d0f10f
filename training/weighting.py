"""Selection-bias correction: what the risk of a trained bundle is a rate of.

Labels exist only where someone inspected, and past rules chose where. A calibrator fitted on
inspected declarations as they are estimates the chance of an irregularity among declarations
*like those past selection picked*; weighting each inspected declaration by the inverse of its
selection probability (Horvitz-Thompson, self-normalised) makes the same fit estimate the rate
over every declaration of the window.

That needs the probabilities: store exports and the synthetic data carry them, a legacy export
usually does not. `risk_basis` says which of the two a run can claim, and `inverse_probability_weights`
gives the weights when the claim is `all_declarations`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

RiskBasis = Literal["all_declarations", "inspected_only"]
ALL_DECLARATIONS: RiskBasis = "all_declarations"
INSPECTED_ONLY: RiskBasis = "inspected_only"
# The bundle metadata / manifest key, the metrics.json key and the model card's line.
RISK_BASIS_KEY = "risk_basis"

# Inspections without a known probability (officer or intelligence picks) are counted as
# certain picks (weight 1): fine for a few of them, not when they are a sizeable share.
MIN_KNOWN_SHARE = 0.95


def known_probability(probability: np.ndarray) -> np.ndarray:
    """Where a selection probability is known and usable: finite and in (0, 1]."""
    p = np.asarray(probability, dtype=float)
    return np.isfinite(p) & (p > 0) & (p <= 1)


def risk_basis(labels: pd.DataFrame, positions: np.ndarray) -> RiskBasis:
    """`all_declarations` when the inspections at ``positions`` allow the correction.

    Two conditions: at least ``MIN_KNOWN_SHARE`` of the inspected declarations carry a known
    selection probability, and some of those probabilities are below 1 (random or exploration
    picks). Without picks below 1, declarations no rule selected had no chance of being
    inspected, and no weighting can speak for them.
    """
    inspected = labels["inspected"].to_numpy(dtype=bool)[positions]
    probability = labels["selection_probability"].to_numpy(dtype=float)[positions][inspected]
    if len(probability) == 0:
        return INSPECTED_ONLY
    known = known_probability(probability)
    if known.mean() < MIN_KNOWN_SHARE or not np.any(probability[known] < 1):
        return INSPECTED_ONLY
    return ALL_DECLARATIONS


def inverse_probability_weights(probability: np.ndarray) -> np.ndarray:
    """Horvitz-Thompson weights: each inspection stands for ``1 / p`` declarations.

    Every use is self-normalised (a weighted mean divides by the sum of the weights, and a
    weighted logistic fit with an intercept matches the weighted rate), so the scale of the
    weights never moves an estimate, with one exception kept on purpose: Platt's prior
    (`models.calibration`) counts weights as declarations, and at this scale it stays one
    declaration among the thousands the inspections stand for. Scaled to a mean of 1 it would
    weigh as much as all the rare positives together. An unknown probability counts as 1.
    """
    p = np.asarray(probability, dtype=float)
    known = known_probability(p)
    return np.where(known, 1.0 / np.where(known, p, 1.0), 1.0)


def basis_weights(probability: np.ndarray, basis: RiskBasis) -> np.ndarray | None:
    """The weights a fit or an evaluation uses on labelled rows: None (equal) for inspected_only."""
    return inverse_probability_weights(probability) if basis == ALL_DECLARATIONS else None


def describe(basis: str) -> str:
    """One sentence for people: what a risk of this basis is a rate of."""
    if basis == ALL_DECLARATIONS:
        return (
            "risk estimates the rate over all declarations: calibration weighted each inspected "
            "declaration by the inverse of its selection probability"
        )
    return (
        "risk is the rate among declarations like those past selection inspected: selection "
        "probabilities were not known, so the rate for ordinary traffic may be lower"
    )
