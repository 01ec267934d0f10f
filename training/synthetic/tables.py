"""Last step: the per-row arrays of the simulation become the four tables in canonical shape.

Declarations are ordered by lodging time and numbered in that order; outcomes follow the
declarations' order; `truth` has one row per declaration in the same order. Assembly also
draws from the generator (declarants who write in capitals or leave the description empty),
so it runs last, after selection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from features.schema import DECLARATION_COLUMNS, OUTCOME_COLUMNS
from training.synthetic import catalogue as cat
from training.synthetic.goods import Goods
from training.synthetic.identifiers import zero_padded
from training.synthetic.parties import Parties
from training.synthetic.selection import Inspections
from training.synthetic.traffic import FLOW_NAMES, Traffic
from training.synthetic.truth import Truth, planted

TRUTH_COLUMNS: tuple[str, ...] = (
    "declaration_id",
    "weapons",
    "migrants",
    "revenue",
    "migrants_count",
    "additional_duty_eur",
    "weapons_scheme",
    "migrants_scheme",
    "revenue_scheme",
)


@dataclass(frozen=True)
class SyntheticData:
    """The four generated tables; `truth` is for simulations only, never for training.

    `truth` has one row per declaration, in the same order: `weapons`, `migrants`, `revenue`
    (0/1: what an inspection would find if it missed nothing), `migrants_count`,
    `additional_duty_eur` (the duty evaded; 0 when none), and the scheme behind each planted
    case (`weapons_scheme`, `migrants_scheme`, `revenue_scheme`; missing when none), so a
    simulation can tell drifted schemes ("new_route", code 8466 parts) from the old ones.
    Outcomes are imperfect: a documentary check misses most hidden weapons and people.
    """

    declarations: pd.DataFrame
    outcomes: pd.DataFrame
    watchlist: pd.DataFrame
    truth: pd.DataFrame


def assemble(
    rng: np.random.Generator,
    start: date,
    traffic: Traffic,
    parties: Parties,
    goods: Goods,
    truth: Truth,
    inspections: Inspections,
    watchlist: pd.DataFrame,
) -> SyntheticData:
    """The four tables in canonical shape, declarations ordered by lodging time."""
    n = traffic.n
    seconds = traffic.lodged_seconds()
    order = np.argsort(seconds, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    ids = "D" + zero_padded((np.arange(n) + 1), 9)
    origin = pd.Timestamp(start, tz="UTC")
    lodged = pd.DatetimeIndex(origin + pd.to_timedelta(seconds, unit="s")).astype(
        "datetime64[us, UTC]"
    )

    importer = parties.texts("importer")
    declarant = np.where(parties.declarant_is_importer, importer, parties.texts("declarant"))
    description = goods.description.copy()
    shout = rng.random(n) < 0.25
    description[shout] = np.char.upper(description[shout].astype(str)).astype(object)
    description[rng.random(n) < 0.03] = None
    hs_codes = np.array([c.hs_code for c in cat.COMMODITIES], dtype=object)[goods.hs]
    columns = {
        "declaration_id": ids[rank],
        "lodged_at": lodged,
        "office_id": traffic.office,
        "flow": FLOW_NAMES[traffic.flow],
        "procedure_code": goods.procedure,
        "transport_mode": np.array([s.transport_mode for s in cat.SEGMENTS], dtype=object)[
            traffic.segment
        ],
        "vehicle_id": parties.texts("vehicle"),
        "vehicle_type": np.array([s.vehicle_type for s in cat.SEGMENTS], dtype=object)[
            traffic.segment
        ],
        "declarant_id": declarant,
        "importer_id": importer,
        "exporter_id": parties.texts("exporter"),
        "carrier_id": parties.texts("carrier"),
        "origin_country": goods.origin,
        "dispatch_country": traffic.dispatch,
        "destination_country": traffic.destination,
        "itinerary": traffic.itinerary,
        "hs_code": hs_codes,
        "goods_description": description,
        "packages": goods.packages.astype(np.float64),  # canonical numbers are float64
        "gross_mass_kg": np.round(goods.gross_mass, 3),
        "net_mass_kg": np.round(goods.net_mass, 3),
        "customs_value_eur": np.round(goods.value, 2),
        "duty_rate": goods.duty,
    }
    declarations = _frame(columns, order, DECLARATION_COLUMNS)

    truth_table = _frame(
        {
            "declaration_id": ids[rank],
            "weapons": planted(truth.weapons_scheme).astype(np.int8),
            "migrants": planted(truth.migrants_scheme).astype(np.int8),
            "revenue": planted(truth.revenue_scheme).astype(np.int8),
            "migrants_count": truth.migrants_count,
            "additional_duty_eur": truth.additional_duty,
            "weapons_scheme": truth.weapons_scheme,
            "migrants_scheme": truth.migrants_scheme,
            "revenue_scheme": truth.revenue_scheme,
        },
        order,
        TRUTH_COLUMNS,
    )

    rows = inspections.rows
    outcome_order = np.argsort(rank[rows], kind="stable")
    values = dict(inspections.columns)
    inspected_at = pd.DatetimeIndex(
        origin + pd.to_timedelta(values.pop("inspected_at_seconds"), unit="s")
    ).astype("datetime64[us, UTC]")
    values["declaration_id"] = ids[rank[rows]]
    values["inspected_at"] = inspected_at
    outcomes = _frame(values, outcome_order, OUTCOME_COLUMNS)
    return SyntheticData(declarations, outcomes, watchlist, truth_table)


def _frame(columns: Mapping[str, Any], order: np.ndarray, names: tuple[str, ...]) -> pd.DataFrame:
    """A frame with `names` in order, rows permuted by `order`, object text as pandas strings."""
    data = {}
    for name in names:
        values = columns[name]
        values = values[order]
        if isinstance(values, np.ndarray) and values.dtype == object:
            # Through Arrow: the same "str" array as pandas' own conversion, faster (see
            # bench/RESULTS.md).
            values = pd.array(
                pa.array(values, type=pa.large_string(), from_pandas=True), dtype="str"
            )
        data[name] = values
    return pd.DataFrame(data)
