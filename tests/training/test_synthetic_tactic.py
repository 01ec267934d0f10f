"""Data tests of the generator's optional new tactic (training/synthetic/tactic.py)."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from features import validation
from training.synthetic import NewTactic, SyntheticData, generate, simulate
from training.synthetic.tactic import SCHEME

START, DAYS, TACTIC_DAY = "2024-03-01", 40, 20

# sha256 of the CSV tables for start 2024-03-01, 20 days, seed 11, 120 rows a day, written by
# the generator before the tactic existed (commit a073204): with the tactic off (the default)
# the generator must still write exactly these bytes.
BEFORE_THE_TACTIC = {
    "declarations": "2349b29a7e3d7f528c88175548db297d32499eba124d9ae3e2db4846d229fa11",
    "outcomes": "1c0cc9901562bb1aa3bdd9e9255392bedff38038a397e0b769b75ec80a57b390",
    "watchlist": "7d36055c3651377bbb71e5007d485d6e5cbdfd199c509104bde48568388128de",
    "truth": "7574b3a7ddd4a126d5ea263b68b358b785e0b2ba550d88a37ac2909125f7cefc",
}


@pytest.fixture(scope="module")
def without() -> SyntheticData:
    return simulate(start=START, days=DAYS, seed=11, rows_per_day=300)


@pytest.fixture(scope="module")
def with_tactic() -> SyntheticData:
    return simulate(
        start=START, days=DAYS, seed=11, rows_per_day=300, new_tactic=NewTactic(TACTIC_DAY)
    )


def before_start(data: SyntheticData) -> np.ndarray:
    first_day = pd.Timestamp(START, tz="UTC") + pd.Timedelta(days=TACTIC_DAY)
    return (data.declarations["lodged_at"] < first_day).to_numpy()


def _tactic_rows(data: SyntheticData) -> np.ndarray:
    return (data.truth["weapons_scheme"] == SCHEME).fillna(False).to_numpy(dtype=bool)


def test_with_the_tactic_off_the_generator_writes_the_same_bytes_as_before(tmp_path) -> None:
    paths = generate(tmp_path, start=START, days=20, seed=11, rows_per_day=120, file_format="csv")
    digests = {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in paths.items()}
    assert digests == BEFORE_THE_TACTIC


def test_explicitly_off_is_the_default(tmp_path) -> None:
    settings = {"start": START, "days": 6, "seed": 3, "rows_per_day": 80, "file_format": "csv"}
    default = generate(tmp_path / "a", **settings)
    off = generate(tmp_path / "b", new_tactic=None, **settings)
    on = generate(tmp_path / "c", new_tactic=NewTactic(start_day=2, share=0.3), **settings)
    for name in default:
        assert default[name].read_bytes() == off[name].read_bytes(), name
    assert default["truth"].read_bytes() != on["truth"].read_bytes()


def test_the_tactic_starts_on_its_day_and_leaves_the_days_before_as_they_were(
    without, with_tactic
) -> None:
    rows = _tactic_rows(with_tactic)
    first_day = pd.Timestamp(START, tz="UTC") + pd.Timedelta(days=TACTIC_DAY)
    lodged = with_tactic.declarations["lodged_at"]
    assert rows.sum() >= 20
    assert (lodged[rows] >= first_day).all()
    assert not _tactic_rows(without).any()
    before = (lodged < first_day).to_numpy()
    assert (without.declarations["lodged_at"] < first_day).sum() == before.sum()
    pd.testing.assert_frame_equal(
        without.truth[before].reset_index(drop=True),
        with_tactic.truth[before].reset_index(drop=True),
    )
    # The past inspections draw from the run's generator as many times as they inspect, so
    # which declarants write in capitals or leave the description out may change; the texts
    # and every other field stay.
    old = without.declarations[before].reset_index(drop=True)
    new = with_tactic.declarations[before].reset_index(drop=True)
    old_text, new_text = old.pop("goods_description"), new.pop("goods_description")
    pd.testing.assert_frame_equal(old, new)
    both = old_text.notna() & new_text.notna()
    assert both.mean() > 0.9
    assert (old_text[both].str.casefold() == new_text[both].str.casefold()).all()


def test_tactic_rows_look_as_domain_md_describes_them(with_tactic) -> None:
    rows = _tactic_rows(with_tactic)
    tactic = with_tactic.declarations[rows]
    everything_else = with_tactic.declarations[~rows]
    assert set(tactic["vehicle_type"]) == {"parcel"}
    assert set(tactic["flow"]) == {"import"}
    assert set(tactic["dispatch_country"]) == {"HK"}
    assert set(tactic["origin_country"]) == {"CN"}  # made in China, as such goods usually are
    assert not (
        with_tactic.declarations["dispatch_country"][before_start(with_tactic)] == "HK"
    ).any()
    assert {code[:4] for code in tactic["hs_code"]} == {"9503", "3916"}
    assert tactic["net_mass_kg"].max() <= 5.0
    assert tactic["importer_id"].str.startswith("P6").all()
    assert tactic["importer_id"].nunique() >= 0.9 * len(tactic)  # first-time consignees
    assert tactic["exporter_id"].nunique() == 3  # a few new sellers, again and again
    # New: nobody sold from there before the tactic started, and its sellers are nobody else's.
    assert not with_tactic.declarations["exporter_id"].isin(tactic["exporter_id"])[~rows].any()
    # Cover: ordinary parcels come from the new country too, so it alone is no proof.
    cover = everything_else[everything_else["dispatch_country"] == "HK"]
    assert len(cover) > len(tactic)
    # Labelled as weapons in the truth, nothing else.
    truth = with_tactic.truth[rows]
    assert (truth["weapons"] == 1).all() and (truth["migrants"] == 0).all()
    assert (truth["revenue"] == 0).all()
    validation.validate_declarations(with_tactic.declarations)


def test_the_past_rules_never_select_the_tactic(with_tactic) -> None:
    """The generator's past rules (selection._rules) look for chapter 93, disguise codes from
    US or TR, watchlist hits: none of them holds for the tactic, so only the random share
    ever inspected one."""
    rows = _tactic_rows(with_tactic)
    ids = set(with_tactic.declarations["declaration_id"][rows])
    inspected = with_tactic.outcomes[with_tactic.outcomes["declaration_id"].isin(ids)]
    assert set(inspected["selection_reason"]) <= {"random"}


@pytest.mark.parametrize(
    "settings",
    [
        {"start_day": -1},
        {"start_day": 1, "share": 1.5},
        {"start_day": 1, "share": 0.6, "cover_share": 0.6},
        {"start_day": 1, "sellers": 0},
        {"start_day": 1, "dispatch": "hk"},
        {"start_day": 1, "declared_origin": "CHN"},
    ],
)
def test_invalid_tactic_settings_are_refused(settings) -> None:
    with pytest.raises(ValueError):
        NewTactic(**settings)
