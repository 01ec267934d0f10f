"""The feature matrix of declarations, written once for training and serving.

:class:`FeatureBuilder` learns what training can learn (reference values, vocabularies, text
models, global hit rates) and turns declarations plus their live inputs (entity history and
watchlist hits as of the scoring moment, `features.live.LiveInputs`) into features. Serving
reads the live inputs from the operational store for each batch; training computes the same
inputs point in time (``transform_point_in_time``), so both give identical features. The
saved state holds no declaration id, no history and no watchlist: Parquet and JSON only.

Serving scores one declaration per request, so a transform never scans the state: the first
transform after ``fit`` or ``load`` builds lookups from it (the value reference with its
back-off, text models, chapter words), and features are computed on numpy arrays read once
from the input frame. Every feature depends on its own row only: a declaration alone gets
exactly the features it gets inside a batch (tests/features/test_transform_speed_parity.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from features.calendar import calendar_features
from features.codes import CODE_FIELDS, code_values, encode, fit_vocabularies
from features.columns import DeclarationColumns, factorised, prefixes
from features.curated_words import CuratedWords, load_curated_words
from features.entities import ENTITY_KINDS
from features.history import (
    EntityCounts,
    entity_feature_names,
    entity_history_features,
    smoothed_rate,
)
from features.live import LiveInputs, live_point_in_time, no_live
from features.reference import ValueReference, fit_reference, value_features
from features.route import itinerary_features
from features.schema import DEFAULT_THREATS, WATCHLIST_ENTITY_TYPES, label_column
from features.text import (
    FULL_MODEL,
    WEAPON_CHAPTER,
    ChapterAssociation,
    TextModel,
    chapter_fit,
    description_matrix,
    fit_chapter_words,
    fit_threat_text_model,
    hashed_descriptions,
    normalised_descriptions,
    text_scores,
)
from features.watchlist import watchlist_feature_name, watchlist_feature_names, watchlist_features

# 2: descriptions normalised across scripts and diacritics, curated word lists in the state
# 3: entity history and watchlist live in the operational store, not in the state
FORMAT_VERSION = 3
FORMAT_CHANGES = {
    1: "format 2 reads descriptions in any script, with or without diacritics, and keeps the "
    "curated word lists with the model",
    2: "format 3 reads entity history and the watchlist from the operational store at scoring "
    "time instead of freezing them in the bundle",
}
STATE_FILE = "feature_builder.json"
REFERENCE_FILE = "reference.parquet"
TEXT_COEFFICIENTS_FILE = "text_coefficients.parquet"
CHAPTER_WORDS_FILE = "chapter_words.parquet"

VALUE_FEATURES: tuple[str, ...] = (
    "unit_value_vs_hs_median",
    "unit_value_robust_z",
    "unit_value_reference_level",
    "package_value_vs_hs_median",
    "package_value_robust_z",
    "gross_net_mass_ratio",
    "gross_mass_vs_vehicle_type_median",
    "customs_value_log",
    "net_mass_log",
    "packages",
    "duty_rate",
)
ITINERARY_FEATURES: tuple[str, ...] = (
    "itinerary_starts_elsewhere",
    "itinerary_ends_elsewhere",
    "transit_countries",
    "origin_differs_from_dispatch",
)
CALENDAR_FEATURES: tuple[str, ...] = ("lodged_hour", "lodged_weekday", "lodged_at_night")
POSTAL_FEATURES: tuple[str, ...] = ("postal_or_parcel", "postal_to_new_importer")
DESCRIPTION_FEATURES: tuple[str, ...] = (
    "description_weapon_words",
    "description_weapon_words_outside_ch93",
    "description_chapter_fit",
)
POSTAL_MODES = ("postal",)
PARCEL_VEHICLES = ("parcel",)

# Canonical fields each fixed feature is computed from (SHAP contributions are grouped by them).
FIXED_FEATURE_FIELDS: dict[str, list[str]] = {
    "unit_value_vs_hs_median": ["customs_value_eur", "net_mass_kg", "hs_code"],
    "unit_value_robust_z": ["customs_value_eur", "net_mass_kg", "hs_code"],
    "unit_value_reference_level": ["hs_code"],
    "package_value_vs_hs_median": ["customs_value_eur", "packages", "hs_code"],
    "package_value_robust_z": ["customs_value_eur", "packages", "hs_code"],
    "gross_net_mass_ratio": ["gross_mass_kg", "net_mass_kg"],
    "gross_mass_vs_vehicle_type_median": ["gross_mass_kg", "vehicle_type"],
    "customs_value_log": ["customs_value_eur"],
    "net_mass_log": ["net_mass_kg"],
    "packages": ["packages"],
    "duty_rate": ["duty_rate"],
    "itinerary_starts_elsewhere": ["itinerary", "dispatch_country"],
    "itinerary_ends_elsewhere": ["itinerary", "destination_country"],
    "transit_countries": ["itinerary"],
    "origin_differs_from_dispatch": ["origin_country", "dispatch_country"],
    "lodged_hour": ["lodged_at"],
    "lodged_weekday": ["lodged_at"],
    "lodged_at_night": ["lodged_at"],
    "postal_or_parcel": ["transport_mode", "vehicle_type"],
    "postal_to_new_importer": ["transport_mode", "vehicle_type", "importer_id"],
    "description_weapon_words": ["goods_description"],
    "description_weapon_words_outside_ch93": ["goods_description", "hs_code"],
    "description_chapter_fit": ["goods_description", "hs_code"],
    "hs_chapter": ["hs_code"],
}


class FeatureBuilder(BaseEstimator):
    """Fitted feature state plus the two transforms (training point-in-time, serving frozen).

    A scikit-learn estimator: ``__init__`` only stores the parameters below, ``fit`` learns
    the attributes ending in ``_``, and a transform before ``fit`` raises ``NotFittedError``.

    Args:
        threats: threat names; labels are ``label_<threat>``.
        extra_categorical, extra_numeric: ``x_`` columns passed through as features.
        display_names: ``x_`` name -> source column name, kept for explanations.
        prior_strength: pseudo-outcomes at the global hit rate added to every entity's rate.
        reference_min_rows: rows an HS group needs before its own reference is used.
        vocabulary_size: codes kept per categorical field before the shared "other" code.
        text_folds: folds of the cross-fitted text scores.
        text_regularisation: inverse L2 strength (C) of the text logistic regression.
        chapter_word_min_rows: fit rows a word needs to count in the chapter association.
        chapter_smoothing: pseudo-rows pulling P(chapter | word) toward the chapter share.
        rare_importer_declarations: fewer earlier declarations than this is a rare importer.
        random_state: seed of the text fold assignment.
        word_lists: extra curated word-list files (YAML, features/curated_words.py) read
            with the shipped ones at fit time; the words read are saved with the state.
    """

    # derived from the fitted state on first use (see _lookups); never saved
    _fitted_lookups: FittedLookups | None

    def __init__(
        self,
        threats: Sequence[str] = DEFAULT_THREATS,
        *,
        extra_categorical: Sequence[str] = (),
        extra_numeric: Sequence[str] = (),
        display_names: Mapping[str, str] | None = None,
        prior_strength: float = 20.0,
        reference_min_rows: int = 20,
        vocabulary_size: int = 50,
        text_folds: int = 5,
        text_regularisation: float = 0.1,
        chapter_word_min_rows: int = 5,
        chapter_smoothing: float = 1.0,
        rare_importer_declarations: int = 3,
        random_state: int = 0,
        word_lists: Sequence[str] = (),
    ) -> None:
        self.threats = threats
        self.extra_categorical = extra_categorical
        self.extra_numeric = extra_numeric
        self.display_names = display_names
        self.prior_strength = prior_strength
        self.reference_min_rows = reference_min_rows
        self.vocabulary_size = vocabulary_size
        self.text_folds = text_folds
        self.text_regularisation = text_regularisation
        self.chapter_word_min_rows = chapter_word_min_rows
        self.chapter_smoothing = chapter_smoothing
        self.rare_importer_declarations = rare_importer_declarations
        self.random_state = random_state
        self.word_lists = word_lists

    # ------------------------------------------------------------------ parameters
    def _saved_params(self) -> dict[str, Any]:
        """Constructor parameters as the saved state holds them (JSON: lists, a dict of names)."""
        return {
            **self.get_params(),
            "threats": list(self.threats),
            "extra_categorical": list(self.extra_categorical),
            "extra_numeric": list(self.extra_numeric),
            "display_names": dict(self.display_names or {}),
            "word_lists": list(self.word_lists),
        }

    # ------------------------------------------------------------------ fitting
    def fit(self, declarations: pd.DataFrame, labels: pd.DataFrame) -> FeatureBuilder:
        """Learn reference statistics, vocabularies, text models and global hit rates.

        Entity history and the watchlist are not learned: they are live inputs
        (`features.live`), read at transform time.
        """
        declarations, labels = _positional(declarations, labels)
        threats = list(self.threats)
        self.global_hit_rates_ = {}
        for threat in threats:
            known = labels[label_column(threat)].dropna()
            self.global_hit_rates_[threat] = float((known >= 0.5).mean()) if len(known) else 0.0
        self.reference_ = fit_reference(declarations, min_rows=self.reference_min_rows)
        self.vocabularies_ = fit_vocabularies(
            DeclarationColumns(declarations),
            [*CODE_FIELDS, *self.extra_categorical],
            self.vocabulary_size,
        )
        self.curated_words_ = load_curated_words(self.word_lists)
        self._fit_text(declarations, labels)
        self._fit_chapter_words(declarations)
        self._describe_features()
        self._forget_lookups()
        return self

    def _fit_text(self, declarations: pd.DataFrame, labels: pd.DataFrame) -> None:
        """Per-threat text models on the labelled fit rows: one per fold plus the full model.

        ``text_folds_`` (which fit row left which fold out) lives only in memory, for the
        point-in-time features of this training session; it is never saved.
        """
        threats = list(self.threats)
        label_values = labels[[label_column(threat) for threat in threats]].to_numpy(
            dtype=np.float64
        )
        labelled = ~np.isnan(label_values).all(axis=1)
        rows = np.flatnonzero(labelled)
        rng = np.random.default_rng(self.random_state)
        folds = rng.permutation(len(rows)) % self.text_folds
        self.text_folds_ = pd.DataFrame(
            {
                "declaration_id": declarations["declaration_id"]
                .iloc[rows]
                .astype("str")
                .to_numpy(),
                "fold": folds.astype(np.int64),
            }
        )
        texts = normalised_descriptions(
            DeclarationColumns(declarations).strings("goods_description")[rows]
        )
        text_codes, unique_texts = pd.factorize(texts)
        matrix = description_matrix(list(unique_texts))
        coefficient_tables = []
        self.text_intercepts_: dict[str, dict[int, float]] = {}
        for position, threat in enumerate(threats):
            y = label_values[rows, position]
            self.text_intercepts_[threat] = {}
            for fold in [FULL_MODEL, *range(self.text_folds)]:
                train = ~np.isnan(y) & (folds != fold)
                # distinct (text, label) pairs weighted by their row counts
                pair_keys, weights = np.unique(
                    text_codes[train].astype(np.int64) * 2 + y[train].astype(np.int64),
                    return_counts=True,
                )
                pair_text, pair_y = pair_keys // 2, pair_keys % 2
                indices, values, intercept = fit_threat_text_model(
                    matrix[pair_text],
                    pair_y,
                    weights.astype(np.float64),
                    self.text_regularisation,
                )
                self.text_intercepts_[threat][fold] = intercept
                coefficient_tables.append(
                    pd.DataFrame(
                        {"threat": threat, "fold": fold, "index": indices, "value": values}
                    )
                )
        self.text_coefficients_ = pd.concat(coefficient_tables, ignore_index=True).astype(
            {"threat": "str", "fold": np.int64, "index": np.int64, "value": np.float64}
        )

    def _fit_chapter_words(self, declarations: pd.DataFrame) -> None:
        columns = DeclarationColumns(declarations)
        texts = pd.Series(
            normalised_descriptions(columns.strings("goods_description")), dtype="str"
        )
        chapters = pd.Series(prefixes(columns.strings("hs_code"), 2), dtype="str")
        pairs = (
            pd.DataFrame({"text": texts, "chapter": chapters}).dropna().value_counts().sort_index()
        )
        self.chapter_words_ = fit_chapter_words(
            list(pairs.index.get_level_values("text")),
            pd.Series(pairs.index.get_level_values("chapter"), dtype="str"),
            pairs.to_numpy(dtype=np.float64),
            self.chapter_word_min_rows,
        )
        self.chapter_rows_ = {
            str(chapter): float(count)
            for chapter, count in chapters.value_counts().sort_index().items()
        }

    # ------------------------------------------------------------------ lookup structures
    def _forget_lookups(self) -> None:
        """Drop the lookup structures derived from the fitted state (after fit or load)."""
        self._fitted_lookups = None

    def _lookups(self) -> FittedLookups:
        """Reference, watchlist, text and chapter structures, built on first use."""
        lookups = getattr(self, "_fitted_lookups", None)
        if lookups is None:
            lookups = FittedLookups.build(self)
            self._fitted_lookups = lookups
        return lookups

    # ------------------------------------------------------------------ transforms
    def transform(self, declarations: pd.DataFrame, live: LiveInputs | None = None) -> pd.DataFrame:
        """Serving features from the declarations and their live inputs (entity history and
        watchlist hits at the scoring moment; None: an empty store, nothing known).

        Each row's features depend on that row alone, so one declaration scored by itself
        gets exactly the features it gets inside a batch.
        """
        check_is_fitted(self)
        return self._frame(
            self.transform_columns(DeclarationColumns(declarations), live), declarations
        )

    def transform_columns(
        self, columns: DeclarationColumns, live: LiveInputs | None = None
    ) -> np.ndarray:
        """`transform` as a float64 block (rows x ``feature_names_``), from declaration columns.

        The API reads its typed records straight into `DeclarationColumns.from_arrays` and
        scores this block: the same features as `transform`, without a frame on either side.
        """
        check_is_fitted(self)
        if live is None:
            live = no_live(columns, list(self.threats))
        text_fold = np.full(len(columns), FULL_MODEL)
        return self._assemble(columns, live, text_fold)

    def live_point_in_time(
        self,
        declarations: pd.DataFrame,
        labels: pd.DataFrame,
        watchlist: pd.DataFrame | None = None,
        *,
        scored_at: pd.Series | None = None,
    ) -> LiveInputs:
        """The live inputs each declaration had at its scoring moment (``scored_at``, aligned
        with the rows; default its ``lodged_at``), rebuilt from these declarations, labels
        (``known_at``: when each outcome became known) and watchlist (features.live)."""
        check_is_fitted(self)
        _check_aligned(declarations, labels)
        scored_ns = None if scored_at is None else _nanoseconds(scored_at)
        return live_point_in_time(
            DeclarationColumns(declarations), labels, list(self.threats), watchlist, scored_ns
        )

    def transform_point_in_time(
        self,
        declarations: pd.DataFrame,
        labels: pd.DataFrame,
        watchlist: pd.DataFrame | None = None,
        *,
        scored_at: pd.Series | None = None,
    ) -> pd.DataFrame:
        """Training features: each row sees only events recorded strictly before its scoring
        moment (``live_point_in_time``), exactly what serving read from the store then.

        Labelled rows that trained the text models in this session get the score of the
        fold that left them out, so downstream models never see in-sample text scores; a
        loaded builder knows no fit rows and scores every row with the full text model.
        """
        live = self.live_point_in_time(declarations, labels, watchlist, scored_at=scored_at)
        columns = DeclarationColumns(declarations)
        fold_of = dict(
            zip(
                self.text_folds_["declaration_id"].tolist(),
                self.text_folds_["fold"].tolist(),
                strict=True,
            )
        )
        text_fold = np.fromiter(
            (
                fold_of.get(identifier, FULL_MODEL)
                for identifier in columns.strings("declaration_id").tolist()
            ),
            dtype=np.int64,
            count=len(columns),
        )
        return self._frame(self._assemble(columns, live, text_fold), declarations)

    def _frame(self, block: np.ndarray, declarations: pd.DataFrame) -> pd.DataFrame:
        """The feature block as a frame on the declarations' index."""
        return pd.DataFrame(
            block, index=declarations.index, columns=self._lookups().feature_index, copy=False
        )

    def _assemble(
        self, columns: DeclarationColumns, live: LiveInputs, text_fold: np.ndarray
    ) -> np.ndarray:
        """Every feature group from the declarations and their live inputs, as one float64
        block (rows x ``feature_names_``)."""
        threats = list(self.threats)
        lookups = self._lookups()
        lodged_ns = columns.nanoseconds("lodged_at")
        counts = live.counts
        features = entity_history_features(
            counts, lodged_ns, threats, self.global_hit_rates_, self.prior_strength
        )
        features.update(value_features(columns, lookups.reference))
        features.update(itinerary_features(columns))
        features.update(self._transit_features(len(columns), live.transit_rows, live.transit))
        features.update(calendar_features(columns))
        features.update(self._postal_features(columns, counts["importer"]))
        features.update(self._text_features(columns, text_fold, lookups))
        features.update(watchlist_features(len(columns), live.watchlist, threats))
        features.update(self._code_features(columns))
        for name in self.extra_numeric:
            features[name] = columns.numbers(name)
        block = np.stack([features[name] for name in self.feature_names_], dtype=np.float64)
        # A ratio over a subnormal mass (5e-324 kg passes every rule) overflows to infinity:
        # no feature is infinite, it is unknown.
        block[np.isinf(block)] = np.nan
        return block.T

    def _transit_features(
        self, rows: int, transit_rows: np.ndarray, transit_counts: EntityCounts
    ) -> dict[str, np.ndarray]:
        """Highest smoothed hit rate among the transit countries of each itinerary."""
        features = {}
        for threat in self.threats:
            rates = smoothed_rate(
                transit_counts[f"hits_{threat}"],
                transit_counts[f"labelled_{threat}"],
                self.global_hit_rates_[threat],
                self.prior_strength,
            )
            highest = np.full(rows, np.nan)
            np.fmax.at(highest, transit_rows, rates)
            features[f"transit_hit_rate_max_{threat}"] = highest
        return features

    def _postal_features(
        self, columns: DeclarationColumns, importer_counts: EntityCounts
    ) -> dict[str, np.ndarray]:
        """Postal or parcel consignments, and those going to a rarely seen importer."""
        postal = np.array(
            [
                mode in POSTAL_MODES or vehicle in PARCEL_VEHICLES
                for mode, vehicle in zip(
                    columns.strings("transport_mode").tolist(),
                    columns.strings("vehicle_type").tolist(),
                    strict=True,
                )
            ],
            dtype=np.float64,
        )
        seen = importer_counts["declarations"]
        rare = np.where(np.isnan(seen), np.nan, (seen < self.rare_importer_declarations) * 1.0)
        return {"postal_or_parcel": postal, "postal_to_new_importer": postal * rare}

    def _text_features(
        self, columns: DeclarationColumns, text_fold: np.ndarray, lookups: FittedLookups
    ) -> dict[str, np.ndarray]:
        """Per-threat text scores (fold or full model per row) and description/HS mismatch."""
        texts = normalised_descriptions(columns.strings("goods_description"))
        codes, unique_texts = factorised(texts.tolist())
        unique_list = [str(text) for text in unique_texts]
        descriptions, words = hashed_descriptions(unique_list)
        features: dict[str, np.ndarray] = {}
        folds = np.unique(text_fold).tolist()
        models = [(threat, fold) for threat in self.threats for fold in folds]
        scores = text_scores(descriptions, [lookups.text_models[model] for model in models])
        for threat in self.threats:
            column = np.full(len(columns), np.nan)
            for fold in folds:
                rows = text_fold == fold
                column[rows] = scores[codes[rows], models.index((threat, fold))]
            features[f"text_score_{threat}"] = column

        chapters = prefixes(columns.strings("hs_code"), 2)
        weapon_words = self.curated_words_.counts(unique_list)[codes]
        features["description_weapon_words"] = weapon_words
        features["description_weapon_words_outside_ch93"] = np.where(
            np.equal(chapters, WEAPON_CHAPTER), 0.0, weapon_words
        )
        # the chapter fit of each distinct (description, chapter) pair
        pair_codes, pairs = factorised(list(zip(codes.tolist(), chapters.tolist(), strict=True)))
        fit = chapter_fit(
            words.take([text for text, _ in pairs]),
            np.array([chapter for _, chapter in pairs], dtype=object),
            lookups.chapter_association,
        )
        features["description_chapter_fit"] = fit[pair_codes]
        return features

    def _code_features(self, columns: DeclarationColumns) -> dict[str, np.ndarray]:
        return {
            field: encode(code_values(columns, field), vocabulary)
            for field, vocabulary in self.vocabularies_.items()
        }

    # ------------------------------------------------------------------ feature lists
    def _describe_features(self) -> None:
        threats = list(self.threats)
        groups: dict[str, list[str]] = {
            "history": [
                name for kind in ENTITY_KINDS for name in entity_feature_names(kind.name, threats)
            ],
            "value": list(VALUE_FEATURES),
            "route": [
                *ITINERARY_FEATURES,
                *[f"transit_hit_rate_max_{threat}" for threat in threats],
            ],
            "calendar": list(CALENDAR_FEATURES),
            "postal": list(POSTAL_FEATURES),
            "text": [*[f"text_score_{threat}" for threat in threats], *DESCRIPTION_FEATURES],
            "watchlist": watchlist_feature_names(threats),
            "codes": [*CODE_FIELDS, *self.extra_categorical],
            "extra": list(self.extra_numeric),
        }
        self.feature_groups_ = groups
        self.feature_names_ = [name for names in groups.values() for name in names]
        self.categorical_features_ = list(groups["codes"])
        fields: dict[str, list[str]] = {}
        for kind in ENTITY_KINDS:
            for name in entity_feature_names(kind.name, threats):
                fields[name] = list(kind.fields)
        for threat in threats:
            fields[f"transit_hit_rate_max_{threat}"] = ["itinerary"]
            fields[f"text_score_{threat}"] = ["goods_description"]
        for entity_type in WATCHLIST_ENTITY_TYPES:
            for threat in threats:
                fields[watchlist_feature_name(entity_type, threat)] = [entity_type]
        for threat in threats:
            fields[f"watchlist_hits_{threat}"] = list(WATCHLIST_ENTITY_TYPES)
        for name in [*CODE_FIELDS, *self.extra_categorical, *self.extra_numeric]:
            fields.setdefault(name, [name])
        for name, source in FIXED_FEATURE_FIELDS.items():
            fields[name] = list(source)
        self.feature_fields_ = {name: fields[name] for name in self.feature_names_}

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> list[Path]:
        """Write the fitted state as Parquet tables and one JSON file; returns the paths.

        Only what serving needs is saved: the text models fitted on all labelled rows, not
        the per-fold models nor which training declaration was in which fold (declaration
        ids do not travel with a model). A loaded builder therefore scores every row, in
        both transforms, with the full text model.
        """
        check_is_fitted(self)
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        full_model = self.text_coefficients_["fold"] == FULL_MODEL
        tables = {
            REFERENCE_FILE: self.reference_,
            TEXT_COEFFICIENTS_FILE: self.text_coefficients_[full_model].reset_index(drop=True),
            CHAPTER_WORDS_FILE: self.chapter_words_,
        }
        paths = []
        for name, table in tables.items():
            path = directory / name
            table.to_parquet(path, index=False)
            paths.append(path)
        state = {
            "format_version": FORMAT_VERSION,
            "params": self._saved_params(),
            "global_hit_rates": self.global_hit_rates_,
            "vocabularies": self.vocabularies_,
            "text_intercepts": {
                threat: {str(FULL_MODEL): intercepts[FULL_MODEL]}
                for threat, intercepts in self.text_intercepts_.items()
            },
            "chapter_rows": self.chapter_rows_,
            "curated_words": self.curated_words_.to_state(),
        }
        path = directory / STATE_FILE
        path.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")
        paths.append(path)
        return paths

    @classmethod
    def load(cls, directory: str | Path) -> FeatureBuilder:
        """A builder equal to the one saved in ``directory``: the same serving features, bit
        for bit; point-in-time text scores come from the full text model for every row."""
        directory = Path(directory)
        state = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
        if state["format_version"] != FORMAT_VERSION:
            raise ValueError(
                f"feature state in {directory} has format {state['format_version']}, "
                f"this shiprisk reads format {FORMAT_VERSION}: retrain the model"
                + "".join(
                    f" ({change})"
                    for version, change in FORMAT_CHANGES.items()
                    if version >= state["format_version"]
                )
            )
        params: dict[str, Any] = {
            key: tuple(value) if isinstance(value, list) else value
            for key, value in state["params"].items()
        }
        builder = cls(**params)
        builder.global_hit_rates_ = {k: float(v) for k, v in state["global_hit_rates"].items()}
        builder.vocabularies_ = {
            field: {str(value): int(code) for value, code in vocabulary.items()}
            for field, vocabulary in state["vocabularies"].items()
        }
        builder.text_intercepts_ = {
            threat: {int(fold): float(value) for fold, value in intercepts.items()}
            for threat, intercepts in state["text_intercepts"].items()
        }
        builder.chapter_rows_ = {k: float(v) for k, v in state["chapter_rows"].items()}
        builder.curated_words_ = CuratedWords.from_state(state["curated_words"])
        builder.reference_ = pd.read_parquet(directory / REFERENCE_FILE)
        builder.text_coefficients_ = pd.read_parquet(directory / TEXT_COEFFICIENTS_FILE)
        builder.text_folds_ = pd.DataFrame(
            {"declaration_id": pd.Series([], dtype="str"), "fold": pd.Series([], dtype=np.int64)}
        )
        builder.chapter_words_ = pd.read_parquet(directory / CHAPTER_WORDS_FILE)
        builder._describe_features()
        builder._forget_lookups()
        return builder


