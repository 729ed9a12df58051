"""Time in stage (Kaplan–Meier) and SLA attainment for each hand-off.

A lead still in a stage at ``as_of`` is censored, not dropped: it has waited
*at least* that long. Medians and p90s come from the Kaplan–Meier curve of
days in stage (event = leaving the stage by any route), with confidence
intervals read off the log-log band.

Examples
--------
>>> import pandas as pd, funnel_models as fm
>>> leads = pd.DataFrame({"lead_id": list("abcd"), "created_at": ["2024-01-01"] * 4})
>>> events = pd.DataFrame({
...     "lead_id": list("aabbcd"),
...     "stage": ["MQL", "SAL", "MQL", "SAL", "MQL", "MQL"],
...     "entered_at": ["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-04",
...                    "2024-01-01", "2024-01-01"]})
>>> ds = fm.FunnelDataset.from_frames(leads=leads, stage_events=events)
>>> t = fm.time_in_stage(ds, as_of="2024-01-11", min_leads=1)
>>> float(t.loc["MQL", "median_days"])   # exits at 1 and 3 days, two open at 10 days
3.0
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from funnel_models.analysis._survival import (
    cumulative_incidence,
    kaplan_meier,
    km_quantile,
    step_value,
)
from funnel_models.analysis.conversion import MIN_LEADS, _guard, _spells_for, attach_attribute

__all__ = ["sla_attainment", "time_in_stage"]


def time_in_stage(
    dataset,
    as_of: Any = None,
    *,
    by: str | None = None,
    quantiles: Sequence[float] = (0.5, 0.9),
    min_leads: int = MIN_LEADS,
    conf_level: float = 0.95,
    engine: str = "duckdb",
    spells: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Kaplan–Meier median and p90 days in each progression stage, with intervals.

    Parameters
    ----------
    dataset
        A :class:`~funnel_models.FunnelDataset`.
    as_of
        Snapshot date; default the latest stage event.
    by
        Optional attribute to break down by (a stage_events, leads or accounts
        column; see :func:`funnel_models.analysis.conversion.attach_attribute`).
    quantiles
        Shares of visits that have left the stage (0.5: median, 0.9: p90).
    min_leads, conf_level, engine, spells
        As in :func:`funnel_models.step_conversion`.

    Returns
    -------
    DataFrame indexed by ``stage`` (or ``(by, stage)``) with ``owner``,
    ``visits``, ``exits``, ``still_open``, and per quantile ``median_days`` /
    ``p90_days`` with ``_lower`` / ``_upper``; ``enough_data`` and ``note``. A
    quantile that is not reached yet (too many visits still open) is NaN and the
    note says so.
    """
    s, as_of_ts = _spells_for(dataset, as_of, engine, spells)
    funnel = dataset.funnel
    s = s[s["stage"].isin(funnel.progression)]
    if by is None:
        table = _tis_table(s, funnel, quantiles, min_leads, conf_level)
    else:
        seg = attach_attribute(s, dataset, by)
        parts = []
        for value, part in s.groupby(seg, sort=True):
            t = _tis_table(part, funnel, quantiles, min_leads, conf_level).reset_index()
            t.insert(0, by, value)
            parts.append(t)
        table = (
            pd.concat(parts, ignore_index=True).set_index([by, "stage"])
            if parts
            else _tis_table(s, funnel, quantiles, min_leads, conf_level).iloc[:0]
        )
    table.attrs["as_of"] = as_of_ts
    return table


def _qname(q: float) -> str:
    return "median" if q == 0.5 else f"p{round(q * 100):d}"


def _tis_table(s, funnel, quantiles, min_leads, conf_level) -> pd.DataFrame:
    rows = []
    for stage in funnel.progression:
        part = s[s["stage"] == stage]
        n = len(part)
        exits = int((~part["censored"]).sum())
        row: dict[str, Any] = {
            "stage": stage,
            "owner": funnel.owner(stage),
            "visits": n,
            "exits": exits,
            "still_open": n - exits,
        }
        enough, note = _guard(n, min_leads, f"visits of {stage}")
        km = kaplan_meier(
            part["days_in_stage"].to_numpy(), ~part["censored"].to_numpy(), conf_level=conf_level
        )
        missing = []
        for q in quantiles:
            name = _qname(q)
            res = km_quantile(km, q)
            row[f"{name}_days"] = res["estimate"]
            row[f"{name}_lower"] = res["ci_lower"]
            row[f"{name}_upper"] = res["ci_upper"]
            if n and not res["reached"]:
                missing.append(name)
        if missing:
            left = float(km["survival"].iloc[-1]) if len(km) else 1.0
            extra = (
                f"{' and '.join(missing)} not reached yet: {left:.0%} of visits are still "
                f"in {stage} at the longest follow-up"
            )
            note = f"{note}; {extra}" if note else extra
        row["enough_data"] = enough
        row["note"] = note
        rows.append(row)
    return pd.DataFrame(rows).set_index("stage")


