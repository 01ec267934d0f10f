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

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from features.builder_state import read_state, write_state
from features.builder_text import (
    TextWeights,
    description_features,
    fit_chapter_state,
    fit_text,
    point_in_time_folds,
    text_models,
)
from features.calendar import calendar_features
from features.codes import CODE_FIELDS, code_values, encode, fit_vocabularies
from features.columns import DeclarationColumns
from features.curated_words import load_curated_words
from features.feature_lists import feature_lists
from features.history import EntityCounts, entity_history_features, smoothed_rate
from features.live import HistoryEvents, LiveInputs, live_point_in_time, no_live
from features.reference import ValueReference, fit_reference, value_features
from features.route import itinerary_features
from features.schema import DEFAULT_THREATS, label_column
from features.text import FULL_MODEL, ChapterAssociation, CodeProfiles, TextModel
from features.watchlist import watchlist_features

POSTAL_MODES = ("postal",)
PARCEL_VEHICLES = ("parcel",)
# The fitted attributes the saved state holds (features.builder_state); the fold assignment
# of the fit rows (``text_folds_``) stays in memory.
_SAVED = (
    "global_hit_rates_",
    "reference_",
    "vocabularies_",
    "curated_words_",
    "text_coefficients_",
    "text_intercepts_",
    "chapter_words_",
    "chapter_rows_",
    "code_words_",
)


