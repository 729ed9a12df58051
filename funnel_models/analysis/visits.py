"""Stage visits ("spells"): one row per lead × stage visit, censored at ``as_of``.

A spell starts when a lead enters a progression stage (or Recycled) and ends
at the lead's next stage event. Its ``outcome`` says where the lead went:

============== ==================================================================
advanced       the next progression stage
skipped        a later progression stage (one or more stages skipped)
won, lost,     a terminal outcome stage (these produce no spell of their own)
disqualified
recycled       sent back to marketing nurture (the Recycled visit is a spell too)
backward       an earlier progression stage or the same one again
reentered      only for Recycled visits: the lead came back into a progression stage
open           no next event by ``as_of``: still in the stage (censored)
============== ==================================================================

Events after ``as_of`` are ignored. Events with the same ``entered_at`` are
ordered by funnel rank (Lead before MQL before ... before the outcomes).
``as_of=None`` means the latest ``entered_at`` in ``stage_events``.

The work runs in :mod:`funnel_models.core.engine` (Ibis on DuckDB or Spark).

Examples
--------
>>> import pandas as pd, funnel_models as fm
>>> leads = pd.DataFrame({"lead_id": ["a", "b"], "created_at": ["2024-01-01"] * 2})
>>> events = pd.DataFrame({
...     "lead_id":    ["a", "a", "a", "b"],
...     "stage":      ["Lead", "MQL", "Lost", "Lead"],
...     "entered_at": ["2024-01-01", "2024-01-03", "2024-01-04", "2024-01-02"]})
>>> ds = fm.FunnelDataset.from_frames(leads=leads, stage_events=events)
>>> s = fm.spells(ds, as_of="2024-01-10")
>>> s[["lead_id", "stage", "outcome", "days_in_stage", "censored"]].values.tolist()
[['a', 'Lead', 'advanced', 2.0, False], ['a', 'MQL', 'lost', 1.0, False], ['b', 'Lead', 'open', 8.0, True]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from funnel_models._errors import FunnelConfigError, FunnelDataError
from funnel_models.core.engine import EventLog, spell_expr, transition_expr
from funnel_models.core.funnel import Funnel

__all__ = ["OUTCOMES", "spells", "spells_as_of", "spells_of", "transitions"]

OUTCOMES = (
    "advanced",
    "skipped",
    "won",
    "lost",
    "disqualified",
    "recycled",
    "backward",
    "reentered",
    "open",
)

SPELL_COLUMNS = [
    "lead_id",
    "stage",
    "visit",
    "entered_at",
    "exited_at",
    "next_stage",
    "outcome",
    "days_in_stage",
    "censored",
]


def spells(
    dataset: Any,
    as_of: Any = None,
    *,
    engine: str = "duckdb",
    funnel=None,
) -> pd.DataFrame:
    """Stage visits, one row per lead × stage visit, censored at ``as_of``.

    Parameters
    ----------
    dataset
        A :class:`~funnel_models.FunnelDataset`, or anything
        :meth:`funnel_models.core.engine.EventLog.from_source` accepts (a Parquet/CSV
        file or folder, a ``duckdb:///`` or ``sqlite:///`` URL), or an
        :class:`~funnel_models.core.engine.EventLog`.
    as_of
        Date of the snapshot (string, datetime or Timestamp; naive means UTC).
        Default: the latest ``entered_at`` in ``stage_events``.
    engine
        ``"duckdb"`` (default) or ``"spark"``.
    funnel
        Override the funnel definition (default: the dataset's).

    Returns
    -------
    DataFrame
        Columns ``lead_id`` (str), ``stage`` (str), ``visit`` (int, 1 = first
        visit of that stage by that lead), ``entered_at``, ``exited_at`` (NaT
        while open), ``next_stage`` (missing while open), ``outcome`` (see the
        module docstring), ``days_in_stage`` (float, to ``exited_at`` or to
        ``as_of`` while open), ``censored`` (bool), then any further
        ``stage_events`` columns of the entry event (``owner_id``, ``team``,
        ...). Sorted by lead_id, entered_at, funnel rank. ``attrs["as_of"]``
        holds the ``as_of`` used.

    Examples
    --------
    >>> import pandas as pd, funnel_models as fm
    >>> leads = pd.DataFrame({"lead_id": ["a"], "created_at": ["2024-01-01"]})
    >>> events = pd.DataFrame({"lead_id": ["a", "a", "a"], "stage": ["MQL", "Recycled", "MQL"],
    ...                        "entered_at": ["2024-01-01", "2024-01-02", "2024-01-05"]})
    >>> ds = fm.FunnelDataset.from_frames(leads=leads, stage_events=events)
    >>> fm.spells(ds)[["stage", "visit", "outcome"]].values.tolist()
    [['MQL', 1, 'recycled'], ['Recycled', 1, 'reentered'], ['MQL', 2, 'open']]
    """
    log = _log(dataset, engine, funnel)
    as_of_ts = log.as_of_or_latest(as_of)
    frame = log.execute(spell_expr(log, as_of_ts))
    return _finish_spells(frame, log, as_of_ts)


def transitions(
    dataset: Any,
    as_of: Any = None,
    *,
    engine: str = "duckdb",
    quantiles: Sequence[float] = (0.5, 0.9),
    funnel=None,
) -> pd.DataFrame:
    """Transitions between stages with their counts and dwell-time quantiles.

    Every closed spell (a stage visit followed by another event by ``as_of``)
    counts once for its (stage, next stage) pair. Open spells are not
    transitions.

    Returns
    -------
    DataFrame indexed by (``from_stage``, ``to_stage``) with ``count``,
    ``mean_days`` and one ``p<q>_days`` column per quantile (``p50_days``,
    ``p90_days``; linear interpolation between order statistics).

    Examples
    --------
    >>> import pandas as pd, funnel_models as fm
    >>> leads = pd.DataFrame({"lead_id": ["a", "b"], "created_at": ["2024-01-01"] * 2})
    >>> events = pd.DataFrame({"lead_id": ["a", "a", "b", "b"],
    ...                        "stage": ["Lead", "MQL", "Lead", "MQL"],
    ...                        "entered_at": ["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-04"]})
    >>> ds = fm.FunnelDataset.from_frames(leads=leads, stage_events=events)
    >>> fm.transitions(ds).loc[("Lead", "MQL"), ["count", "p50_days"]].tolist()
    [2.0, 2.0]
    """
    log = _log(dataset, engine, funnel)
    as_of_ts = log.as_of_or_latest(as_of)
    expr = transition_expr(spell_expr(log, as_of_ts), quantiles)
    frame = log.execute(expr)
    frame["count"] = frame["count"].astype("int64")
    frame = frame.sort_values(["from_stage", "to_stage"]).set_index(["from_stage", "to_stage"])
    frame.attrs["as_of"] = as_of_ts
    return frame


def _log(dataset: Any, engine: str, funnel) -> EventLog:
    if isinstance(dataset, EventLog):
        return dataset
    return EventLog.from_source(dataset, engine=engine, funnel=funnel)


def _finish_spells(frame: pd.DataFrame, log: EventLog, as_of: pd.Timestamp) -> pd.DataFrame:
    funnel = log.funnel
    rank = {name: i for i, name in enumerate(funnel.names)}
    for col in ("entered_at", "exited_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True).dt.as_unit("ns")
    frame["lead_id"] = frame["lead_id"].astype("str")
    frame["stage"] = frame["stage"].astype("str")
    frame["next_stage"] = frame["next_stage"].astype("str")
    frame["outcome"] = frame["outcome"].astype("str")
    frame["visit"] = frame["visit"].astype("int64")
    frame["censored"] = frame["censored"].astype(bool)
    # Exact days from the timestamps (the engine's epoch arithmetic is second-resolution
    # on some backends).
    end = frame["exited_at"].where(frame["exited_at"].notna(), as_of)
    frame["days_in_stage"] = (end - frame["entered_at"]).dt.total_seconds() / 86400.0
    frame["_rank"] = frame["stage"].map(rank)
    frame = frame.sort_values(["lead_id", "entered_at", "_rank"], kind="stable")
    frame = frame.drop(columns="_rank").reset_index(drop=True)
    extra = [c for c in frame.columns if c not in SPELL_COLUMNS]
    frame = frame[SPELL_COLUMNS + extra]
    frame.attrs["as_of"] = as_of
    return frame


_SPELL_COLUMNS = ("lead_id", "stage", "next_stage", "days_in_stage", "censored", "entered_at")


def spells_of(
    data: Any, as_of: Any = None, funnel: Funnel | None = None
) -> tuple[pd.DataFrame, Funnel, Any]:
    """(spells, funnel, dataset or None) from a dataset or a spells DataFrame."""
    from funnel_models.core.dataset import FunnelDataset

    if isinstance(data, FunnelDataset):
        return spells(data, as_of=as_of, funnel=funnel), funnel or data.funnel, data
    if isinstance(data, pd.DataFrame):
        missing = [c for c in _SPELL_COLUMNS if c not in data.columns]
        if missing:
            raise FunnelDataError(
                f"spells DataFrame is missing {', '.join(map(repr, missing))}; build it with "
                "fm.spells(dataset) or pass the dataset itself"
            )
        if as_of is not None:
            raise FunnelConfigError(
                "as_of applies when spells are built from a dataset; these spells were already "
                "cut (call fm.spells(dataset, as_of=...) or pass the dataset)"
            )
        return data, funnel or Funnel.default(), None
    raise FunnelDataError(
        f"expected a FunnelDataset or a spells DataFrame, got {type(data).__name__}"
    )


def spells_as_of(spells: pd.DataFrame) -> pd.Timestamp | None:
    """The cut-off the spells were built at: the latest exit or open visit's end."""
    if spells.attrs.get("as_of") is not None:
        return pd.Timestamp(spells.attrs["as_of"])
    if spells.empty:
        return None
    end = spells["entered_at"] + pd.to_timedelta(spells["days_in_stage"], unit="D")
    value = end.max()
    return None if pd.isna(value) else pd.Timestamp(value)
