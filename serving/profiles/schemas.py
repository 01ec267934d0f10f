"""Bodies and responses of /v1/profiles: the profile document itself (features.profiles), and
what the store keeps about it (revision, who, when)."""

from __future__ import annotations

from datetime import datetime
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
