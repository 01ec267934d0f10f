"""Hand-built canonical frames for the feature builder tests (the shape features.schema fixes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from features.columns import DeclarationColumns
from features.entities import TRANSIT_COUNTRY, entity_keys
from features.live import LiveInputs, live_from_state
from features.route import transit_countries
from features.schema import DECLARATION_FIELDS, DEFAULT_THREATS, label_column
from features.watchlist import watchlist_entries

DECLARATION_DEFAULTS: dict[str, Any] = {
    "office_id": "MK-TAB",
    "flow": "import",
    "procedure_code": "4000",
    "transport_mode": "road",
    "vehicle_id": "SK-1234-AB",
    "vehicle_type": "truck",
    "declarant_id": "DECL-1",
    "importer_id": "IMP-1",
    "exporter_id": "EXP-1",
    "carrier_id": "CAR-1",
    "origin_country": "TR",
    "dispatch_country": "GR",
    "destination_country": "RS",
    "itinerary": "GR>MK>RS",
    "hs_code": "870829",
    "goods_description": "vehicle body parts",
    "packages": 10.0,
    "gross_mass_kg": 1100.0,
    "net_mass_kg": 1000.0,
    "customs_value_eur": 5000.0,
    "duty_rate": 5.0,
}


def utc(text: str) -> pd.Timestamp:
    """A UTC timestamp from ISO text."""
    return pd.Timestamp(text, tz="UTC")


def declarations_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Canonical declarations: each row's values over :data:`DECLARATION_DEFAULTS`.

    Every row needs ``declaration_id`` and ``lodged_at`` (ISO text or Timestamp).
    """
    records = [{**DECLARATION_DEFAULTS, **row} for row in rows]
    frame = pd.DataFrame(records)
    columns: dict[str, pd.Series] = {}
    for field in DECLARATION_FIELDS:
        values = frame[field.name]
        if field.kind == "datetime":
            columns[field.name] = pd.to_datetime(values, utc=True, format="ISO8601")
        elif field.kind in ("number", "count"):
            columns[field.name] = values.astype(np.float64)
        else:
            columns[field.name] = values.astype("str")
    extra = [name for name in frame.columns if name.startswith("x_")]
    for name in extra:
        columns[name] = frame[name]
    return pd.DataFrame(columns)


def labels_frame(
    rows: Sequence[Mapping[str, Any] | None], threats: Sequence[str] = DEFAULT_THREATS
) -> pd.DataFrame:
    """Labels aligned with declarations: ``None`` for an uninspected row, else a mapping with
    ``known_at`` and per-threat 0/1 values (missing threats are 0)."""
    records = []
    for row in rows:
        if row is None:
            record: dict[str, Any] = {"inspected": False, "known_at": pd.NaT}
            record.update({label_column(threat): np.nan for threat in threats})
        else:
            record = {"inspected": True, "known_at": pd.Timestamp(row["known_at"], tz="UTC")}
            record.update({label_column(threat): float(row.get(threat, 0)) for threat in threats})
        records.append(record)
    frame = pd.DataFrame(records)
    frame["inspected"] = frame["inspected"].astype(bool)
    frame["known_at"] = pd.to_datetime(frame["known_at"], utc=True)
    frame["selection_reason"] = pd.Series(
        ["random" if inspected else np.nan for inspected in frame["inspected"]], dtype="str"
    )
    frame["selection_probability"] = np.nan
    frame["additional_duty_eur"] = np.nan
    order = [
        "inspected",
        "known_at",
        "selection_reason",
        "selection_probability",
        "additional_duty_eur",
    ]
    return frame[order + [label_column(threat) for threat in threats]]


