"""Data tests of the synthetic generator: reproducible, canonical, realistic, learnable, no leak."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.tree import DecisionTreeClassifier
from typer.testing import CliRunner

from features import validation
from features.schema import DECLARATION_COLUMNS, OUTCOME_COLUMNS, WATCHLIST_COLUMNS
from shiprisk.cli import app
from training.synthetic import TRUTH_COLUMNS, SyntheticData, catalogue, generate, simulate
from training.synthetic.identifiers import codes_from_template, scrambled, zero_padded
from training.synthetic.languages import (
    ENGLISH,
    LOCAL_LANGUAGE_SHARE,
    spell,
    transliterate,
    vocabulary,
    write_descriptions,
)
from training.synthetic.selection import RANDOM_SELECTION_PROBABILITY

THREATS = ("weapons", "migrants", "revenue")
# Enough declarations for about 180 weapons and migrant cases: the smallest size at which the
# stump and model checks below gave the same verdict for every seed we tried (1-7).
LEARNABLE_DAYS, LEARNABLE_ROWS_PER_DAY, LEARNABLE_SEED = 200, 300, 7


@pytest.fixture(scope="module")
def small() -> SyntheticData:
    return simulate(start="2023-01-01", days=40, seed=11, rows_per_day=100)


@pytest.fixture(scope="module")
def learnable() -> SyntheticData:
    return simulate(
        start="2022-06-01",
        days=LEARNABLE_DAYS,
        seed=LEARNABLE_SEED,
        rows_per_day=LEARNABLE_ROWS_PER_DAY,
    )


# -- identifiers -----------------------------------------------------------------------------


def test_zero_padded_writes_fixed_width_digits() -> None:
    assert zero_padded(np.array([0, 42, 123456]), 6).tolist() == ["000000", "000042", "123456"]
    assert zero_padded(np.array([], dtype=np.int64), 4).tolist() == []


def test_codes_from_template_keeps_literals_and_draws_letters_and_digits() -> None:
    codes = codes_from_template(np.random.default_rng(0), "SK-9999-AA", 50)
    assert all(re.fullmatch(r"SK-\d{4}-[A-Z]{2}", code) for code in codes)
    assert len(set(codes)) > 45


def test_scrambled_numbers_are_distinct_for_distinct_entities() -> None:
    numbers = scrambled(np.arange(100_000), 10**6, 271)
    assert len(np.unique(numbers)) == 100_000
    assert numbers.min() >= 0 and numbers.max() < 10**6


# -- reproducibility and shape ---------------------------------------------------------------


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
def test_same_seed_writes_identical_bytes_and_another_seed_does_not(tmp_path, file_format) -> None:
    settings = {"start": "2024-03-01", "days": 6, "rows_per_day": 80, "file_format": file_format}
    first = generate(tmp_path / "a", seed=5, **settings)
    second = generate(tmp_path / "b", seed=5, **settings)
    other = generate(tmp_path / "c", seed=6, **settings)
    assert sorted(first) == ["declarations", "outcomes", "truth", "watchlist"]
    for name, path in first.items():
        assert path.name == f"{name}.{file_format}"
        assert path.read_bytes() == second[name].read_bytes(), name
    assert first["declarations"].read_bytes() != other["declarations"].read_bytes()


def test_output_does_not_depend_on_the_python_hash_seed(tmp_path) -> None:
    """Sets and dicts iterate in hash order: a run in another process must still match."""
    script = (
        "import sys; from training.synthetic import generate; "
        "generate(sys.argv[1], start='2024-03-01', days=4, seed=5, rows_per_day=80)"
    )
    digests = []
    for hash_seed in ("1", "2"):
        out = tmp_path / hash_seed
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-c", script, str(out)], check=True, env=env, timeout=120)
        digests.append({p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir()})
    assert len(digests[0]) == 4
    assert digests[0] == digests[1]


def test_tables_have_the_canonical_columns_in_order(small) -> None:
    assert tuple(small.declarations.columns) == DECLARATION_COLUMNS
    assert tuple(small.outcomes.columns) == OUTCOME_COLUMNS
    assert tuple(small.watchlist.columns) == WATCHLIST_COLUMNS
    assert tuple(small.truth.columns) == TRUTH_COLUMNS
    assert len(small.declarations) == 40 * 100
    assert small.truth["declaration_id"].equals(small.declarations["declaration_id"])


def test_generated_tables_are_already_canonical(small) -> None:
    declarations = validation.validate_declarations(small.declarations)
    outcomes = validation.validate_outcomes(
        small.outcomes, known_declaration_ids=small.declarations["declaration_id"]
    )
    watchlist = validation.validate_watchlist(small.watchlist)
    pd.testing.assert_frame_equal(declarations, small.declarations)
    pd.testing.assert_frame_equal(outcomes, small.outcomes)
    pd.testing.assert_frame_equal(watchlist, small.watchlist)


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
def test_files_read_back_and_validated_equal_the_simulated_tables(tmp_path, file_format) -> None:
    settings = {"start": "2023-05-01", "days": 10, "seed": 21, "rows_per_day": 100}
    paths = generate(tmp_path, file_format=file_format, **settings)
    expected = simulate(**settings)
    read = pd.read_parquet if file_format == "parquet" else pd.read_csv
    for name, validate in (
        ("declarations", validation.validate_declarations),
        ("outcomes", validation.validate_outcomes),
        ("watchlist", validation.validate_watchlist),
    ):
        pd.testing.assert_frame_equal(validate(read(paths[name])), getattr(expected, name))


def test_declarations_are_in_lodging_order_within_the_period(small) -> None:
    lodged = small.declarations["lodged_at"]
    assert lodged.is_monotonic_increasing
    assert lodged.min() >= pd.Timestamp("2023-01-01", tz="UTC")
    assert lodged.max() < pd.Timestamp("2023-02-10", tz="UTC")
    assert small.declarations["declaration_id"].is_unique


def test_region_offices_modes_and_vehicles_fit_together(small) -> None:
    d = small.declarations
    assert d["office_id"].str[:2].isin(["AL", "BA", "ME", "MK", "RS", "XK"]).all()
    assert set(d.loc[d["office_id"].str.endswith("-POSTAL"), "transport_mode"]) == {"postal"}
    assert set(d.loc[d["office_id"].str.endswith("-PORT"), "vehicle_type"]) == {"container"}
    trucks = d[d["vehicle_type"] == "truck"]
    assert trucks["transport_mode"].eq("road").all()
    assert (
        trucks["net_mass_kg"].median()
        > 50 * d.loc[d["vehicle_type"] == "parcel", "net_mass_kg"].median()
    )
    assert (d["gross_mass_kg"] >= d["net_mass_kg"]).all()


# -- past selection and outcomes -------------------------------------------------------------


def test_outcomes_exist_only_for_inspected_declarations_and_reflect_the_truth(small) -> None:
    outcomes = small.outcomes
    assert outcomes["declaration_id"].is_unique
    assert outcomes["declaration_id"].isin(small.declarations["declaration_id"]).all()
    joined = outcomes.merge(small.truth, on="declaration_id").merge(
        small.declarations[["declaration_id", "lodged_at"]], on="declaration_id"
    )
    assert len(joined) == len(outcomes)
    assert (joined["inspected_at"] > joined["lodged_at"]).all()
    # Inspections miss some cases but never find what is not there.
    assert (joined.loc[joined["weapons_found"], "weapons"] == 1).all()
    assert (joined.loc[joined["migrants_found"] > 0, "migrants"] == 1).all()
    found_people = joined[joined["migrants_found"] > 0]
    assert (found_people["migrants_found"] == found_people["migrants_count"]).all()
    found_duty = joined[joined["revenue_irregularity"]]
    assert (found_duty["revenue"] == 1).all()
    assert np.allclose(found_duty["additional_duty_eur_x"], found_duty["additional_duty_eur_y"])
    irregular = (
        joined["weapons_found"] | (joined["migrants_found"] > 0) | joined["revenue_irregularity"]
    )
    assert (joined["result"] == np.where(irregular, "irregular", "clear")).all()


def test_revenue_fraud_is_never_planted_on_a_weapons_case(learnable) -> None:
    """Revenue runs after weapons and leaves its rows alone: one scheme per smuggled load."""
    truth = learnable.truth
    assert truth["weapons"].sum() > 0 and truth["revenue"].sum() > 0
    assert not ((truth["weapons"] == 1) & (truth["revenue"] == 1)).any()
    assert truth.loc[truth["revenue"] == 0, "additional_duty_eur"].eq(0).all()
    assert (truth.loc[truth["revenue"] == 1, "additional_duty_eur"] >= 1).all()


def test_selection_probabilities_are_recorded_in_unit_interval(small) -> None:
    outcomes = small.outcomes
    probability = outcomes["selection_probability"]
    assert ((probability > 0) & (probability <= 1)).all()
    assert set(outcomes["selection_reason"]) == {"rule", "random"}
    # Every declaration keeps the random share; rules only raise the probability.
    assert probability.min() == pytest.approx(RANDOM_SELECTION_PROBABILITY)
    assert (
        outcomes.loc[outcomes["selection_reason"] == "rule", "selection_probability"] > 0.03
    ).all()


def test_inspection_rate_and_base_rates_are_inside_stated_bounds(learnable) -> None:
    n = len(learnable.declarations)
    assert 0.05 <= len(learnable.outcomes) / n <= 0.10
    truth = learnable.truth
    assert 0.001 <= truth["weapons"].mean() <= 0.005
    assert 0.002 <= truth["migrants"].mean() <= 0.005
    assert 0.01 <= truth["revenue"].mean() <= 0.06
    outcomes = learnable.outcomes
    assert 0.01 <= outcomes["revenue_irregularity"].mean() <= 0.15
    assert outcomes["weapons_found"].mean() < 0.02
    assert (outcomes["migrants_found"] > 0).mean() < 0.02


def test_rules_find_more_than_random_selection(learnable) -> None:
    outcomes = learnable.outcomes
    irregular = (outcomes["result"] == "irregular").groupby(outcomes["selection_reason"]).mean()
    assert irregular["rule"] > 1.5 * irregular["random"]


# -- entities, watchlist, drift --------------------------------------------------------------


def test_bad_actors_repeat(learnable) -> None:
    joined = learnable.declarations.merge(learnable.truth, on="declaration_id")
    weapon_vehicles = joined.loc[joined["weapons"] == 1, "vehicle_id"].value_counts()
    migrant_vehicles = joined.loc[joined["migrants"] == 1, "vehicle_id"].value_counts()
    assert weapon_vehicles.max() >= 2
    assert migrant_vehicles.max() >= 2
    fraudsters = joined.loc[joined["revenue"] == 1, "importer_id"].value_counts()
    assert fraudsters.max() >= 3


def test_watchlist_has_validity_windows_and_hits_outside_them(learnable) -> None:
    watchlist = learnable.watchlist
    assert set(watchlist["entity_type"]) == {
        "vehicle_id",
        "importer_id",
        "exporter_id",
        "carrier_id",
    }
    assert set(watchlist["threat"]) == set(THREATS)
    bounded = watchlist.dropna(subset=["valid_to"])
    assert (bounded["valid_to"] > bounded["valid_from"]).all()
    assert watchlist["valid_to"].isna().any()
    hits = []
    for entity_type, entries in watchlist.groupby("entity_type"):
        rows = learnable.declarations[["lodged_at", entity_type]].merge(
            entries, left_on=entity_type, right_on="entity_id"
        )
        hits.append(rows)
    hit = pd.concat(hits)
    inside = (hit["lodged_at"] >= hit["valid_from"]) & (
        hit["valid_to"].isna() | (hit["lodged_at"] <= hit["valid_to"])
    )
    assert inside.any() and (~inside).any()


def test_threats_drift_in_the_last_fifth_of_the_period(learnable) -> None:
    joined = learnable.declarations.merge(learnable.truth, on="declaration_id")
    start = joined["lodged_at"].min().normalize()
    drift_start = start + pd.Timedelta(days=int(LEARNABLE_DAYS * 0.8))
    late = joined["lodged_at"] >= drift_start
    weapons, migrants = joined["weapons"] == 1, joined["migrants"] == 1
    new_code = joined["hs_code"] == "84669195"
    new_office = joined["office_id"] == "RS-GRADINA"
    assert (weapons & new_code & late).sum() >= 3
    assert (weapons & new_code & ~late).sum() == 0
    share_late = (migrants & new_office & late).sum() / (migrants & late).sum()
    share_early = (migrants & new_office & ~late).sum() / (migrants & ~late).sum()
    assert share_late > 3 * share_early
    schemes = joined.loc[migrants, ["migrants_scheme"]].assign(late=late[migrants])
    assert set(schemes.loc[~schemes["late"], "migrants_scheme"]) == {
        "goods_vehicle",
        "passenger_vehicle",
    }
    assert "new_route" in set(schemes.loc[schemes["late"], "migrants_scheme"])


# -- learnable, but no single column gives a threat away ------------------------------------


def _halves(n: int) -> np.ndarray:
    return np.random.default_rng(0).random(n) < 0.5


@pytest.fixture(scope="module")
def column_codes(learnable) -> dict[str, tuple[bool, np.ndarray]]:
    """Each declaration column once: (is_category, integer codes or numbers)."""
    out = {}
    for column in learnable.declarations.columns:
        values = learnable.declarations[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            out[column] = (False, values.astype("int64").to_numpy(dtype=float))
        elif pd.api.types.is_numeric_dtype(values):
            out[column] = (False, values.to_numpy(dtype=float, na_value=-1.0))
        else:
            out[column] = (True, pd.factorize(values.fillna("<missing>"))[0])
    return out


def _target_encoded(codes: np.ndarray, target: np.ndarray, fit: np.ndarray) -> np.ndarray:
    """Smoothed share of positives per category, learnt on the fit half; unseen -> prior."""
    size = codes.max() + 1
    prior = target[fit].mean()
    positives = np.bincount(codes[fit], weights=target[fit], minlength=size)
    seen = np.bincount(codes[fit], minlength=size)
    return ((positives + 20 * prior) / (seen + 20))[codes]


def _counts(codes: np.ndarray) -> np.ndarray:
    """How often each value occurs in the whole table (new or rare entities stand out)."""
    return np.bincount(codes)[codes].astype(float)


@pytest.mark.parametrize("threat", THREATS)
def test_no_single_column_gives_a_threat_away(learnable, column_codes, threat) -> None:
    target = learnable.truth[threat].to_numpy()
    fit = _halves(len(target))
    encodings = {}
    for column, (is_category, values) in column_codes.items():
        if is_category:
            encodings[column] = _target_encoded(values, target, fit)
            encodings[f"{column} (count)"] = _counts(values)
        else:
            encodings[column] = values
    scores = {}
    for name, feature in encodings.items():
        stump = DecisionTreeClassifier(max_depth=1, random_state=0).fit(
            feature[fit, None], target[fit]
        )
        scores[name] = roc_auc_score(target[~fit], stump.predict_proba(feature[~fit, None])[:, 1])
    best = max(scores, key=scores.__getitem__)
    assert len(scores) > len(DECLARATION_COLUMNS)
    assert scores[best] < 0.85, f"{best} alone gives {threat} away: AUC {scores[best]:.3f}"


def _model_matrix(declarations: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Simple encodings: numbers as they are, hour of lodging, codes for small vocabularies,
    frequencies for identifiers, and the declared value per kg."""
    columns, categorical = [], []
    for column in declarations.columns:
        values = declarations[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            columns += [
                values.dt.hour.to_numpy(dtype=float),
                values.astype("int64").to_numpy(dtype=float),
            ]
            categorical += [False, False]
        elif pd.api.types.is_numeric_dtype(values):
            columns.append(values.to_numpy(dtype=float, na_value=np.nan))
            categorical.append(False)
        else:
            text = values.fillna("<missing>")
            if text.nunique() <= 250:
                columns.append(pd.Categorical(text).codes.astype(float))
                categorical.append(True)
            columns.append(_counts(pd.factorize(text)[0]))
            categorical.append(False)
    value_per_kg = np.log1p(declarations["customs_value_eur"]) - np.log1p(
        declarations["net_mass_kg"]
    )
    columns.append(value_per_kg.to_numpy(dtype=float))
    categorical.append(False)
    return np.column_stack(columns), np.array(categorical)


def test_all_columns_together_clearly_beat_chance(learnable) -> None:
    matrix, categorical = _model_matrix(learnable.declarations)
    fit = _halves(len(matrix))
    for threat in THREATS:
        target = learnable.truth[threat].to_numpy()
        # Regularised and without early stopping: a tenth held out would keep ~10 positives.
        model = HistGradientBoostingClassifier(
            max_iter=100,
            learning_rate=0.05,
            max_leaf_nodes=15,
            min_samples_leaf=40,
            l2_regularization=1.0,
            early_stopping=False,
            categorical_features=categorical,
            random_state=0,
        ).fit(matrix[fit], target[fit])
        auc = roc_auc_score(target[~fit], model.predict_proba(matrix[~fit])[:, 1])
        assert auc > 0.7, f"{threat}: AUC {auc:.3f}"


# -- languages ---------------------------------------------------------------------------------

CYRILLIC = re.compile(r"[\u0400-\u04ff]")
ENGLISH_DESCRIPTIONS = frozenset(
    text.casefold()
    for text in (
        *(text for commodity in catalogue.COMMODITIES for text in commodity.descriptions),
        *catalogue.WEAPON_MISDESCRIPTIONS,
    )
)
OFFICE_COUNTRY = {office.office_id: office.country for office in catalogue.OFFICES}


def _is_english(descriptions: pd.Series) -> pd.Series:
    """Whether each description is one of the catalogue's English texts (in any case)."""
    return descriptions.str.casefold().isin(ENGLISH_DESCRIPTIONS)


def _written(share: float, rows_per_day: int = 150) -> pd.DataFrame:
    declarations = simulate(
        start="2023-03-01",
        days=40,
        seed=21,
        rows_per_day=rows_per_day,
        local_language_share=share,
    ).declarations
    declarations = declarations[declarations["goods_description"].notna()]
    return declarations.assign(country=declarations["office_id"].map(OFFICE_COUNTRY))


def test_the_vocabulary_gives_every_catalogue_description_variants_in_every_language() -> None:
    words = vocabulary()
    english = {*catalogue.WEAPON_MISDESCRIPTIONS}
    english.update(text for commodity in catalogue.COMMODITIES for text in commodity.descriptions)
    english.update(
        text for texts in catalogue.PRINTED_PARTS_DESCRIPTIONS.values() for text in texts
    )
    assert set(words.variants) == english
    assert set(words.offices) == set(catalogue.REGION)
    for text, local in words.variants.items():
        assert set(local) == set(words.languages), text
        for language, variants in local.items():
            assert variants, (text, language)
            # No spelling of a local variant reads as an English description.
            spellings = {
                spell(words, text, language, variant, cyrillic, drop, bilingual=False)
                for variant in range(len(variants))
                for cyrillic in (False, True)
                for drop in (False, True)
            }
            assert not {s.casefold() for s in spellings} & ENGLISH_DESCRIPTIONS, (text, language)


@pytest.mark.parametrize(
    ("text", "letters", "expected"),
    [
        ("delovi za pištolj", "to_cyrillic", "делови за пиштољ"),
        ("PLA filament za 3D štampač", "to_cyrillic", "PLA филамент за 3D штампач"),
        ("ljepenka i njive, džak", "to_cyrillic", "љепенка и њиве, џак"),
        ("резервни делови", "to_latin", "rezervni delovi"),
        ("ќе ѓубре ѕвезда", "to_latin", "kje gjubre dzvezda"),
    ],
)
def test_transliteration_takes_letter_pairs_first_and_keeps_codes(text, letters, expected) -> None:
    assert transliterate(text, getattr(vocabulary(), letters)) == expected


@pytest.mark.parametrize("share", [0.3, LOCAL_LANGUAGE_SHARE, 0.9])
def test_local_share_per_office_country_is_the_configured_share(share) -> None:
    declarations = _written(share)
    local = ~_is_english(declarations["goods_description"])
    for country, written in local.groupby(declarations["country"]):
        n = len(written)
        tolerance = 4 * np.sqrt(share * (1 - share) / n)  # four binomial standard deviations
        assert abs(written.mean() - share) <= tolerance, (country, n, written.mean())


def test_share_zero_is_english_only_and_the_share_changes_nothing_but_descriptions() -> None:
    english = _written(0.0)
    local = _written(1.0)
    assert _is_english(english["goods_description"]).all()
    assert not _is_english(local["goods_description"]).any()
    pd.testing.assert_frame_equal(
        english.drop(columns="goods_description"), local.drop(columns="goods_description")
    )


def test_cyrillic_is_written_only_in_serbian_and_macedonian() -> None:
    declarations = _written(1.0)
    cyrillic = declarations["goods_description"].str.contains(CYRILLIC)
    by_country = cyrillic.groupby(declarations["country"]).mean()
    assert by_country[["RS", "MK"]].min() > 0.2
    assert (by_country[["AL", "BA", "ME"]] == 0).all()
    # Row by row: the languages written in Cyrillic are Serbian and Macedonian only.
    countries = declarations["country"].to_numpy(dtype=object)
    english = np.array(["spare parts"] * len(countries), dtype=object)
    written = write_descriptions(np.random.default_rng(3), english, countries, 1.0)
    assert set(written.language[written.cyrillic]) == {"sr", "mk"}
    assert not any(CYRILLIC.search(t) for t in written.text[~written.cyrillic])
    assert all(CYRILLIC.search(t) for t in written.text[written.cyrillic])


def test_writers_drop_diacritics_and_mix_in_english() -> None:
    texts = set(_written(1.0, rows_per_day=300)["goods_description"].str.casefold())
    assert {"rezervni delovi", "rezervni dijelovi", "pjesë këmbimi", "pjese kembimi"} <= texts
    assert {"čelični klinovi", "celicni klinovi"} <= texts
    assert any(t.endswith(" / spare parts") for t in texts)


@pytest.mark.parametrize(
    ("english", "country", "local"),
    [
        ("gun parts", "RS", {"delovi za pištolj", "delovi za pistolj", "делови за пиштољ"}),
        ("spare parts", "MK", {"резервни делови", "rezervni delovi", "pjesë këmbimi"}),
        ("spare parts", "AL", {"pjesë këmbimi", "pjese kembimi", "pjesë rezervë"}),
        ("samples", "BA", {"uzorci", "uzorak"}),
        ("metal parts", "ME", {"opruge", "metalni dijelovi"}),
        ("steel pins", "RS", {"čivije", "чивије", "opruge i klinovi"}),
        ("gas pistols", "XK", {"pistoleta me gaz"}),
        ("PLA filament", "MK", {"PLA филамент за 3D принтер"}),
    ],
)
def test_weapon_words_are_written_in_local_languages(english, country, local) -> None:
    rows = 2000
    written = write_descriptions(
        np.random.default_rng(5),
        np.full(rows, english, dtype=object),
        np.full(rows, country, dtype=object),
        1.0,
    )
    assert local <= set(written.text)


def test_weapon_part_parcels_carry_local_misdescriptions(learnable) -> None:
    parcels = learnable.truth["weapons_scheme"].eq("parts_by_post").to_numpy()
    descriptions = learnable.declarations["goods_description"][parcels].dropna()
    local = descriptions[~_is_english(descriptions)]
    misdescriptions = {
        text.casefold()
        for english in catalogue.WEAPON_MISDESCRIPTIONS
        for texts in vocabulary().variants[english].values()
        for text in texts
    }
    assert len(local) > 0.3 * len(descriptions)
    assert local.str.casefold().isin(misdescriptions).sum() >= 5


def test_a_local_spelling_stays_when_the_share_grows() -> None:
    rng_seed, rows = 9, 5000
    english = np.array(["samples", "spare parts", "gift"] * rows, dtype=object)
    countries = np.array(sorted(catalogue.REGION) * (len(english) // 6), dtype=object)
    english = english[: len(countries)]
    low = write_descriptions(np.random.default_rng(rng_seed), english, countries, 0.3)
    again = write_descriptions(np.random.default_rng(rng_seed), english, countries, 0.3)
    high = write_descriptions(np.random.default_rng(rng_seed), english, countries, 0.7)
    np.testing.assert_array_equal(low.text, again.text)
    was_local = low.language != ENGLISH
    np.testing.assert_array_equal(low.text[was_local], high.text[was_local])
    assert (high.language != ENGLISH).sum() > was_local.sum()


def test_a_share_outside_the_unit_interval_is_refused() -> None:
    with pytest.raises(ValueError, match=r"local_language_share must be within \[0, 1\], got 1.5"):
        simulate(start="2023-01-01", days=1, seed=0, rows_per_day=10, local_language_share=1.5)


# -- very small runs ------------------------------------------------------------------------------


@pytest.mark.parametrize(("days", "rows_per_day"), [(1, 1), (1, 4), (2, 1), (1, 2), (3, 5)])
def test_very_small_runs_give_canonical_tables(days, rows_per_day) -> None:
    for seed in range(4):
        data = simulate(start="2023-01-01", days=days, seed=seed, rows_per_day=rows_per_day)
        assert len(data.declarations) == days * rows_per_day == len(data.truth)
        validated = validation.validate_declarations(data.declarations)
        assert len(validated) == days * rows_per_day


# -- command line ------------------------------------------------------------------------------


def test_synth_command_writes_the_four_tables(tmp_path) -> None:
    out = tmp_path / "synthetic"
    options = ["--start", "2024-01-01", "--days", "5", "--seed", "3", "--rows-per-day", "60"]
    result = CliRunner().invoke(app, ["synth", "--out", str(out), *options, "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("300 declarations, ")
    assert sorted(p.name for p in out.iterdir()) == [
        "declarations.csv",
        "outcomes.csv",
        "truth.csv",
        "watchlist.csv",
    ]
    declarations = pd.read_csv(out / "declarations.csv", dtype=str)
    assert len(declarations) == 300
    assert declarations["lodged_at"].str.match(r"2024-01-0[1-5]T\d\d:\d\d:\d\dZ$").all()
    inspected = len(pd.read_csv(out / "outcomes.csv"))
    assert f"{inspected} inspected" in result.output


def test_synth_command_rejects_a_date_that_is_not_iso(tmp_path) -> None:
    result = CliRunner().invoke(app, ["synth", "--out", str(tmp_path), "--start", "01/02/2024"])
    assert result.exit_code == 2
    assert "expected a date as YYYY-MM-DD, got '01/02/2024'" in result.output
    assert not any(tmp_path.iterdir())


def test_synth_command_writes_english_only_at_share_zero(tmp_path) -> None:
    out = tmp_path / "synthetic"
    options = ["--days", "3", "--rows-per-day", "80", "--format", "csv"]
    english = CliRunner().invoke(
        app, ["synth", "--out", str(out), *options, "--local-language-share", "0"]
    )
    assert english.exit_code == 0, english.output
    descriptions = pd.read_csv(out / "declarations.csv", dtype=str)["goods_description"].dropna()
    assert _is_english(descriptions).all()
    mixed = CliRunner().invoke(app, ["synth", "--out", str(out), *options])
    assert mixed.exit_code == 0, mixed.output
    descriptions = pd.read_csv(out / "declarations.csv", dtype=str)["goods_description"].dropna()
    assert 0.4 < (~_is_english(descriptions)).mean() < 0.8


def test_synth_command_refuses_a_share_above_one(tmp_path) -> None:
    result = CliRunner().invoke(
        app, ["synth", "--out", str(tmp_path), "--local-language-share", "1.5"]
    )
    assert result.exit_code == 2
    assert "--local-language-share" in result.output
    assert not any(tmp_path.iterdir())


def test_synth_command_writes_a_one_declaration_run(tmp_path) -> None:
    result = CliRunner().invoke(
        app, ["synth", "--out", str(tmp_path), "--days", "1", "--rows-per-day", "1"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("1 declarations, ")
    assert len(pd.read_parquet(tmp_path / "declarations.parquet")) == 1
