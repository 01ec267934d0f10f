"""When a declaration was lodged: hour and weekday in UTC, and whether at night.

Unusual crossing hours are a field hypothesis for migrant smuggling (DOMAIN.md): the model
is given the hour and decides from outcomes whether it matters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NIGHT_STARTS_AT = 22  # hour (UTC) from which lodging counts as night ...
NIGHT_ENDS_AT = 6  # ... until this hour


def calendar_features(declarations: pd.DataFrame) -> pd.DataFrame:
    """Hour (0-23), weekday (Monday 0) and night flag of ``lodged_at`` in UTC."""
    lodged_at = declarations["lodged_at"].dt.tz_convert("UTC")
    hour = lodged_at.dt.hour.to_numpy(dtype=np.float64, na_value=np.nan)
    night = np.where(
        np.isnan(hour), np.nan, ((hour >= NIGHT_STARTS_AT) | (hour < NIGHT_ENDS_AT)) * 1.0
    )
    return pd.DataFrame(
        {
            "lodged_hour": hour,
            "lodged_weekday": lodged_at.dt.weekday.to_numpy(dtype=np.float64, na_value=np.nan),
            "lodged_at_night": night,
        },
        index=declarations.index,
        dtype=np.float64,
    )