class FittedLookups:
    """Structures derived from a builder's fitted state for fast reads: the value reference
    with its back-off, the text models per (threat, fold),
    the chapter association and the output columns. Built once per fitted state; never
    saved (they are a function of what is)."""

    def __init__(
        self,
        reference: ValueReference,
        text_models: dict[tuple[str, int], TextModel],
        chapter_association: ChapterAssociation,
        feature_index: pd.Index,
    ) -> None:
        self.reference = reference
        self.text_models = text_models
        self.chapter_association = chapter_association
        self.feature_index = feature_index

    @classmethod
    def build(cls, builder: FeatureBuilder) -> FittedLookups:
        """The lookups of ``builder``'s current fitted state."""
        coefficients = builder.text_coefficients_
        by_model = {
            (str(threat), int(cast(int, fold))): table
            for (threat, fold), table in coefficients.groupby(["threat", "fold"], sort=True)
        }
        empty = coefficients.iloc[:0]
        text_models = {
            (threat, fold): TextModel.from_table(by_model.get((threat, fold), empty), intercept)
            for threat, intercepts in builder.text_intercepts_.items()
            for fold, intercept in intercepts.items()
        }
        return cls(
            reference=ValueReference(builder.reference_),
            text_models=text_models,
            chapter_association=ChapterAssociation(
                builder.chapter_words_, builder.chapter_rows_, builder.chapter_smoothing
            ),
            feature_index=pd.Index(builder.feature_names_, dtype="str"),
        )


def _check_aligned(declarations: pd.DataFrame, labels: pd.DataFrame) -> None:
    """Labels must have one row per declaration, in the same order."""
    if len(labels) != len(declarations):
        raise ValueError(
            f"labels has {len(labels)} rows but declarations has {len(declarations)}: "
            "the labels frame must be aligned row for row with the declarations"
        )


def _nanoseconds(moments: pd.Series) -> np.ndarray:
    """Datetimes (any parseable form, UTC) as int64 ns."""
    from features.live import scored_nanoseconds

    return scored_nanoseconds(moments.reset_index(drop=True))


def _positional(
    declarations: pd.DataFrame, labels: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both frames with a RangeIndex; labels are aligned with declarations row for row."""
    _check_aligned(declarations, labels)
    return declarations.reset_index(drop=True), labels.reset_index(drop=True)
