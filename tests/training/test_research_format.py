"""An administration's own export trains through the column mapping alone.

The synthetic declarations are rewritten into the shape of a research-style export (one
declaration per row, its own column names, two-digit national transport codes, HS codes that
lost their leading zero in a spreadsheet, labels as 0/1 columns, two CSV files) and trained
with a copy of `configs/research.yaml` whose only edits are the file path and the dates.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from training.config import load_config
from training.pipeline import train

from ..conftest import FAST_MODEL, SYNTH_SPLIT

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
MODE_CODES = {"sea": "10", "rail": "20", "road": "30", "air": "40", "postal": "50"}


def research_export(synthetic_dir: Path, out_dir: Path) -> None:
    """Write the synthetic data as a research-style export split over two CSV files."""
    declarations = pd.read_parquet(synthetic_dir / "declarations.parquet")
    outcomes = pd.read_parquet(synthetic_dir / "outcomes.parquet")
    first = outcomes.sort_values("inspected_at").drop_duplicates("declaration_id")
    found = declarations[["declaration_id"]].merge(first, on="declaration_id", how="left")
    inspected = found["inspected_at"].notna().to_numpy()
    fraud = found["revenue_irregularity"].fillna(False).to_numpy(dtype=bool)
    duty = found["additional_duty_eur"].fillna(0.0).to_numpy()
    critical = fraud & (duty > np.median(duty[fraud])) if fraud.any() else fraud
    rng = np.random.default_rng(3)
    table = pd.DataFrame(
        {
            "Declaration ID": declarations["declaration_id"],
            "Date": declarations["lodged_at"].dt.strftime("%Y-%m-%d"),
            "Office ID": declarations["office_id"],
            "Process Type": declarations["procedure_code"],
            "Import Type": rng.choice(["11", "21", "29"], len(declarations)),
            "Import Use": rng.choice(["21", "22", "23"], len(declarations)),
            "Payment Type": rng.choice(["11", "43"], len(declarations)),
            "Mode of Transport": declarations["transport_mode"].map(MODE_CODES).fillna("30"),
            "Declarant ID": declarations["declarant_id"],
            "Importer ID": declarations["importer_id"],
            "Seller ID": declarations["exporter_id"],
            "Courier ID": declarations["carrier_id"],
            # An integer column: codes starting with 0 lose it, as in a spreadsheet.
            "HS10 Code": declarations["hs_code"].str.ljust(10, "0").astype("int64"),
            "Country of Departure": declarations["dispatch_country"],
            "Country of Origin": declarations["origin_country"],
            "Tax Rate": declarations["duty_rate"],
            "Tax Type": rng.choice(["A", "C", "FCN1"], len(declarations)),
            "Country of Origin Indicator": rng.choice(["Y", "N"], len(declarations)),
            "Net Mass": declarations["net_mass_kg"],
            "Item Price": declarations["customs_value_eur"],
            "Fraud": np.where(inspected, fraud.astype(int), np.nan),
            "Critical Fraud": np.where(inspected, critical.astype(int), np.nan),
        }
    )
    half = len(table) // 2
    out_dir.mkdir(parents=True)
    table.iloc[:half].to_csv(out_dir / "part-1.csv", index=False)
    table.iloc[half:].to_csv(out_dir / "part-2.csv", index=False)


def research_config(
    export_dir: Path, path: Path, *, split: dict[str, Any], model: dict[str, Any]
) -> Path:
    """configs/research.yaml reading ``export_dir``'s files, with ``split`` and ``model``."""
    config = yaml.safe_load((ROOT / "configs" / "research.yaml").read_text())
    config["source"]["declarations"] = str(export_dir / "*.csv")
    config["split"] = split
    config["model"] = model
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def test_research_export_trains_through_the_shipped_mapping(
    synthetic_dir: Path, tmp_path: Path, tracking_uri: str
) -> None:
    research_export(synthetic_dir, tmp_path / "export")
    path = research_config(
        tmp_path / "export", tmp_path / "research.yaml", split=SYNTH_SPLIT, model=FAST_MODEL
    )

    result = train(
        load_config(path),
        tracking_uri=tracking_uri,
        register=False,
        metrics_out=tmp_path / "metrics.json",
    )
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert set(written["threats"]) == {"revenue", "critical"}
    assert written["model"]["version"] is None
    assert written["threats"]["revenue"]["roc_auc"] > 0.7
    # The extra columns named in the mapping became model features of their own.
    assert "x_import_type" in result.bundle.builder.feature_names_


# The training configuration of DESIGN.md, word for word but for the file path and dates.
DESIGN_EXAMPLE = """
source:
  declarations: {export}/*.csv
  outcomes: null
  watchlist: null
  columns:
    declaration_id: Declaration ID
    lodged_at: Date
    office_id: Office ID
    transport_mode: Mode of Transport
    declarant_id: Declarant ID
    importer_id: Importer ID
    exporter_id: Seller ID
    origin_country: Country of Origin
    dispatch_country: Country of Departure
    hs_code: HS6 Code
    net_mass_kg: Net Mass
    customs_value_eur: Item Price
    duty_rate: Tax Rate
  values:
    transport_mode: {{"10": sea, "40": air}}
  extra_features:
    categorical: [Process Type, Import Type]
    numeric: []
  labels:
    revenue: {{column: Fraud, positive: [1]}}
split:
  train: [2024-01-01, 2024-02-29]
  valid: [2024-03-01, 2024-03-25]
  test:  [2024-03-26, 2024-04-09]
evaluation:
  inspection_rates: [0.01, 0.02, 0.05, 0.10]
"""


def test_the_design_example_configuration_trains_as_written(
    synthetic_dir: Path, tmp_path: Path, tracking_uri: str
) -> None:
    """An export shaped like DESIGN.md's example (HS6 codes, road and rail codes left to the
    WCO digit mapping) trains with that configuration and nothing else."""
    export = tmp_path / "export"
    research_export(synthetic_dir, export)
    for part in export.glob("*.csv"):
        table = pd.read_csv(part, dtype=str)
        table["HS6 Code"] = table.pop("HS10 Code").str[:-4]
        table.to_csv(part, index=False)
    path = tmp_path / "design.yaml"
    path.write_text(DESIGN_EXAMPLE.format(export=export))

    result = train(load_config(path), tracking_uri=tracking_uri, register=False)
    assert list(result.metrics["threats"]) == ["revenue"]
    assert result.metrics["threats"]["revenue"]["roc_auc"] > 0.7
    assert {"x_process_type", "x_import_type"} <= set(result.bundle.builder.feature_names_)
