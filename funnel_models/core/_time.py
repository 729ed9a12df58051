"""Time helpers shared by the Ibis engine and the DuckDB fast path, without importing Ibis.

``resolve_as_of`` reads a snapshot date; the duration grid (:data:`GRID_STEP`)
is where durations are rounded up to before Kaplan–Meier curves are built from
aggregated counts. :func:`funnel_models.core.engine.duration_bin` is the grid as an
Ibis expression, :func:`duration_bin_sql` the same grid as DuckDB SQL over whole
microseconds.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from funnel_models._errors import FunnelConfigError

#: The grid durations are rounded *up* to before Kaplan–Meier curves are built from
#: aggregated counts: every whole minute up to 1 day, every whole hour up to 30 days,
#: then steps of 0.5 % (so a median of 45.3 days is reported as at most 0.5 % longer).
#: Durations that are whole minutes (< 1 day) or whole hours (< 30 days) are exact.
GRID_MINUTE_LIMIT = 1440  # minutes: 1 day
GRID_HOUR_LIMIT = 720  # hours: 30 days
GRID_STEP = 1.005
_GRID_BASE = GRID_MINUTE_LIMIT + GRID_HOUR_LIMIT - GRID_MINUTE_LIMIT // 60  # last hour bin


def resolve_as_of(as_of: Any) -> pd.Timestamp | None:
    """``as_of`` as a UTC timestamp (naive values are read as UTC); None stays None.

    >>> resolve_as_of("2024-03-01")
    Timestamp('2024-03-01 00:00:00+0000', tz='UTC')
    """
    if as_of is None:
        return None
    try:
        ts = pd.Timestamp(as_of)
    except (ValueError, TypeError):
        raise FunnelConfigError(
            f"as_of {as_of!r} is not a date; use ISO format such as 2024-09-30 or "
            "2024-09-30T18:00:00Z"
        ) from None
    if ts is pd.NaT:
        raise FunnelConfigError("as_of must be a date, not NaT")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def duration_bin_sql(microseconds: str) -> str:
    """:func:`~funnel_models.core.engine.duration_bin` as DuckDB SQL over whole microseconds.

    ``microseconds`` is an SQL expression of an integer duration, such as
    ``epoch_us(exited_at) - epoch_us(entered_at)``. The minute and hour bins
    are whole-number divisions, so the SQL needs neither floating point nor the
    time-zone casts behind Ibis's ``epoch_seconds``: about 8× faster on 10 M
    visits. The bins equal ``duration_bin``'s (tested), its tolerance included:
    a duration less than 4 µs past a whole hour counts as that hour.
    """
    us = f"({microseconds})"
    minute, hour = 60_000_000, 3_600_000_000
    day_end, hour_end = GRID_MINUTE_LIMIT * minute, GRID_HOUR_LIMIT * hour
    return (
        f"(CASE WHEN {us} <= 0 THEN 0 "
        f"WHEN {us} <= {day_end} THEN ({us} + {minute - 1}) // {minute} "
        f"WHEN {us} <= {hour_end} THEN ({us} + {hour - 4}) // {hour} "
        f"+ {GRID_MINUTE_LIMIT - GRID_MINUTE_LIMIT // 60} "
        f"ELSE CAST(ceil(ln({us} / {float(hour_end)!r}) / {math.log(GRID_STEP)!r} - 1e-9) "
        f"AS BIGINT) + {_GRID_BASE} END)"
    )


def bin_upper_days(k) -> np.ndarray:
    """The upper edge in days of duration-grid bins ``k`` (inverse of :func:`duration_bin`).

    >>> bin_upper_days(np.array([0, 720, 1440, 1441, 2136])).tolist()
    [0.0, 0.5, 1.0, 1.0416666666666667, 30.0]
    """
    k = np.asarray(k, dtype=np.int64)
    minutes = np.where(
        k <= GRID_MINUTE_LIMIT,
        k.astype(float),
        np.where(
            k <= _GRID_BASE,
            (k - (GRID_MINUTE_LIMIT - GRID_MINUTE_LIMIT // 60)) * 60.0,
            GRID_HOUR_LIMIT * 60.0 * GRID_STEP ** (k - _GRID_BASE).astype(float),
        ),
    )
    return minutes / 1440.0