def sla_attainment(
    dataset,
    as_of: Any = None,
    *,
    by: str | None = None,
    min_leads: int = MIN_LEADS,
    conf_level: float = 0.95,
    engine: str = "duckdb",
    spells: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Share of hand-offs handled within their SLA (``funnel.sla_hours``), censoring-aware.

    For each hand-off ``(from, to)`` with an SLA, every visit of ``from`` is a
    trial. ``attainment`` is the Kaplan–Meier probability of leaving ``from``
    (by any route: accepted, rejected, recycled) within the SLA, so visits still
    open count for the time they have waited. ``to_within_sla`` is the
    cumulative incidence of moving on to ``to`` (or beyond) within the SLA.
    ``open_past_sla`` counts visits open right now that have already waited
    longer than the SLA.

    Returns
    -------
    DataFrame indexed by ``handoff`` (``"MQL->SAL"``; or ``(by, handoff)``) with
    ``from_stage``, ``to_stage``, ``owner`` (of ``to``), ``sla_hours``,
    ``visits``, ``attainment``, ``attainment_lower``, ``attainment_upper``,
    ``to_within_sla``, ``open_past_sla``, ``enough_data``, ``note``.

    Examples
    --------
    >>> import pandas as pd, funnel_models as fm
    >>> leads = pd.DataFrame({"lead_id": list("abc"), "created_at": ["2024-01-01"] * 3})
    >>> events = pd.DataFrame({
    ...     "lead_id": list("aabbc"), "stage": ["MQL", "SAL", "MQL", "SAL", "MQL"],
    ...     "entered_at": ["2024-01-01T00:00Z", "2024-01-01T12:00Z", "2024-01-01T00:00Z",
    ...                    "2024-01-03T00:00Z", "2024-01-04T00:00Z"]})
    >>> ds = fm.FunnelDataset.from_frames(leads=leads, stage_events=events)
    >>> sla = fm.sla_attainment(ds, as_of="2024-01-04T06:00Z", min_leads=1)
    >>> float(sla.loc["MQL->SAL", "attainment"])   # a in 12 h; b in 48 h; c open 6 h
    0.5
    """
    s, as_of_ts = _spells_for(dataset, as_of, engine, spells)
    funnel = dataset.funnel
    rows = []
    seg = attach_attribute(s, dataset, by) if by is not None else None
    for (src, dst), hours in funnel.sla_hours.items():
        part_all = s[s["stage"] == src]
        groups = (
            part_all.groupby(seg.loc[part_all.index], sort=True)
            if seg is not None
            else [(None, part_all)]
        )
        for value, part in groups:
            row = _sla_row(part, funnel, src, dst, hours, min_leads, conf_level)
            if by is not None:
                row[by] = value
            rows.append(row)
    columns = [
        "from_stage",
        "to_stage",
        "owner",
        "sla_hours",
        "visits",
        "attainment",
        "attainment_lower",
        "attainment_upper",
        "to_within_sla",
        "open_past_sla",
        "enough_data",
        "note",
    ]
    keys = ([by] if by is not None else []) + ["handoff"]
    table = pd.DataFrame(rows, columns=keys + columns).set_index(keys)
    table.attrs["as_of"] = as_of_ts
    return table


def _sla_row(part, funnel, src, dst, hours, min_leads, conf_level) -> dict:
    days = hours / 24.0
    n = len(part)
    row: dict[str, Any] = {
        "handoff": f"{src}->{dst}",
        "from_stage": src,
        "to_stage": dst,
        "owner": funnel.owner(dst),
        "sla_hours": float(hours),
        "visits": n,
    }
    enough, note = _guard(n, min_leads, f"visits of {src}")
    durations = part["days_in_stage"].to_numpy()
    exited = ~part["censored"].to_numpy()
    km = kaplan_meier(durations, exited, conf_level=conf_level)
    surv = step_value(km[["survival", "ci_lower", "ci_upper"]], [days], before=1.0).iloc[0]
    row["attainment"] = 1.0 - surv["survival"] if n else np.nan
    row["attainment_lower"] = 1.0 - surv["ci_upper"] if n else np.nan
    row["attainment_upper"] = 1.0 - surv["ci_lower"] if n else np.nan
    progression = list(funnel.progression)
    won = funnel.outcome_stage("won")
    if dst in progression:
        dst_rank = progression.index(dst)
        rank = part["next_stage"].map({n_: i for i, n_ in enumerate(progression)})
        forward = (rank >= dst_rank) | (part["next_stage"] == won)
    else:
        forward = part["next_stage"] == dst
    codes = np.where(~exited, 0, np.where(forward.to_numpy(), 1, 2))
    cif = cumulative_incidence(durations, codes, labels=["to", "other"])
    row["to_within_sla"] = float(step_value(cif["to"], [days])[0]) if n else np.nan
    row["open_past_sla"] = int(((~exited) & (durations > days)).sum())
    if n and float(durations.max()) < days and (~exited).any():
        extra = f"no visit has been followed for {hours:g} hours yet"
        note = f"{note}; {extra}" if note else extra
    row["enough_data"] = enough
    row["note"] = note
    return row
