"""Reference statistics of declared values and masses, learned on the fit rows.

Undervaluation shows as a value per kg far below what the same HS code usually declares;
a load light for its vehicle can hide people. The usual is the median (and the spread its
median absolute deviation) of the log quantity among fit rows of the same HS subheading,
backing off to the heading, the chapter and finally all rows when a group has few rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

HS_LEVELS: tuple[int, ...] = (6, 4, 2)  # digits of the HS code, most specific first
GLOBAL_LEVEL = 0
MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its standard deviation
MIN_SPREAD = 0.05  # log units: floor on the spread so identical values do not divide by zero
REFERENCE_COLUMNS: tuple[str, ...] = ("quantity", "level", "code", "median", "mad", "rows")
VALUE_QUANTITIES: tuple[str, ...] = ("value_per_kg", "value_per_package")
VEHICLE_MASS = "gross_mass_by_vehicle_type"


def log_value_per_kg(declarations: pd.DataFrame) -> np.ndarray:
    """log(customs value / net mass); NaN when either is missing or not positive."""
    return _log_ratio(declarations["customs_value_eur"], declarations["net_mass_kg"])


def log_value_per_package(declarations: pd.DataFrame) -> np.ndarray:
    """log(customs value / packages); NaN when either is missing or not positive."""
    return _log_ratio(declarations["customs_value_eur"], declarations["packages"])


def fit_reference(declarations: pd.DataFrame, *, min_rows: int) -> pd.DataFrame:
    """Median and MAD of each log quantity per HS level (groups of at least ``min_rows``).

    Returns one row per (quantity, level, code): level 6/4/2 is the number of HS digits, level
    0 the global reference (code ""); the vehicle mass reference has level 1 and the vehicle
    type as code.
    """
    hs_codes = declarations["hs_code"].astype("str")
    tables = []
    for quantity, values in (
        ("value_per_kg", log_value_per_kg(declarations)),
        ("value_per_package", log_value_per_package(declarations)),
    ):
        for level in HS_LEVELS:
            tables.append(
                _group_stats(quantity, level, hs_codes.str.slice(0, level), values, min_rows)
            )
        tables.append(
            _group_stats(quantity, GLOBAL_LEVEL, pd.Series("", index=declarations.index), values, 1)
        )
    gross = declarations["gross_mass_kg"].to_numpy(dtype=np.float64)
    log_gross = np.log(np.where(gross > 0, gross, np.nan))
    tables.append(
        _group_stats(
            VEHICLE_MASS, 1, declarations["vehicle_type"].astype("str"), log_gross, min_rows
        )
    )
    reference = pd.concat(tables, ignore_index=True)
    return reference.sort_values(["quantity", "level", "code"], ignore_index=True)


def value_features(declarations: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Value and mass features of each declaration against the fitted reference."""
    hs_codes = declarations["hs_code"].astype("str")
    features: dict[str, np.ndarray] = {}
    for quantity, prefix, values in (
        ("value_per_kg", "unit_value", log_value_per_kg(declarations)),
        ("value_per_package", "package_value", log_value_per_package(declarations)),
    ):
        median, mad, level = _hs_reference(hs_codes, reference[reference["quantity"] == quantity])
        features[f"{prefix}_vs_hs_median"] = values - median
        features[f"{prefix}_robust_z"] = (values - median) / np.maximum(
            mad * MAD_TO_SIGMA, MIN_SPREAD
        )
        if prefix == "unit_value":
            features["unit_value_reference_level"] = level

    gross = declarations["gross_mass_kg"].to_numpy(dtype=np.float64)
    net = declarations["net_mass_kg"].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        features["gross_net_mass_ratio"] = np.where(net > 0, gross / net, np.nan)
    vehicle = reference[reference["quantity"] == VEHICLE_MASS].set_index("code")["median"]
    vehicle_median = (
        declarations["vehicle_type"]
        .astype("str")
        .map(vehicle)
        .to_numpy(dtype=np.float64, na_value=np.nan)
    )
    features["gross_mass_vs_vehicle_type_median"] = (
        np.log(np.where(gross > 0, gross, np.nan)) - vehicle_median
    )
    value = declarations["customs_value_eur"].to_numpy(dtype=np.float64)
    features["customs_value_log"] = np.log1p(np.where(value >= 0, value, np.nan))
    features["net_mass_log"] = np.log1p(np.where(net >= 0, net, np.nan))
    features["packages"] = declarations["packages"].to_numpy(dtype=np.float64)
    features["duty_rate"] = declarations["duty_rate"].to_numpy(dtype=np.float64)
    return pd.DataFrame(features, index=declarations.index, dtype=np.float64)


def _log_ratio(numerator: pd.Series, denominator: pd.Series) -> np.ndarray:
    top = numerator.to_numpy(dtype=np.float64)
    bottom = denominator.to_numpy(dtype=np.float64)
    valid = (top > 0) & (bottom > 0)
    result = np.full(len(top), np.nan)
    result[valid] = np.log(top[valid]) - np.log(bottom[valid])
    return result


def _group_stats(
    quantity: str, level: int, codes: pd.Series, values: np.ndarray, min_rows: int
) -> pd.DataFrame:
    frame = pd.DataFrame({"code": codes.to_numpy(dtype=object), "value": values})
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
    hs_codes: pd.Series, reference: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median, MAD and HS level of the most specific reference available for each code."""
    n = len(hs_codes)
    median = np.full(n, np.nan)
    mad = np.full(n, np.nan)
    level = np.full(n, np.nan)
    for hs_level in (*HS_LEVELS, GLOBAL_LEVEL):
        table = reference[reference["level"] == hs_level].set_index("code")
        codes = hs_codes.str.slice(0, hs_level) if hs_level else pd.Series("", index=hs_codes.index)
        positions = table.index.get_indexer(pd.Index(codes.to_numpy(dtype=object)))
        take = (positions >= 0) & np.isnan(level)
        median[take] = table["median"].to_numpy()[positions[take]]
        mad[take] = table["mad"].to_numpy()[positions[take]]
        level[take] = hs_level
    return median, mad, level
