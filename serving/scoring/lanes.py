"""A scoring batch's model lanes at offices whose capacity a risk manager set.

The bundle lanes each declaration with the thresholds training fitted (`models.lanes`). An
office whose capacity was set since (PUT /v1/offices/{office_id}/capacity) has thresholds of
its own, refitted from its recent scores by the model now serving and kept in the store
(`serving.store.offices`); `with_office_lanes` lanes that office's declarations with them.
It runs before the profiles (`serving.scoring.profiles.with_profiles`), so a profile's lane
still comes first, as in ASYCUDA's MODSEL. Thresholds fitted for another model version are
not used: they cut another model's risks, and the bundle's own lanes stand until the office's
capacity is set again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import pandas as pd

from features.records import CanonicalRecords
from models.bundle import ScoredDeclaration
from models.declarations import DeclarationBatch
from models.lanes import lanes_from_thresholds
from serving.store.database import Store
from serving.store.offices import OfficeThresholds, office_thresholds


def with_office_lanes(
    store: Store | None,
    declarations: CanonicalRecords | pd.DataFrame,
    scored: Sequence[ScoredDeclaration],
    model: tuple[str, str],
    *,
    version: int | None = None,
) -> list[ScoredDeclaration]:
    """Scores with the lane of their office's stored thresholds, where ``model`` (name,
    version) is the one they were fitted for; the others as the bundle laned them.

    ``version``: the greatest office setting id, when the batch read it already
    (`serving.store.offices.live_versions`, with the profiles' in one query)."""
    if store is None:
        return list(scored)
    thresholds = office_thresholds(store, version=version)
    if not thresholds:
        return list(scored)
    offices = DeclarationBatch.of(declarations).office_ids().tolist()
    return relaned(scored, offices, thresholds, model)


def relaned(
    scored: Sequence[ScoredDeclaration],
    offices: Sequence[object],
    thresholds: Mapping[str, OfficeThresholds],
    model: tuple[str, str],
) -> list[ScoredDeclaration]:
    """The pure part of `with_office_lanes`: each row laned by its office's thresholds."""
    out = list(scored)
    for row, office in enumerate(offices):
        found = thresholds.get(str(office))
        if found is None or (found.model_name, found.model_version) != model:
            continue
        lane = str(lanes_from_thresholds(out[row].overall, found.red, found.yellow))
        if lane != out[row].lane:
            out[row] = replace(out[row], lane=lane)
    return out
