"""When a declaration was lodged: hour and weekday in UTC, and whether at night.

Unusual crossing hours are a field hypothesis for migrant smuggling (DOMAIN.md): the model
is given the hour and decides from outcomes whether it matters.
"""

from __future__ import annotations

import numpy as np

from features.columns import NAT_NS, DeclarationColumns

NIGHT_STARTS_AT = 22  # hour (UTC) from which lodging counts as night ...
NIGHT_ENDS_AT = 6  # ... until this hour
NANOSECONDS_PER_HOUR = 3_600 * 10**9
HOURS_PER_DAY = 24
EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday is 0)


def calendar_features(columns: DeclarationColumns) -> dict[str, np.ndarray]:
    """Hour (0-23), weekday (Monday 0) and night flag of ``lodged_at`` in UTC.

    Read from the UTC nanoseconds with floor division, which is exact also before 1970.
    """
    lodged_ns = columns.nanoseconds("lodged_at")
    missing = lodged_ns == NAT_NS
    hours_since_epoch = lodged_ns // NANOSECONDS_PER_HOUR
    hour = np.where(missing, np.nan, hours_since_epoch % HOURS_PER_DAY)
    days_since_epoch = hours_since_epoch // HOURS_PER_DAY
    weekday = np.where(missing, np.nan, (days_since_epoch + EPOCH_WEEKDAY) % 7)
    night = np.where(
        np.isnan(hour), np.nan, ((hour >= NIGHT_STARTS_AT) | (hour < NIGHT_ENDS_AT)) * 1.0
    )
    return {"lodged_hour": hour, "lodged_weekday": weekday, "lodged_at_night": night}
