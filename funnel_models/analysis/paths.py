"""Paths through the funnel: variants, skipped stages, recycles and re-entries.

A lead's *path* is the sequence of its stage visits in time order (progression
stages and Recycled), followed by where it ended: a terminal outcome (Won,
Lost, Disqualified) or ``(open)`` when it is still in a stage at ``as_of``.
Leads that share a path form a *variant*.

Examples
--------
>>> import pandas as pd, funnel_models as fm
>>> leads = pd.DataFrame({"lead_id": list("abc"), "created_at": ["2024-01-01"] * 3})
>>> events = pd.DataFrame({
...     "lead_id": list("aaabbc"),
...     "stage": ["Lead", "MQL", "Won", "Lead", "Lost", "Lead"],
...     "entered_at": ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-01",
...                    "2024-01-02", "2024-01-01"]})
>>> ds = fm.FunnelDataset.from_frames(leads=leads, stage_events=events)
>>> fm.paths(ds, as_of="2024-02-01")["leads"].to_dict()
{'Lead → (open)': 1, 'Lead → Lost': 1, 'Lead → MQL → Won': 1}
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from funnel_models.analysis.visits import spells_of
from funnel_models.core.funnel import Funnel

__all__ = ["OPEN", "lead_paths", "path_summary", "paths"]

OPEN = "(open)"
ARROW = " → "


def lead_paths(data: Any, as_of: Any = None, *, funnel: Funnel | None = None) -> pd.DataFrame:
    """One row per lead: its path and what happened along it.

    Returns
    -------
    DataFrame indexed by ``lead_id`` with ``path`` (str), ``end`` (terminal
    stage or ``(open)``), ``n_visits``, ``skipped`` (progression stages jumped
    over, counted over all forward moves), ``skipped_stages`` (tuple of their
    names), ``recycles`` (visits to Recycled), ``reentries`` (returns from
    Recycled into the progression), ``backward`` (moves to an earlier or the
    same progression stage).
    """
    spells, funnel, _ = spells_of(data, as_of, funnel)
    prog = list(funnel.progression)
    rank = {s: i for i, s in enumerate(prog)}
    recycled = funnel.outcome_stage("recycled")
    sp = spells.loc[:, ["lead_id", "stage", "entered_at", "next_stage", "outcome", "censored"]]
    order = {s: i for i, s in enumerate(funnel.names)}
    sp = sp.assign(_r=sp["stage"].map(order)).sort_values(
        ["lead_id", "entered_at", "_r"], kind="stable"
    )
    lead = sp["lead_id"].astype(str).to_numpy()
    stage = sp["stage"].astype(str).to_numpy()
    nxt = sp["next_stage"].astype(object).to_numpy()
    outcome = sp["outcome"].astype(str).to_numpy()
    censored = sp["censored"].to_numpy(dtype=bool)

    codes, uniques = pd.factorize(lead, sort=False)
    last = np.ones(len(codes), dtype=bool)
    last[:-1] = codes[1:] != codes[:-1]
    end = np.where(censored[last], OPEN, nxt[last].astype(str))
    # end a path on its terminal outcome unless the next stage has a visit of its own
    path = (
        pd.Series(stage).groupby(codes, sort=False).agg(ARROW.join).to_numpy(dtype=object)
        + ARROW
        + end
    )

    # skipped stages on forward moves between progression stages
    from_rank = pd.Series(stage).map(rank).to_numpy(dtype=float)
    to_rank = pd.Series(nxt).map(rank).to_numpy(dtype=float)
    gap = np.where(outcome == "skipped", to_rank - from_rank - 1, 0).astype(int)
    skipped_names = [
        tuple(prog[int(f) + 1 : int(t)]) if g > 0 else ()
        for f, t, g in zip(from_rank, to_rank, gap, strict=True)
    ]
    per_lead = pd.DataFrame(
        {
            "code": codes,
            "gap": gap,
            "recycle": stage == recycled,
            "reentry": outcome == "reentered",
            "backward": outcome == "backward",
        }
    ).groupby("code", sort=False)
    sums = per_lead.sum()
    counts = per_lead.size()
    names = pd.Series(skipped_names).groupby(codes, sort=False).agg(lambda t: sum(t, ()))
    out = pd.DataFrame(
        {
            "path": path,
            "end": end,
            "n_visits": counts.to_numpy(),
            "skipped": sums["gap"].to_numpy(dtype=int),
            "skipped_stages": names.to_numpy(),
            "recycles": sums["recycle"].to_numpy(dtype=int),
            "reentries": sums["reentry"].to_numpy(dtype=int),
            "backward": sums["backward"].to_numpy(dtype=int),
        },
        index=pd.Index(uniques, name="lead_id"),
    )
    out.attrs["progression"] = prog
    return out


def paths(
    data: Any,
    as_of: Any = None,
    *,
    top: int | None = None,
    funnel: Funnel | None = None,
) -> pd.DataFrame:
    """The most common paths (variants) through the funnel.

    Parameters
    ----------
    data : FunnelDataset or spells DataFrame
    as_of : date-like, optional
        Snapshot date; default: the latest ``entered_at`` in the data.
    top : int, optional
        Keep the ``top`` most common variants.

    Returns
    -------
    DataFrame indexed by ``path`` (e.g. ``"Lead → MQL → SAL → Disqualified"``;
    ``(open)`` marks leads still in their last stage), most common first,
    with ``leads``, ``share``, ``cumulative_share``, ``end``, ``n_stages``,
    ``skipped`` (stages jumped over), ``recycles``, ``reentries`` and
    ``backward`` (per lead of the variant: all leads of a variant share them).

    Examples
    --------
    See the module docstring.
    """
    per = lead_paths(data, as_of, funnel=funnel)
    if per.empty:
        return pd.DataFrame(
            columns=[
                "leads",
                "share",
                "cumulative_share",
                "end",
                "n_stages",
                "skipped",
                "recycles",
                "reentries",
                "backward",
            ],  # fmt: skip
            index=pd.Index([], name="path"),
        )
    grouped = per.groupby("path", sort=False)
    table = grouped.agg(
        leads=("end", "size"),
        end=("end", "first"),
        n_stages=("n_visits", "first"),
        skipped=("skipped", "first"),
        recycles=("recycles", "first"),
        reentries=("reentries", "first"),
        backward=("backward", "first"),
    )
    table = table.reset_index().sort_values(["leads", "path"], ascending=[False, True])
    table = table.set_index("path")
    table.insert(1, "share", table["leads"] / len(per))
    table.insert(2, "cumulative_share", table["share"].cumsum())
    if top is not None:
        table = table.head(int(top))
    return table


def path_summary(data: Any, as_of: Any = None, *, funnel: Funnel | None = None) -> pd.DataFrame:
    """How many leads skipped, recycled, re-entered or went backwards.

    Returns
    -------
    DataFrame indexed by ``measure`` with ``leads`` and ``share`` (of all
    leads): ``leads``, ``variants``, ``skipped a stage``, ``skipped <stage>``
    for each stage ever skipped, ``recycled``, ``re-entered``, ``went
    backwards``, ``still open``.

    Examples
    --------
    >>> import pandas as pd, funnel_models as fm
    >>> leads = pd.DataFrame({"lead_id": ["a"], "created_at": ["2024-01-01"]})
    >>> events = pd.DataFrame({"lead_id": ["a"] * 3, "stage": ["Lead", "SAL", "Won"],
    ...                        "entered_at": ["2024-01-01", "2024-01-02", "2024-01-03"]})
    >>> ds = fm.FunnelDataset.from_frames(leads=leads, stage_events=events)
    >>> int(fm.path_summary(ds).loc["skipped MQL", "leads"])
    1
    """
    per = lead_paths(data, as_of, funnel=funnel)
    n = len(per)
    rows = [
        ("leads", n),
        ("variants", per["path"].nunique()),
        ("skipped a stage", int((per["skipped"] > 0).sum())),
    ]
    if n:
        exploded = per["skipped_stages"].explode().dropna()
        by_stage = exploded.groupby(level=0).unique().explode().value_counts()
        order = per.attrs.get("progression", [])
        for s in sorted(by_stage.index, key=lambda x: order.index(x) if x in order else 99):
            rows.append((f"skipped {s}", int(by_stage[s])))
    rows += [
        ("recycled", int((per["recycles"] > 0).sum())),
        ("re-entered", int((per["reentries"] > 0).sum())),
        ("went backwards", int((per["backward"] > 0).sum())),
        ("still open", int((per["end"] == OPEN).sum())),
    ]
    table = pd.DataFrame(rows, columns=["measure", "leads"]).set_index("measure")
    table["share"] = table["leads"] / n if n else np.nan
    table.loc["variants", "share"] = np.nan  # a count of variants, not of leads
    return table
