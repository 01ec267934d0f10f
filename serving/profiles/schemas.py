"""Bodies and responses of /v1/profiles: the profile document itself (features.profiles), and
what the store keeps about it (revision, who, when)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from features.profiles import RiskProfile

EXAMPLE: dict[str, Any] = {
    "id": "SALW-PARTS-POST",
    "title": "Pistol parts declared as machine parts by post",
    "threat": "weapons",
    "criteria": {
        "op": "all",
        "of": [
            {"op": "in", "field": "transport_mode", "values": ["postal", "air"]},
            {"op": "hs_prefix", "prefixes": ["7318", "8487", "9305"]},
            {"op": "keywords", "words": ["pištolj*", "steel pins", "spare parts"]},
        ],
    },
    "action": {"lane": "red"},
    "rationale": "Partner alert 2024/17: conversion parts shipped by post as machine parts.",
    "instructions": "Open every package; photograph any barrel, slide or firing pin.",
    "owner": "Risk unit, Belgrade",
    "offices": [],
    "valid_from": "2024-03-01T00:00:00Z",
    "valid_to": "2024-09-01T00:00:00Z",
    "review_date": "2024-06-01",
}


class ProfileOut(BaseModel):
    """A profile's newest revision: its content, number, author and time, and whether it is
    in force now."""

    profile: RiskProfile
    revision: int
    change: str
    changed_by: str
    changed_at: datetime
    in_force: bool


class RevisionOut(BaseModel):
    """One stored revision of a profile (full content: revisions are never changed)."""

    revision: int
    change: str
    changed_by: str
    changed_at: datetime
    content: dict[str, Any]


class ProfileDetail(ProfileOut):
    """A profile with every revision, oldest first."""

    revisions: list[RevisionOut]


class ProfilePage(BaseModel):
    """Profiles by id, each its newest revision."""

    profiles: list[ProfileOut]


class HitRate(BaseModel):
    """Inspections, hits, the hit rate and its 95% Wilson interval (None without inspections)."""

    n: int
    hits: int
    rate: float | None
    interval: list[float] | None


class PeriodPerformance(BaseModel):
    """What a profile did in one period (or the whole window), beside the model's and the
    random picks of the same period and offices."""

    start: date
    end: date  # the period's last day (inclusive)
    matches: int  # declarations lodged in the period that the profile matched
    selected: int  # of them, those its action selected (all, unless a share was not drawn)
    inspections: int  # matched declarations with a recorded outcome
    hits: int  # of them, found positive for the profile's threat
    waivers: int  # matched picks waived by officers
    hit_rate: float | None
    interval: list[float] | None  # 95% Wilson interval of the hit rate
    model: HitRate  # model picks of the period, the profile's threat
    random: HitRate  # random picks of the period, the profile's threat


class ProfilePerformance(BaseModel):
    """A profile's figures per period over a window of lodging days."""

    profile_id: str
    title: str
    threat: str
    period: str  # week (Monday to Sunday) or month
    since: date
    until: date
    offices: list[str] | None  # where the picks compared were made (None: every office)
    periods: list[PeriodPerformance]
    total: PeriodPerformance
