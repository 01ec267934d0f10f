"""Reference statistics of declared values and masses, learned on the fit rows.

Undervaluation shows as a value per kg far below what the same HS code usually declares;
a load light for its vehicle can hide people. The usual is the median (and the spread its
median absolute deviation) of the log quantity among fit rows of the same HS subheading,
backing off to the heading, the chapter and finally all rows when a group has few rows.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd

from features.columns import DeclarationColumns, prefixes

HS_LEVELS: tuple[int, ...] = (6, 4, 2)  # digits of the HS code, most specific first
GLOBAL_LEVEL = 0
MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its standard deviation
MIN_SPREAD = 0.05  # log units: floor on the spread so identical values do not divide by zero
REFERENCE_COLUMNS: tuple[str, ...] = ("quantity", "level", "code", "median", "mad", "rows")
VALUE_QUANTITIES: tuple[str, ...] = ("value_per_kg", "value_per_package")
VEHICLE_MASS = "gross_mass_by_vehicle_type"


def log_value_per_kg(columns: DeclarationColumns) -> np.ndarray:
    """log(customs value / net mass); NaN when either is missing or not positive."""
    return _log_ratio(columns.numbers("customs_value_eur"), columns.numbers("net_mass_kg"))


def log_value_per_package(columns: DeclarationColumns) -> np.ndarray:
    """log(customs value / packages); NaN when either is missing or not positive."""
    return _log_ratio(columns.numbers("customs_value_eur"), columns.numbers("packages"))


def fit_reference(declarations: pd.DataFrame, *, min_rows: int) -> pd.DataFrame:
    """Median and MAD of each log quantity per HS level (groups of at least ``min_rows``).

    Returns one row per (quantity, level, code): level 6/4/2 is the number of HS digits, level
    0 the global reference (code ""); the vehicle mass reference has level 1 and the vehicle
    type as code.
    """
    columns = DeclarationColumns(declarations)
    hs_codes = columns.strings("hs_code")
    tables = []
    for quantity, values in (
        ("value_per_kg", log_value_per_kg(columns)),
        ("value_per_package", log_value_per_package(columns)),
    ):
        for level in HS_LEVELS:
            tables.append(
                _group_stats(quantity, level, prefixes(hs_codes, level), values, min_rows)
            )
        tables.append(
            _group_stats(
                quantity, GLOBAL_LEVEL, np.full(len(hs_codes), "", dtype=object), values, 1
            )
        )
    gross = columns.numbers("gross_mass_kg")
    log_gross = np.log(np.where(gross > 0, gross, np.nan))
    tables.append(
        _group_stats(VEHICLE_MASS, 1, columns.strings("vehicle_type"), log_gross, min_rows)
    )
    reference = pd.concat(tables, ignore_index=True)
    return reference.sort_values(["quantity", "level", "code"], ignore_index=True)


class ValueReference:
    """The fitted reference arranged for lookups: per quantity and HS level, code ->
    (median, MAD), and the vehicle-type medians. Built once, read per declaration."""

    def __init__(self, reference: pd.DataFrame) -> None:
        self.groups: dict[tuple[str, int], dict[str, tuple[float, float]]] = {}
        for (quantity, level), table in reference.groupby(["quantity", "level"], sort=True):
            self.groups[(str(quantity), int(cast(int, level)))] = dict(
                zip(
                    table["code"].astype("str").tolist(),
                    zip(table["median"].tolist(), table["mad"].tolist(), strict=True),
                    strict=True,
                )
            )
        self.vehicle_medians = {
            code: median for code, (median, _) in self.groups.get((VEHICLE_MASS, 1), {}).items()
        }

    def resolve(self, quantity: str, hs_code: str | None) -> tuple[float, float, float]:
        """Median, MAD and HS level of the most specific reference for ``hs_code``: its
        subheading, heading, chapter, then all rows (NaN when there is none)."""
        for level in (*HS_LEVELS, GLOBAL_LEVEL):
            if hs_code is None and level != GLOBAL_LEVEL:
                continue
            code = hs_code[:level] if hs_code is not None else ""
            found = self.groups.get((quantity, level), {}).get(code)
            if found is not None:
                return found[0], found[1], float(level)
        return np.nan, np.nan, np.nan


def value_features(columns: DeclarationColumns, reference: ValueReference) -> dict[str, np.ndarray]:
    """Value and mass features of each declaration against the fitted reference."""
    hs_codes = columns.strings("hs_code")
    features: dict[str, np.ndarray] = {}
    for quantity, prefix, values in (
        ("value_per_kg", "unit_value", log_value_per_kg(columns)),
        ("value_per_package", "package_value", log_value_per_package(columns)),
    ):
        median, mad, level = _hs_reference(hs_codes, reference, quantity)
        features[f"{prefix}_vs_hs_median"] = values - median
        features[f"{prefix}_robust_z"] = (values - median) / np.maximum(
            mad * MAD_TO_SIGMA, MIN_SPREAD
        )
        if prefix == "unit_value":
            features["unit_value_reference_level"] = level

    gross = columns.numbers("gross_mass_kg")
    net = columns.numbers("net_mass_kg")
    with np.errstate(divide="ignore", invalid="ignore"):
        features["gross_net_mass_ratio"] = np.where(net > 0, gross / net, np.nan)
    vehicle_median = np.array(
        [
            reference.vehicle_medians.get(vehicle, np.nan)
            for vehicle in columns.strings("vehicle_type").tolist()
        ],
        dtype=np.float64,
    )
    features["gross_mass_vs_vehicle_type_median"] = (
        np.log(np.where(gross > 0, gross, np.nan)) - vehicle_median
    )
    value = columns.numbers("customs_value_eur")
    features["customs_value_log"] = np.log1p(np.where(value >= 0, value, np.nan))
    features["net_mass_log"] = np.log1p(np.where(net >= 0, net, np.nan))
    features["packages"] = columns.numbers("packages")
    features["duty_rate"] = columns.numbers("duty_rate")
    return features


def _log_ratio(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    valid = (top > 0) & (bottom > 0)
    result = np.full(len(top), np.nan)
    result[valid] = np.log(top[valid]) - np.log(bottom[valid])
    return result


def _group_stats(
    quantity: str, level: int, codes: np.ndarray, values: np.ndarray, min_rows: int
) -> pd.DataFrame:
    frame = pd.DataFrame({"code": codes, "value": values})
    frame = frame[frame["value"].notna() & frame["code"].notna()]
    grouped = frame.groupby("code", sort=True)["value"]
    medians = grouped.median()
    rows = grouped.size()
    # astype: with no usable rows (no packages declared at all) map() yields a str column.
    deviation = (frame["value"] - frame["code"].map(medians).astype(np.float64)).abs()
    mads = deviation.groupby(frame["code"], sort=True).median()
    table = pd.DataFrame(
        {
            "quantity": quantity,
            "level": level,
            "code": medians.index.astype("str"),
            "median": medians.to_numpy(dtype=np.float64),
            "mad": mads.reindex(medians.index).to_numpy(dtype=np.float64),
            "rows": rows.to_numpy(dtype=np.int64),
        }
    )
    return table[table["rows"] >= min_rows].reset_index(drop=True)


def _hs_reference(
    hs_codes: np.ndarray, reference: ValueReference, quantity: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median, MAD and HS level of the most specific reference available for each code."""
    resolved = {
        code: reference.resolve(quantity, code) for code in dict.fromkeys(hs_codes.tolist())
    }
    table = np.array([resolved[code] for code in hs_codes.tolist()], dtype=np.float64)
    table = table.reshape(len(hs_codes), 3)
    return table[:, 0], table[:, 1], table[:, 2]
