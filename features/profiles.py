"""Risk profiles: rules risk managers write, matched against every scored declaration.

A `RiskProfile` is the document a risk manager writes (DESIGN.md "Risk profile"): criteria in
the language of `features.criteria`, an action (a lane for all matches, or for a share of
them as in ASYCUDA's MODSEL), rationale and instructions for the examining officer, owner,
offices, validity window and review date. `ProfileSet` is the set in force, compiled once
and matched against a batch at once (`ProfileSet.matches`).

A share below 100% is drawn per declaration and profile from a hash of both ids
(`selection_draw`): the same declaration always gets the same answer from the same profile,
on every scoring path and in every process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from features.columns import DeclarationColumns
from features.criteria import AllOf, Criterion, Office, check_shape
from features.criteria_matching import compile_criteria
from features.watchlist import WatchlistHits

PROFILE_LANES = ("red", "yellow")
PROFILE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
# Ids the pages use as paths of their own (``/web/profiles/new`` is the create form).
RESERVED_PROFILE_IDS = frozenset({"new"})
NEVER_NS = np.iinfo(np.int64).max


class ProfileAction(BaseModel):
    """What a match does: the lane, for ``percent`` of the matching declarations."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lane: Literal["red", "yellow"]
    percent: float = Field(100.0, gt=0.0, le=100.0)


class RiskProfile(BaseModel):
    """One risk profile as a risk manager writes it (YAML, or the body of POST /v1/profiles)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=PROFILE_ID_PATTERN)]
    title: Annotated[str, Field(min_length=1, max_length=200)]
    threat: Annotated[str, Field(min_length=1, max_length=200)]
    criteria: Criterion
    action: ProfileAction
    rationale: Annotated[str, Field(min_length=1, max_length=2000)]
    instructions: Annotated[str, Field(max_length=2000)] = ""
    owner: Annotated[str, Field(min_length=1, max_length=200)]
    offices: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=1000
    )
    valid_from: datetime
    valid_to: datetime | None = None
    review_date: date | None = None

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, profile_id: str) -> str:
        if profile_id in RESERVED_PROFILE_IDS:
            raise ValueError(
                f"{profile_id!r} is reserved (it is the pages' path of the create form): "
                "choose another id, e.g. 'P-new'"
            )
        return profile_id

    @field_validator("criteria", mode="before")
    @classmethod
    def _shape(cls, raw: Any) -> Any:
        return check_shape(raw)

    @field_validator("valid_from", "valid_to")
    @classmethod
    def _utc(cls, moment: datetime | None) -> datetime | None:
        if moment is None:
            return None
        try:
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        except OverflowError:  # year 1 with a positive offset: before the first UTC day
            raise ValueError("the date is outside the supported range") from None

    @model_validator(mode="after")
    def _window(self) -> RiskProfile:
        # equal bounds: an empty window (a profile expired before it started)
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to must not be before valid_from")
        return self

    def in_force(self, at: datetime) -> bool:
        """Whether the profile's validity window holds ``at``."""
        return self.valid_from <= at and (self.valid_to is None or at < self.valid_to)

    def document(self) -> dict[str, Any]:
        """The profile as plain JSON data (what a revision stores, what YAML export writes)."""
        return self.model_dump(mode="json", exclude_none=True)


def selection_draw(profile_id: str, declaration_id: str) -> float:
    """A number in [0, 1) fixed by the two ids: a share profile selects below its percent."""
    digest = hashlib.blake2b(
        f"{profile_id}\x1f{declaration_id}".encode(), digest_size=8, person=b"shiprisk-prof"
    ).digest()
    return int.from_bytes(digest, "big") / 2.0**64


@dataclass(frozen=True)
class ProfileMatches:
    """Which profile matched which declaration: positions into the batch and the set, and
    whether the profile's action selected it (always, unless a share was not drawn)."""

    rows: np.ndarray
    profiles: np.ndarray
    selected: np.ndarray


class ProfileSet:
    """Profiles compiled together for matching a batch (see the module docstring)."""

    def __init__(self, profiles: Sequence[RiskProfile]) -> None:
        self.profiles = tuple(profiles)
        trees = [
            profile.criteria
            if not profile.offices
            else AllOf.model_construct(
                op="all",
                of=[Office.model_construct(op="office", offices=profile.offices), profile.criteria],
            )
            for profile in self.profiles
        ]
        self.compiled = compile_criteria(trees)
        self.valid_from_ns = np.array(
            [_ns(profile.valid_from) for profile in self.profiles], dtype=np.int64
        )
        self.valid_to_ns = np.array(
            [NEVER_NS if p.valid_to is None else _ns(p.valid_to) for p in self.profiles],
            dtype=np.int64,
        )
        self.percent = np.array([p.action.percent for p in self.profiles], dtype=np.float64)

    def __len__(self) -> int:
        return len(self.profiles)

    def matches(
        self,
        columns: DeclarationColumns,
        hits: WatchlistHits,
        at: datetime,
        declaration_ids: Sequence[str],
    ) -> ProfileMatches:
        """Every (declaration, profile in force ``at``) whose criteria hold, in row order."""
        at_ns = _ns(at)
        in_force = (self.valid_from_ns <= at_ns) & (at_ns < self.valid_to_ns)
        if not in_force.any():
            empty = np.array([], dtype=np.int64)
            return ProfileMatches(empty, empty, np.array([], dtype=bool))
        met = self.compiled.evaluate(columns, hits) & in_force[None, :]
        rows, profiles = np.nonzero(met)
        selected = np.ones(len(rows), dtype=bool)
        shares = np.flatnonzero(self.percent[profiles] < 100.0)
        for position in shares.tolist():
            profile = self.profiles[int(profiles[position])]
            draw = selection_draw(profile.id, str(declaration_ids[int(rows[position])]))
            selected[position] = draw * 100.0 < profile.action.percent
        return ProfileMatches(rows.astype(np.int64), profiles.astype(np.int64), selected)


def _ns(moment: datetime) -> int:
    """Nanoseconds since the epoch, held inside int64 (after 2262: never; before 1677: always)."""
    microseconds = int(moment.timestamp() * 1_000_000)
    return max(min(microseconds, NEVER_NS // 1000), -(NEVER_NS // 1000)) * 1000
