"""Lead tables at a snapshot: what was known about each lead when it entered a stage.

Private helpers shared by :mod:`funnel_models.models.scoring`, :mod:`funnel_models.models.survival`,
:mod:`funnel_models.models.handoff` and :mod:`funnel_models.analysis.attribution`. They read the
canonical tables of a :class:`~funnel_models.core.dataset.FunnelDataset` directly
(data flows one way: dataset → here → models) and never look past ``as_of``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from funnel_models._errors import FunnelConfigError, FunnelDataError

TARGET = "converted"
TIME = "entered_at"
_T0 = "_snapshot_at"

# lead columns that are bookkeeping, not attributes
_NOT_FEATURES = {"lead_id", "created_at", "account_id"}


def parse_as_of(as_of: Any) -> pd.Timestamp | None:
    """An explicit ``as_of`` as a UTC timestamp (naive values are read as UTC)."""
    if as_of is None:
        return None
    try:
        ts = pd.Timestamp(as_of)
    except (TypeError, ValueError) as exc:
        raise FunnelConfigError(
            f"as_of {as_of!r} is not a date; give e.g. '2026-09-30' or '2026-09-30T12:00Z'"
        ) from exc
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def latest_timestamp(dataset) -> pd.Timestamp:
    """The latest timestamp anywhere in the dataset: the default ``as_of``."""
    stamps = [dataset.leads["created_at"].max(), dataset.stage_events["entered_at"].max()]
    if len(dataset.activities):
        stamps.append(dataset.activities["occurred_at"].max())
    stamps = [s for s in stamps if pd.notna(s)]
    if not stamps:
        raise FunnelDataError("the dataset has no timestamps; cannot choose an as_of")
    return max(stamps)


def resolve_as_of(dataset, as_of: Any) -> pd.Timestamp:
    ts = parse_as_of(as_of)
    return latest_timestamp(dataset) if ts is None else ts


def check_stage(funnel, name: str, what: str) -> str:
    canonical = funnel.canonical_stage(name)
    if canonical is None:
        hint = funnel.suggest(name)
        extra = f" Did you mean {hint!r}?" if hint else ""
        raise FunnelConfigError(
            f"{what} {name!r} is not a stage of this funnel ({', '.join(funnel.names)}).{extra}"
        )
    return canonical


def reached_stages(funnel, to_stage: str) -> set[str]:
    """Stages whose entry means the lead reached ``to_stage`` (or went past it)."""
    if to_stage in funnel.progression:
        later = set(funnel.progression[funnel.progression.index(to_stage) :])
        won = funnel.outcome_stage("won")
        return later | ({won} if won else set())
    return {to_stage}


def events_until(dataset, as_of: pd.Timestamp) -> pd.DataFrame:
    ev = dataset.stage_events
    ev = ev.loc[ev["entered_at"] <= as_of, ["lead_id", "stage", "entered_at"]]
    return ev.sort_values(["lead_id", "entered_at"], kind="stable")


def lead_attributes(dataset) -> pd.DataFrame:
    """Lead attributes plus account attributes (``account_*``), indexed by lead_id."""
    leads = dataset.leads.set_index("lead_id")
    keep = [c for c in leads.columns if c not in _NOT_FEATURES]
    out = leads[keep].copy()
    accounts = dataset.accounts
    if "account_id" in leads.columns and len(accounts):
        acc = accounts.set_index("account_id")
        acc = acc[[c for c in acc.columns if c not in ("name",)]]
        acc = acc[[c for c in acc.columns if c not in out.columns]]
        acc.columns = [f"account_{c}" for c in acc.columns]
        if acc.shape[1]:
            joined = acc.reindex(leads["account_id"].to_numpy())
            joined.index = leads.index
            out = out.join(joined)
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out = out.drop(columns=col)
    return out


def snapshot_table(
    dataset,
    *,
    from_stage: str,
    to_stage: str,
    within_days: float,
    as_of: Any = None,
) -> pd.DataFrame:
    """One row per lead that entered ``from_stage`` by ``as_of``, with features known then.

    Columns: the lead (and account) attributes; ``days_since_created``,
    ``activities_before``, ``marketing_touches_before``, ``sales_touches_before``,
    ``days_since_last_activity`` and ``earlier_visits`` measured at the lead's
    first entry into ``from_stage``; ``entered_at`` (that entry); ``converted``
    (1 if the lead reached ``to_stage`` or beyond within ``within_days``, 0 if not;
    NA while the window is still running at ``as_of``, whatever happened so far) and ``status``
    (``"open"`` for leads still between the two stages at ``as_of``, ``"closed"``
    otherwise).
    """
    funnel = dataset.funnel
    from_stage = check_stage(funnel, from_stage, "from_stage")
    to_stage = check_stage(funnel, to_stage, "to_stage")
    if within_days is None or not within_days > 0:
        raise FunnelConfigError(
            f"within_days must be a positive number of days, not {within_days!r}"
        )
    as_of = resolve_as_of(dataset, as_of)
    ev = events_until(dataset, as_of)
    entries = ev[ev["stage"] == from_stage]
    if entries.empty:
        raise FunnelDataError(
            f"no lead entered {from_stage!r} by {as_of:%Y-%m-%d}; "
            f"stages present: {', '.join(sorted(ev['stage'].unique()))}"
        )
    first = entries.groupby("lead_id", sort=False)["entered_at"].min().rename(_T0)
    visits = entries.groupby("lead_id", sort=False).size()

    # target: first entry into a reaching stage after the snapshot
    reach = ev[ev["stage"].isin(reached_stages(funnel, to_stage))]
    reach = reach.join(first, on="lead_id", how="inner")
    reach = reach[reach["entered_at"] >= reach[_T0]]
    first_reach = reach.groupby("lead_id", sort=False)["entered_at"].min()
    t0 = first
    reached_at = first_reach.reindex(t0.index)
    window = pd.Timedelta(days=float(within_days))
    hit = reached_at.notna() & (reached_at <= t0 + window)
    # only leads whose whole window lies before as_of are labelled: labelling the
    # quick converters of a still-running window would bias the target upwards
    done = t0 + window <= as_of
    y = pd.Series(pd.NA, index=t0.index, dtype="Int8")
    y[hit & done] = 1
    y[~hit & done] = 0

    # status at as_of: latest stage between from_stage and to_stage (not an outcome)
    last_stage = ev.groupby("lead_id", sort=False)["stage"].last().reindex(t0.index)
    prog = funnel.progression
    if to_stage in prog:
        between = set(prog[prog.index(from_stage) : prog.index(to_stage)])
    else:
        between = set(prog[prog.index(from_stage) :]) if from_stage in prog else {from_stage}
    open_ = last_stage.isin(between) & reached_at.isna()

    feats = lead_attributes(dataset).reindex(t0.index)
    created = dataset.leads.set_index("lead_id")["created_at"].reindex(t0.index)
    feats["days_since_created"] = (t0 - created).dt.total_seconds() / 86400.0
    feats["earlier_visits"] = (
        (entries.join(first, on="lead_id").pipe(lambda d: d[d["entered_at"] < d[_T0]]))
        .groupby("lead_id")
        .size()
        .reindex(t0.index, fill_value=0)
    )
    # only activities strictly before the snapshot (known at that moment)
    acts = dataset.activities
    if len(acts):
        a = acts[["lead_id", "occurred_at"] + (["team"] if "team" in acts else [])]
        a = a.join(first, on="lead_id", how="inner")
        a = a[a["occurred_at"] < a[_T0]]
        g = a.groupby("lead_id", sort=False)
        feats["activities_before"] = g.size().reindex(t0.index, fill_value=0)
        last = g["occurred_at"].max().reindex(t0.index)
        feats["days_since_last_activity"] = (t0 - last).dt.total_seconds() / 86400.0
        if "team" in a:
            for team in ("marketing", "sales"):
                n = a[a["team"] == team].groupby("lead_id").size()
                feats[f"{team}_touches_before"] = n.reindex(t0.index, fill_value=0)
    del visits
    out = feats
    out[TIME] = t0
    out[TARGET] = y
    out["status"] = np.where(open_, "open", "closed")
    out.index.name = "lead_id"
    out.attrs.update(
        from_stage=from_stage, to_stage=to_stage, within_days=float(within_days), as_of=as_of
    )
    return out