class FeatureBuilder(BaseEstimator):
    """Fitted feature state plus the two transforms (training point-in-time, serving frozen).

    A scikit-learn estimator: ``__init__`` only stores the parameters below, ``fit`` learns
    the attributes ending in ``_``, and a transform before ``fit`` raises ``NotFittedError``.
    Its jobs beside fit and transform live beside it: which features it makes
    (`features.feature_lists`), the description part (`features.builder_text`) and the saved
    state (`features.builder_state`).

    Args:
        threats: threat names; labels are ``label_<threat>``.
        extra_categorical, extra_numeric: ``x_`` columns passed through as features.
        display_names: ``x_`` name -> source column name, kept for explanations.
        prior_strength: pseudo-outcomes at the global hit rate added to every entity's rate.
        reference_min_rows: rows an HS group needs before its own reference is used.
        vocabulary_size: codes kept per categorical field before the shared "other" code.
        text_folds: folds of the cross-fitted text scores.
        text_regularisation: inverse L2 strength (C) of the text logistic regression.
        text_code_digits: HS digits of the codes in a description's profile, the text
            model's language-independent columns (`features.text.description_profiles`).
        text_ngram_weight, text_profile_weight: scale of the n-gram and profile columns
            before the penalty (`features.builder_text.TextWeights`); measured on
            bench/bench_languages.py, where the profile's evidence, shared by every
            language's wording, closes the mixed-language gap.
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
        text_code_digits: int = 6,
        text_ngram_weight: float = 0.3,
        text_profile_weight: float = 10.0,
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
        self.text_code_digits = text_code_digits
        self.text_ngram_weight = text_ngram_weight
        self.text_profile_weight = text_profile_weight
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
        self._describe_features()
        self._forget_lookups()
        return self

    def _fit_text(self, declarations: pd.DataFrame, labels: pd.DataFrame) -> None:
        """The words' association with HS chapters and codes over every fit row, then
        per-threat text models on the labelled fit rows (`features.builder_text.fit_text`),
        which read the descriptions' code profiles from it.

        ``text_folds_`` (which fit row left which fold out) lives only in memory, for the
        point-in-time features of this training session; it is never saved.
        """
        code_words = fit_chapter_state(
            declarations, self.curated_words_, self.chapter_word_min_rows, self.text_code_digits
        )
        self.chapter_words_ = code_words.chapter_words
        self.chapter_rows_ = code_words.chapter_rows
        self.code_words_ = code_words.code_words
        text = fit_text(
            declarations,
            labels,
            self.threats,
            self.curated_words_,
            ChapterAssociation(self.chapter_words_, self.chapter_rows_, self.chapter_smoothing),
            CodeProfiles(self.code_words_),
            text_folds=self.text_folds,
            regularisation=self.text_regularisation,
            weights=TextWeights(self.text_ngram_weight, self.text_profile_weight),
            random_state=self.random_state,
        )
        self.text_folds_ = text.folds
        self.text_coefficients_ = text.coefficients
        self.text_intercepts_ = text.intercepts

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
        events: HistoryEvents | None = None,
    ) -> LiveInputs:
        """The live inputs each declaration had at its scoring moment (``scored_at``, aligned
        with the rows; default its ``lodged_at``), rebuilt from these declarations, labels
        (``known_at``: when each outcome became known) and watchlist (features.live).

        ``events`` is the history of one scoring-time range of a larger table
        (`features.partitions.time_partitions`: the state carried to the range's start plus
        its own events); its rows then get exactly what they get in the whole table.
        """
        check_is_fitted(self)
        _check_aligned(declarations, labels)
        scored_ns = None if scored_at is None else _nanoseconds(scored_at)
        return live_point_in_time(
            DeclarationColumns(declarations),
            labels,
            list(self.threats),
            watchlist,
            scored_ns,
            events=events,
        )

    def transform_point_in_time(
        self,
        declarations: pd.DataFrame,
        labels: pd.DataFrame,
        watchlist: pd.DataFrame | None = None,
        *,
        scored_at: pd.Series | None = None,
        events: HistoryEvents | None = None,
        live: LiveInputs | None = None,
    ) -> pd.DataFrame:
        """Training features: each row sees only events recorded strictly before its scoring
        moment (``live_point_in_time``), exactly what serving read from the store then.
        ``events``: one range of a larger table, as `live_point_in_time` takes it.
        ``live``: those inputs when the caller already rebuilt them (row for row with
        ``declarations``), so a training run rebuilds the history once.

        Labelled rows that trained the text models in this session get the score of the
        fold that left them out, so downstream models never see in-sample text scores; a
        loaded builder knows no fit rows and scores every row with the full text model.
        """
        if live is None:
            live = self.live_point_in_time(
                declarations, labels, watchlist, scored_at=scored_at, events=events
            )
        columns = DeclarationColumns(declarations)
        text_fold = point_in_time_folds(self.text_folds_, columns)
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
        features.update(
            description_features(
                columns,
                text_fold,
                self.threats,
                self.curated_words_,
                lookups.text_models,
                lookups.chapter_association,
                lookups.code_profiles,
            )
        )
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

    def _code_features(self, columns: DeclarationColumns) -> dict[str, np.ndarray]:
        return {
            field: encode(code_values(columns, field), vocabulary)
            for field, vocabulary in self.vocabularies_.items()
        }

    # ------------------------------------------------------------------ feature lists
    def _describe_features(self) -> None:
        lists = feature_lists(self.threats, self.extra_categorical, self.extra_numeric)
        self.feature_groups_ = lists.groups
        self.feature_names_ = lists.names
        self.categorical_features_ = lists.categorical
        self.feature_fields_ = lists.fields

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> list[Path]:
        """Write the fitted state as Parquet tables and one JSON file; returns the paths.

        Only what serving needs is saved: the text models fitted on all labelled rows, not
        the per-fold models nor which training declaration was in which fold (declaration
        ids do not travel with a model). A loaded builder therefore scores every row, in
        both transforms, with the full text model.
        """
        check_is_fitted(self)
        return write_state(
            directory, self._saved_params(), {name: getattr(self, name) for name in _SAVED}
        )

    @classmethod
    def load(cls, directory: str | Path) -> FeatureBuilder:
        """A builder equal to the one saved in ``directory``: the same serving features, bit
        for bit; point-in-time text scores come from the full text model for every row."""
        params, fitted = read_state(directory)
        builder = cls(**params)
        for name, value in fitted.items():
            setattr(builder, name, value)
        builder._describe_features()
        builder._forget_lookups()
        return builder


class FittedLookups:
    """Structures derived from a builder's fitted state for fast reads: the value reference
    with its back-off, the text models per (threat, fold), the chapter association, the
    words' code profiles and the output columns. Built once per fitted state; never
    saved (they are a function of what is)."""

    def __init__(
        self,
        reference: ValueReference,
        text_models: dict[tuple[str, int], TextModel],
        chapter_association: ChapterAssociation,
        code_profiles: CodeProfiles,
        feature_index: pd.Index,
    ) -> None:
        self.reference = reference
        self.text_models = text_models
        self.chapter_association = chapter_association
        self.code_profiles = code_profiles
        self.feature_index = feature_index

    @classmethod
    def build(cls, builder: FeatureBuilder) -> FittedLookups:
        """The lookups of ``builder``'s current fitted state."""
        code_profiles = CodeProfiles(builder.code_words_)
        return cls(
            reference=ValueReference(builder.reference_),
            text_models=text_models(
                builder.text_coefficients_, builder.text_intercepts_, code_profiles
            ),
            chapter_association=ChapterAssociation(
                builder.chapter_words_, builder.chapter_rows_, builder.chapter_smoothing
            ),
            code_profiles=code_profiles,
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