def generated_frames(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Random canonical declarations, labels and a watchlist of ``n`` rows (vectorised)."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2023-01-01", tz="UTC")
    lodged = start + pd.to_timedelta(np.sort(rng.integers(0, 365 * 86_400, n)), unit="s")
    countries = np.array(["GR", "MK", "RS", "AL", "ME", "BA", "TR", "CN", "XK", "HR"])
    hs_codes = np.array(
        ["870829", "930590", "731815", "848790", "391690", "620342", "850440", "930200"]
    )
    words = np.array(
        [
            "steel pins",
            "machine parts",
            "spare parts",
            "cotton trousers",
            "samples",
            "filament spool",
            "brake discs",
            "power supply",
            "pistol parts",
            "car seats",
        ]
    )

    def ids(prefix: str, count: int) -> np.ndarray:
        return np.char.add(prefix, rng.integers(0, count, n).astype(str))

    itinerary_choice = np.array(["GR>MK>RS", "GR>AL>ME>BA", "TR>BG>RS", "AL>ME", ""])
    itinerary = itinerary_choice[rng.integers(0, len(itinerary_choice), n)]
    declarations = pd.DataFrame(
        {
            "declaration_id": pd.Series(np.char.add("D", np.arange(n).astype(str)), dtype="str"),
            "lodged_at": lodged,
            "office_id": pd.Series(ids("OFF", 20), dtype="str"),
            "flow": pd.Series(np.full(n, "import"), dtype="str"),
            "procedure_code": pd.Series(ids("40", 5), dtype="str"),
            "transport_mode": pd.Series(
                rng.choice(["road", "postal", "air", "sea"], n), dtype="str"
            ),
            "vehicle_id": pd.Series(ids("V", n // 5 + 1), dtype="str"),
            "vehicle_type": pd.Series(
                rng.choice(["truck", "van", "car", "parcel"], n), dtype="str"
            ),
            "declarant_id": pd.Series(ids("DC", 200), dtype="str"),
            "importer_id": pd.Series(ids("IM", n // 10 + 1), dtype="str"),
            "exporter_id": pd.Series(ids("EX", n // 10 + 1), dtype="str"),
            "carrier_id": pd.Series(ids("CA", 500), dtype="str"),
            "origin_country": pd.Series(rng.choice(countries, n), dtype="str"),
            "dispatch_country": pd.Series(rng.choice(countries, n), dtype="str"),
            "destination_country": pd.Series(rng.choice(countries, n), dtype="str"),
            "itinerary": pd.Series(itinerary, dtype="str").replace("", np.nan),
            "hs_code": pd.Series(rng.choice(hs_codes, n), dtype="str"),
            "goods_description": pd.Series(rng.choice(words, n), dtype="str"),
            "packages": rng.integers(1, 50, n).astype(np.float64),
            "gross_mass_kg": rng.lognormal(6, 1, n),
            "net_mass_kg": rng.lognormal(5.8, 1, n),
            "customs_value_eur": rng.lognormal(8, 1.5, n),
            "duty_rate": rng.choice([0.0, 5.0, 10.0], n),
        }
    )
    inspected = rng.random(n) < 0.05
    known_at = lodged + pd.to_timedelta(rng.integers(3600, 30 * 86_400, n), unit="s")
    labels = pd.DataFrame(
        {
            "inspected": inspected,
            "known_at": pd.Series(known_at).where(inspected),
            "selection_reason": pd.Series(["random"] * n, dtype="str").where(inspected),
            "selection_probability": np.where(inspected, 0.05, np.nan),
            "additional_duty_eur": np.nan,
        }
    )
    for threat, rate in zip(DEFAULT_THREATS, (0.05, 0.03, 0.2), strict=True):
        labels[label_column(threat)] = np.where(inspected, (rng.random(n) < rate) * 1.0, np.nan)
    watchlist = pd.DataFrame(
        {
            "entity_type": pd.Series(["vehicle_id", "importer_id"], dtype="str"),
            "entity_id": pd.Series(["V1", "IM2"], dtype="str"),
            "threat": pd.Series(["migrants", "weapons"], dtype="str"),
            "valid_from": pd.to_datetime(["2023-01-01", "2023-06-01"], utc=True),
            "valid_to": pd.to_datetime(pd.Series([None, "2023-09-01"]), utc=True),
            "source": pd.Series(["partner", "partner"], dtype="str"),
        }
    )
    return declarations, labels, watchlist


def store_history_state(
    declarations: pd.DataFrame,
    labels: pd.DataFrame,
    threats: Sequence[str] = ("weapons", "migrants", "revenue"),
) -> pd.DataFrame:
    """What the store's history tables hold after these declarations and outcomes, counted
    independently of features.history (a plain groupby per entity key)."""
    columns = DeclarationColumns(declarations)
    keys = entity_keys(columns)
    transit = transit_countries(columns)
    rows = []
    for name in [*keys, TRANSIT_COUNTRY]:
        if name == TRANSIT_COUNTRY:
            frame = pd.DataFrame({"key": transit.countries})
            frame = frame.join(labels.iloc[transit.rows].reset_index(drop=True))
            frame["lodged_at"] = pd.NaT
            frame["declaration"] = 0.0
        else:
            frame = pd.DataFrame({"key": keys[name]}).join(labels.reset_index(drop=True))
            frame["lodged_at"] = declarations["lodged_at"].to_numpy()
            frame["declaration"] = 1.0
        frame = frame[frame["key"].notna()]
        inspected = frame["inspected"].fillna(False).astype(bool)
        counts = pd.DataFrame({"key": frame["key"], "declarations": frame["declaration"]})
        counts["inspections"] = inspected.astype(float)
        for threat in threats:
            label = frame[f"label_{threat}"].where(inspected)
            counts[f"labelled_{threat}"] = label.notna().astype(float)
            counts[f"hits_{threat}"] = (label >= 0.5).astype(float)
        counts["first_seen"] = frame["lodged_at"]
        grouped = counts.groupby("key")
        state = grouped.sum(numeric_only=True)
        state["first_seen"] = grouped["first_seen"].min()
        rows.append(state.reset_index().assign(entity=name))
    return pd.concat(rows, ignore_index=True)


def live_inputs(
    builder_threats: Sequence[str],
    query: pd.DataFrame,
    declarations: pd.DataFrame,
    labels: pd.DataFrame,
    watchlist: pd.DataFrame | None = None,
) -> LiveInputs:
    """The live inputs of ``query`` scored at lodging against a store that holds
    ``declarations``, their ``labels`` and ``watchlist``."""
    columns = DeclarationColumns(query)
    return live_from_state(
        columns,
        builder_threats,
        store_history_state(declarations, labels, builder_threats),
        watchlist_entries(watchlist),
        columns.nanoseconds("lodged_at"),
    )
