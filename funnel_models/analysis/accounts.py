"""The account view for account-based marketing (ABM).

B2B deals are bought by a *buying group* of several people at one company.
:func:`account_view` rolls leads up to their account: the account's stage is
that of its most advanced lead (Won above every progression stage), and its
buying-group coverage is the number of engaged contacts — distinct leads of
the account with at least one activity by ``as_of``. :func:`abm_funnel`
compares the account funnel of target (ABM) accounts with the rest, with
Wilson intervals, and :func:`buying_group_coverage` summarises engaged
contacts per account for both groups.

Examples
--------
>>> import pandas as pd, funnel_models as fm
>>> leads = pd.DataFrame({"lead_id": ["a", "b", "c"], "created_at": ["2024-01-01"] * 3,
...                       "account_id": ["X", "X", "Y"]})
>>> events = pd.DataFrame({"lead_id": ["a", "b", "b", "c"],
...                        "stage": ["Lead", "Lead", "SQL", "Lead"],
...                        "entered_at": ["2024-01-01", "2024-01-01", "2024-01-05", "2024-01-02"]})
>>> acts = pd.DataFrame({"lead_id": ["a", "b", "b"], "kind": ["email"] * 3,
...                      "occurred_at": ["2024-01-02", "2024-01-02", "2024-01-03"]})
>>> accounts = pd.DataFrame({"account_id": ["X", "Y"], "target_account": [True, False]})
>>> ds = fm.FunnelDataset.from_frames(leads=leads, stage_events=events, activities=acts,
...                                   accounts=accounts)
>>> fm.account_view(ds)[["leads", "engaged_contacts", "account_stage"]].values.tolist()
[[2, 2, 'SQL'], [1, 0, 'Lead']]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from funnel_models._errors import FunnelDataError
from funnel_models.analysis.stalls import wilson_interval
from funnel_models.core.engine import resolve_as_of

__all__ = ["abm_funnel", "account_view", "buying_group_coverage"]


def _dataset(data: Any):
    from funnel_models.core.dataset import FunnelDataset

    if not isinstance(data, FunnelDataset):
        raise FunnelDataError(
            f"the account view needs a FunnelDataset (leads, stage events, activities, "
            f"accounts), got {type(data).__name__}; load one with fm.load(source)"
        )
    if "account_id" not in data.leads.columns or data.leads["account_id"].isna().all():
        raise FunnelDataError(
            "the leads table has no account_id: add an account_id column to leads to roll "
            "leads up to accounts"
        )
    return data


def account_view(data: Any, as_of: Any = None) -> pd.DataFrame:
    """One row per account: its stage, its leads and its buying-group coverage.

    Parameters
    ----------
    data : FunnelDataset
        Needs ``leads.account_id``; ``activities`` and ``accounts`` are
        optional (no activities: every account has 0 engaged contacts).
    as_of : date-like, optional
        Snapshot date; default: the latest ``entered_at`` in ``stage_events``.

    Returns
    -------
    DataFrame indexed by ``account_id``, most advanced first, with ``leads``,
    ``engaged_contacts`` (distinct leads with an activity by ``as_of``),
    ``account_stage`` (the most advanced stage any of its leads reached:
    progression stages, then Won; accounts whose leads have no stage event
    yet get ``(none)``), ``stage_rank`` (0 = first stage), ``won`` (a lead
    of it reached Won), ``open_leads`` (leads not yet in a terminal stage)
    and ``target_account`` (False when the data has no ABM flag).
    """
    ds = _dataset(data)
    funnel = ds.funnel
    events = ds.stage_events
    as_of_ts = resolve_as_of(as_of) if as_of is not None else events["entered_at"].max()
    if pd.isna(as_of_ts):
        raise FunnelDataError("the stage_events table is empty: there is nothing to analyse")
    events = events.loc[events["entered_at"] <= as_of_ts]
    won = funnel.outcome_stage("won")
    ladder = [*funnel.progression, won]
    rank = {s: i for i, s in enumerate(ladder)}
    leads = ds.leads.loc[ds.leads["account_id"].notna(), ["lead_id", "account_id"]]

    ev = events.loc[:, ["lead_id", "stage", "entered_at"]].merge(leads, on="lead_id")
    ev["rank"] = ev["stage"].map(rank)
    best = ev.dropna(subset=["rank"]).groupby("account_id")["rank"].max()

    # a lead is open while its latest event is not a terminal outcome
    terminal = {funnel.outcome_stage(k) for k in ("won", "lost", "disqualified")} - {None}
    order = {s: i for i, s in enumerate(funnel.names)}
    last = (
        ev.assign(_o=ev["stage"].map(order))
        .sort_values(["lead_id", "entered_at", "_o"])
        .drop_duplicates("lead_id", keep="last")
    )
    open_leads = last.loc[~last["stage"].isin(terminal)].groupby("account_id").size()

    acts = ds.activities
    if len(acts):
        acts = acts.loc[acts["occurred_at"] <= as_of_ts, ["lead_id"]].drop_duplicates()
        engaged = acts.merge(leads, on="lead_id").groupby("account_id").size()
    else:
        engaged = pd.Series(dtype="int64")

    out = pd.DataFrame(index=pd.Index(sorted(leads["account_id"].unique()), name="account_id"))
    out["leads"] = leads.groupby("account_id").size().reindex(out.index).astype(int)
    out["engaged_contacts"] = engaged.reindex(out.index, fill_value=0).astype(int)
    stage_rank = best.reindex(out.index)
    out["account_stage"] = stage_rank.map(lambda r: "(none)" if pd.isna(r) else ladder[int(r)])
    out["stage_rank"] = stage_rank.fillna(-1).astype(int)
    out["won"] = out["stage_rank"] == rank[won]
    out["open_leads"] = open_leads.reindex(out.index, fill_value=0).astype(int)
    out["target_account"] = _target_flags(ds).reindex(out.index).fillna(False).astype(bool)
    out = out.sort_values(["stage_rank", "engaged_contacts"], ascending=False, kind="stable")
    out.attrs["as_of"] = as_of_ts
    return out


def _target_flags(ds) -> pd.Series:
    accounts = ds.accounts
    if "target_account" in accounts.columns and len(accounts):
        flags = accounts.drop_duplicates("account_id").set_index("account_id")["target_account"]
        return flags.astype("boolean")
    if "target_account" in ds.leads.columns:
        leads = ds.leads.loc[ds.leads["account_id"].notna()]
        flag = leads["target_account"].astype("boolean").fillna(False)
        return flag.groupby(leads["account_id"]).any()
    return pd.Series(dtype="boolean")


def abm_funnel(data: Any, as_of: Any = None, *, confidence: float = 0.95) -> pd.DataFrame:
    """The account funnel of target (ABM) accounts against the rest.

    Returns
    -------
    DataFrame indexed by ``stage`` (progression stages, then Won) with, for
    ``target`` and ``rest``: ``<group>_accounts`` (accounts that reached the
    stage), ``<group>_share`` (of the group's accounts), ``<group>_ci_low`` and
    ``<group>_ci_high`` (Wilson), and ``lift`` (target share / rest share).
    ``attrs`` holds the group sizes.

    Examples
    --------
    >>> import pandas as pd, funnel_models as fm
    >>> leads = pd.DataFrame({"lead_id": ["a", "b"], "created_at": ["2024-01-01"] * 2,
    ...                       "account_id": ["X", "Y"]})
    >>> events = pd.DataFrame({"lead_id": ["a", "a", "b"], "stage": ["Lead", "Won", "Lead"],
    ...                        "entered_at": ["2024-01-01", "2024-02-01", "2024-01-01"]})
    >>> acc = pd.DataFrame({"account_id": ["X", "Y"], "target_account": [True, False]})
    >>> ds = fm.FunnelDataset.from_frames(leads=leads, stage_events=events, accounts=acc)
    >>> fm.abm_funnel(ds).loc["Won", ["target_share", "rest_share"]].tolist()
    [1.0, 0.0]
    """
    view = account_view(data, as_of)
    funnel = data.funnel
    ladder = [*funnel.progression, funnel.outcome_stage("won")]
    out = pd.DataFrame(index=pd.Index(ladder, name="stage"))
    sizes = {}
    for group, mask in (("target", view["target_account"]), ("rest", ~view["target_account"])):
        ranks = view.loc[mask, "stage_rank"].to_numpy()
        n = len(ranks)
        sizes[group] = n
        reached = np.array([(ranks >= i).sum() for i in range(len(ladder))])
        low, high = zip(*(wilson_interval(k, n, confidence) for k in reached), strict=True)
        out[f"{group}_accounts"] = reached
        out[f"{group}_share"] = reached / n if n else np.nan
        out[f"{group}_ci_low"] = low
        out[f"{group}_ci_high"] = high
    with np.errstate(divide="ignore", invalid="ignore"):
        out["lift"] = out["target_share"] / out["rest_share"]
    out.attrs.update(accounts=sizes, as_of=view.attrs["as_of"])
    return out


def buying_group_coverage(data: Any, as_of: Any = None) -> pd.DataFrame:
    """Engaged contacts per account for target accounts and the rest.

    Returns
    -------
    DataFrame indexed by ``group`` (``target``, ``rest``) with ``accounts``,
    ``mean_engaged_contacts``, ``median_engaged_contacts``,
    ``share_no_engaged_contact`` and ``share_3plus_engaged`` (accounts with
    at least 3 engaged contacts, a common buying-group coverage goal).
    """
    view = account_view(data, as_of)
    rows = []
    for group, mask in (("target", view["target_account"]), ("rest", ~view["target_account"])):
        e = view.loc[mask, "engaged_contacts"]
        rows.append(
            dict(
                group=group,
                accounts=len(e),
                mean_engaged_contacts=e.mean() if len(e) else np.nan,
                median_engaged_contacts=e.median() if len(e) else np.nan,
                share_no_engaged_contact=(e == 0).mean() if len(e) else np.nan,
                share_3plus_engaged=(e >= 3).mean() if len(e) else np.nan,
            )
        )
    return pd.DataFrame(rows).set_index("group")
