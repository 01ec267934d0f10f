"""The synthetic catalogue's tables live in catalogue.yaml, read on first use only."""

from __future__ import annotations

import subprocess
import sys

import pytest

from training.synthetic import catalogue


def test_importing_the_catalogue_reads_no_file() -> None:
    code = (
        "import training.synthetic.catalogue as c; "
        "print(c.tables.cache_info().currsize); c.OFFICES; print(c.tables.cache_info().currsize)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "1"]


def test_old_names_read_the_yaml_tables() -> None:
    assert catalogue.OFFICES is catalogue.tables().offices
    assert catalogue.tables().weapon_misdescriptions == catalogue.WEAPON_MISDESCRIPTIONS
    with pytest.raises(AttributeError):
        _ = catalogue.NOT_A_TABLE


def test_country_codes_stay_strings() -> None:
    # YAML reads a bare NO (Norway) as false: the file quotes it.
    assert "NO" in catalogue.PREFERENTIAL_ORIGINS
    assert all(isinstance(code, str) for code in catalogue.PREFERENTIAL_ORIGINS)


def test_offices_belong_to_the_region_and_face_a_neighbour_only_on_land() -> None:
    offices = catalogue.OFFICES
    assert len({office.office_id for office in offices}) == len(offices)
    assert {office.country for office in offices} == set(catalogue.REGION)
    assert all(office.weight > 0 for office in offices)
    assert all(office.neighbour is None for office in offices if office.kind in ("port", "postal"))
    assert catalogue.MIGRANT_DRIFT_OFFICE in {office.office_id for office in offices}


@pytest.mark.parametrize(
    "name",
    ["PORT_DISPATCH", "AIR_DISPATCH", "EXPRESS_DISPATCH", "POSTAL_DISPATCH", "RAIL_DISPATCH"],
)
def test_dispatch_shares_sum_to_one(name: str) -> None:
    assert sum(weight for _, weight in getattr(catalogue, name)) == pytest.approx(1.0)
