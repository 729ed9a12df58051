"""Where leads stall: ranked findings, and the open leads to act on now.

:func:`find_stalls` looks at every hand-off ``stage → next stage`` of the
progression (the last stage's is ``→ Won``), for the whole funnel and for each
segment (a value of a lead attribute such as ``industry`` or ``source``), and
reports two kinds of finding:

``slow``
    leads of the segment *wait* unusually long: the share of its visits still
    in the stage after the threshold (the hand-off's SLA when the funnel
    defines one, else the stage's 90th percentile over all its visits) is
    higher than in the rest of the funnel. Both shares are Kaplan–Meier estimates, so visits still open
    count for as long as they have been open (censored), not as failures. For
    the whole funnel (segment ``{}``) a hand-off with an SLA is a finding when
    more than ``sla_tolerance`` of its visits breach it.
``leak``
    leads of the segment *leave* the funnel at that stage unusually often: the
    share of its closed visits that end lost, disqualified or recycled is
    higher than in the rest.

A segment is judged only with at least ``min_leads`` visits on each side, and
is a finding only when its interval (Kaplan–Meier with Greenwood's log-log
interval; Wilson for shares) lies wholly on the bad side of the rest's value,
so noise is not ranked. Findings are ranked by impact in won deals per year:

* ``leak``: extra leads lost per year (``n × (share − rest share)``) times the
  probability that a lead in the next stage is eventually won;
* ``slow``: extra leads waiting beyond the threshold per year times the
  probability of winning from the stage — the deals *at stake* in the delay;

and in revenue (times the average won deal size). Win probabilities come from
:class:`~funnel_models.FunnelMarkov` fitted on the same visits. The owner of a
finding is the team owning the stage the leads are waiting to enter (the
MQL → SAL hand-off is owned by sales).

Examples
--------
>>> import funnel_models as fm
>>> from funnel_models.synthetic import generate_tables
>>> tables, truth = generate_tables(4000, seed=3)
>>> ds = fm.FunnelDataset.from_frames(**tables)
>>> found = fm.find_stalls(ds, by=["industry", "source"])
>>> list(found.columns[:5])
['from_stage', 'to_stage', 'segment', 'kind', 'owner']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from funnel_models import _stats
from funnel_models._errors import FunnelConfigError, FunnelDataError
from funnel_models.markov import FunnelMarkov, spells_as_of, spells_of
from funnel_models.stages import Funnel

__all__ = ["DEFAULT_SEGMENTS", "LEAK_OUTCOMES", "find_stalls", "stalled_leads"]

#: Lead attributes used as segments when ``by`` is not given (those present).
DEFAULT_SEGMENTS = (
    "source",
    "industry",
    "region",
    "sdr_team",
    "company_size",
    "product_line",
    "target_account",
)
LEAK_OUTCOMES = ("lost", "disqualified", "recycled")

FINDING_COLUMNS = [
    "from_stage", "to_stage", "segment", "kind", "owner", "measure", "value", "rest_value",
    "ci_low", "ci_high", "median_days", "rest_median_days", "threshold_days", "n", "n_rest",
    "n_open", "won_deals_per_year", "revenue_per_year", "summary", "related",
]  # fmt: skip


# ---------------------------------------------------------------------- statistics
def wilson_interval(k: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of ``k / n`` as floats (NaN, NaN when n == 0).

    >>> [round(x, 4) for x in wilson_interval(8, 10)]
    [0.4902, 0.9433]
    """
    low, high = _stats.wilson_interval(k, n, conf_level=confidence)
    return (float(low), float(high))


class _KM:
    """Kaplan–Meier curves of many subsets of one set of durations, O(n) each.

    The durations are ranked once; a subset's curve comes from bincounts over
    the unique times.
    """

    def __init__(self, durations: np.ndarray, events: np.ndarray):
        self.times, self.inv = np.unique(durations, return_inverse=True)
        self.events = events.astype(bool)

    def curve(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(unique times, S(t) just after each, Greenwood sum) for the rows in ``mask``."""
        k = len(self.times)
        total = np.bincount(self.inv[mask], minlength=k).astype(float)
        died = np.bincount(self.inv[mask & self.events], minlength=k).astype(float)
        at_risk = np.cumsum(total[::-1])[::-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(at_risk > 0, 1 - died / np.where(at_risk > 0, at_risk, 1), 1.0)
            gw = np.where((at_risk > died) & (died > 0), died / (at_risk * (at_risk - died)), 0.0)
        return self.times, np.cumprod(step), np.cumsum(gw)

    def at(self, mask: np.ndarray, t: float, confidence: float) -> tuple[float, float, float]:
        """S(t) with its log-log Greenwood interval."""
        times, surv, gw = self.curve(mask)
        i = np.searchsorted(times, t, side="right") - 1
        s, v = (float(surv[i]), float(gw[i])) if i >= 0 else (1.0, 0.0)
        if s <= 0 or s >= 1 or v <= 0:
            # no event (or everyone gone) by t: Greenwood's variance is 0; fall back to the
            # Wilson interval of the same share among the subset, never a point interval
            n = int(mask.sum())
            lo, hi = wilson_interval(s * n, n, confidence)
            return (s, lo, hi)
        z = NormalDist().inv_cdf(0.5 + confidence / 2)
        se = math.sqrt(v) / abs(math.log(s))
        lo, hi = s ** math.exp(z * se), s ** math.exp(-z * se)
        return (s, lo, hi)

    def quantile(self, mask: np.ndarray, q: float) -> float:
        """Smallest time by which a share ``q`` has left (inf if never reached)."""
        times, surv, _ = self.curve(mask)
        hit = np.nonzero(surv <= 1 - q + 1e-12)[0]
        return float(times[hit[0]]) if hit.size else math.inf


# ---------------------------------------------------------------------- findings
def find_stalls(
    data: Any,
    as_of: Any = None,
    *,
    by: Sequence[str] | None = None,
    min_leads: int = 30,
    confidence: float = 0.95,
    leak_outcomes: Sequence[str] = LEAK_OUTCOMES,
    sla_tolerance: float = 0.10,
    top: int | None = None,
    overlap: float = 0.8,
    funnel: Funnel | None = None,
    spells: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Ranked findings: where leads wait unusually long or leak unusually often.

    Parameters
    ----------
    data : FunnelDataset
        The dataset (segments come from its ``leads`` attributes and the
        accounts' ``target_account`` flag).
    as_of : date-like, optional
        Snapshot date; default: the latest ``entered_at`` in the data.
    by : list of str, optional
        Lead attributes to segment by; default: those of
        :data:`DEFAULT_SEGMENTS` present in the data.
    min_leads : int
        Minimum visits in a segment *and* in the rest to judge it. A segment
        is judged only while it is at most half of the stage's visits (a
        segment stands out from the rest, not the rest from a small group).
    confidence : float
        Level of the intervals; a segment is a finding only when its interval
        excludes the rest's value.
    leak_outcomes : list of str
        Outcomes counted as leaking (default lost, disqualified, recycled).
    sla_tolerance : float
        Share of SLA breaches tolerated for the whole funnel.
    top : int, optional
        Keep only the first ``top`` findings.
    overlap : float
        A segment whose leads lie for at least this share inside the segment of
        a higher-ranked finding of the same kind and hand-off (``region``
        Italy inside ``sdr_team`` SDR South) is the same finding seen twice: it
        is folded into that finding's ``related`` list instead of ranked.
    spells : DataFrame, optional
        The dataset's spells when already built (``fm.spells(data, as_of)``).

    Returns
    -------
    DataFrame indexed by ``rank`` (1 = largest impact) with columns
    ``from_stage``, ``to_stage``, ``segment`` (dict, ``{}`` for the whole
    funnel), ``kind`` ('slow' or 'leak'), ``owner``, ``measure`` (what
    ``value`` is), ``value`` and ``rest_value`` (the segment's and the rest's
    share), ``ci_low``/``ci_high`` (interval of ``value``), ``median_days`` and
    ``rest_median_days`` (Kaplan–Meier median days in the stage; inf when
    more than half are still waiting), ``threshold_days``, ``n``/``n_rest``
    (visits), ``n_open`` (segment visits still open), ``won_deals_per_year``,
    ``revenue_per_year`` (NaN when the data has no deal amounts), a
    one-sentence ``summary`` and ``related`` (segments folded into this one). ``attrs`` holds ``as_of`` and
    ``segments_judged``.

    Examples
    --------
    >>> import pandas as pd, funnel_models as fm
    >>> leads = pd.DataFrame({"lead_id": list("ab"), "created_at": ["2024-01-01"] * 2,
    ...                       "source": ["web", "fair"]})
    >>> events = pd.DataFrame({"lead_id": list("aabb"), "stage": ["Lead", "MQL"] * 2,
    ...                        "entered_at": ["2024-01-01", "2024-01-02"] * 2})
    >>> ds = fm.FunnelDataset.from_frames(leads=leads, stage_events=events)
    >>> len(fm.find_stalls(ds))  # two leads are too few to judge any segment
    0
    """
    if min_leads < 1:
        raise FunnelConfigError("min_leads must be at least 1")
    if not 0 < confidence < 1:
        raise FunnelConfigError(f"confidence must be in (0, 1), got {confidence!r}")
    if spells is None:
        spells, funnel, dataset = spells_of(data, as_of, funnel)
    else:
        dataset, funnel = data, funnel or data.funnel
    if spells.empty:
        raise FunnelDataError("no stage visits: the stage_events table is empty (or after as_of)")
    as_of_ts = spells_as_of(spells)
    attrs = _lead_attributes(dataset, by)
    model = FunnelMarkov(n_bootstrap=0).fit(spells, funnel=funnel)
    if dataset is not None:
        model.average_deal_size_ = _deal_size(dataset)
    deal = model.average_deal_size_
    first = pd.Timestamp(spells["entered_at"].min())
    years = max((as_of_ts - first).total_seconds() / 86400.0 / 365.25, 1 / 365.25)

    prog = list(funnel.progression)
    won = funnel.outcome_stage("won")
    kinds = {funnel.outcome_stage(k): k for k in leak_outcomes if funnel.outcome_stage(k)}
    sp = spells.loc[spells["stage"].isin(prog)]
    seg_values = {}
    if not attrs.empty:
        joined = attrs.reindex(sp["lead_id"].astype(str).to_numpy())
        seg_values = {c: joined[c].to_numpy() for c in attrs.columns}

    findings: list[dict] = []
    judged = 0
    for k, stage in enumerate(prog):
        nxt = prog[k + 1] if k + 1 < len(prog) else won
        rows = (sp["stage"] == stage).to_numpy()
        if rows.sum() == 0:
            continue
        here = sp.loc[rows]
        dur = here["days_in_stage"].to_numpy(dtype=float)
        censored = here["censored"].to_numpy(dtype=bool)
        closed = ~censored
        leak = here["next_stage"].isin(list(kinds)).to_numpy() & closed
        km = _KM(dur, closed)
        everyone = np.ones(len(here), dtype=bool)
        sla = funnel.sla_hours.get((stage, nxt))
        if sla is not None:
            threshold, threshold_label = sla / 24.0, f"the {sla:g} h SLA"
        else:
            threshold = km.quantile(everyone, 0.9)
            if not math.isfinite(threshold):
                threshold = float(np.max(dur))
            threshold_label = f"{_days(threshold)} (the stage's 90th percentile)"
        p_win_here = _p(model, stage)
        p_win_next = 1.0 if nxt == won else _p(model, nxt)
        owner = _owner(funnel, stage, nxt)
        ctx = dict(
            from_stage=stage, to_stage=nxt, owner=owner, threshold_days=threshold, years=years,
            deal=deal, confidence=confidence, threshold_label=threshold_label,
            leak_label=_or([k for k in leak_outcomes if k in kinds.values()]),
        )  # fmt: skip

        if sla is not None and len(here) >= min_leads:
            judged += 1
            s, lo, hi = km.at(everyone, threshold, confidence)
            if lo > sla_tolerance:
                excess = len(here) / years * (s - sla_tolerance)
                findings.append(
                    _slow(ctx, {}, s, sla_tolerance, lo, hi, km.quantile(everyone, 0.5),
                          math.nan, len(here), 0, int(censored.sum()), excess * p_win_here)
                )  # fmt: skip
        for col, values in seg_values.items():
            vals = values[rows]
            valid = ~pd.isna(vals)
            uniq = pd.unique(vals[valid])
            for v in uniq:
                mask = valid & (vals == v)
                rest = valid & ~mask
                n, n_rest = int(mask.sum()), int(rest.sum())
                if n < min_leads or n_rest < min_leads or n > n_rest:
                    continue
                judged += 1
                seg = {col: _py(v)}
                s, lo, hi = km.at(mask, threshold, confidence)
                s_rest = km.at(rest, threshold, confidence)[0]
                if s > s_rest and lo > s_rest:
                    excess = n / years * (s - s_rest)
                    findings.append(
                        _slow(ctx, seg, s, s_rest, lo, hi, km.quantile(mask, 0.5),
                              km.quantile(rest, 0.5), n, n_rest, int((mask & censored).sum()),
                              excess * p_win_here)
                    )  # fmt: skip
                nc, nc_rest = int((mask & closed).sum()), int((rest & closed).sum())
                if nc < min_leads or nc_rest < min_leads:
                    continue
                kl, kr = int((mask & leak).sum()), int((rest & leak).sum())
                share, share_rest = kl / nc, kr / nc_rest
                lo, hi = wilson_interval(kl, nc, confidence)
                if share > share_rest and lo > share_rest:
                    extra = nc / years * (share - share_rest)
                    findings.append(
                        _leak(ctx, seg, share, share_rest, lo, hi, km.quantile(mask, 0.5),
                              km.quantile(rest, 0.5), nc, nc_rest, int((mask & censored).sum()),
                              extra * p_win_next)
                    )  # fmt: skip

    table = pd.DataFrame(findings, columns=FINDING_COLUMNS)
    if len(table):
        table = table.sort_values(
            ["won_deals_per_year", "value"], ascending=[False, False], kind="stable"
        )
        table = _merge_overlapping(table.reset_index(drop=True), attrs, overlap)
    table.index = pd.RangeIndex(1, len(table) + 1, name="rank")
    if top is not None:
        table = table.head(int(top))
    table.attrs["as_of"] = as_of_ts
    table.attrs["segments_judged"] = judged
    table.attrs["average_deal_size"] = deal
    return table


def _merge_overlapping(table: pd.DataFrame, attrs: pd.DataFrame, overlap: float) -> pd.DataFrame:
    """Fold findings whose segment lies mostly inside a higher-ranked one's (same step, kind)."""
    related: list[list[dict]] = [[] for _ in range(len(table))]
    keep = np.ones(len(table), dtype=bool)
    masks: dict[tuple, np.ndarray] = {}

    def leads_of(seg: dict) -> np.ndarray:
        (col, value), *_ = seg.items()
        key = (col, repr(value))
        if key not in masks:
            masks[key] = (attrs[col] == value).to_numpy(dtype=bool, na_value=False)
        return masks[key]

    for i in range(len(table)):
        seg_i = table.at[i, "segment"]
        if not seg_i:
            continue
        mine = leads_of(seg_i)
        for j in range(i):
            seg_j = table.at[j, "segment"]
            if (
                not keep[j]
                or not seg_j
                or any(table.at[i, c] != table.at[j, c] for c in ("from_stage", "kind"))
            ):
                continue
            inside = (mine & leads_of(seg_j)).sum() / max(mine.sum(), 1)
            if inside >= overlap:
                keep[i] = False
                related[j].append(seg_i)
                break
    table["related"] = related
    return table.loc[keep].reset_index(drop=True)


def _slow(ctx, seg, s, s_rest, lo, hi, med, med_rest, n, n_rest, n_open, deals) -> dict:
    stage, nxt = ctx["from_stage"], ctx["to_stage"]
    who = _who(seg, stage)
    if seg:
        text = (
            f"{who} wait a median {_days(med)} to reach {nxt}, against {_days(med_rest)} "
            f"elsewhere; {s:.0%} are still waiting after {ctx['threshold_label']} against "
            f"{s_rest:.0%}"
        )
    else:
        text = (
            f"{s:.0%} of {who} are still waiting for {nxt} after {ctx['threshold_label']} "
            f"(tolerance {s_rest:.0%}; median wait {_days(med)})"
        )
    text += f" — {_impact(deals, ctx['deal'])} a year at stake; {_owns(ctx['owner'])}."
    return dict(
        from_stage=stage, to_stage=nxt, segment=seg, kind="slow", owner=ctx["owner"],
        measure=f"share still in {stage} after {_days(ctx['threshold_days'])}", value=s,
        rest_value=s_rest, ci_low=lo, ci_high=hi, median_days=med, rest_median_days=med_rest,
        threshold_days=ctx["threshold_days"], n=n, n_rest=n_rest, n_open=n_open,
        won_deals_per_year=deals, revenue_per_year=deals * ctx["deal"], summary=text[0].upper()
        + text[1:], related=[],
    )  # fmt: skip


def _leak(ctx, seg, share, share_rest, lo, hi, med, med_rest, n, n_rest, n_open, deals) -> dict:
    stage, nxt = ctx["from_stage"], ctx["to_stage"]
    who = _who(seg, stage)
    text = (
        f"{who} end {ctx['leak_label']} at {stage}→{nxt} {share:.0%} of the time "
        f"({ctx['confidence']:.0%} interval {lo:.0%}–{hi:.0%}), against {share_rest:.0%} elsewhere — "
        f"{_impact(deals, ctx['deal'])} a year lost; {_owns(ctx['owner'])}."
    )
    return dict(
        from_stage=stage, to_stage=nxt, segment=seg, kind="leak", owner=ctx["owner"],
        measure=f"share of closed {stage} visits ending {ctx['leak_label']}", value=share,
        rest_value=share_rest, ci_low=lo, ci_high=hi, median_days=med, rest_median_days=med_rest,
        threshold_days=ctx["threshold_days"], n=n, n_rest=n_rest, n_open=n_open,
        won_deals_per_year=deals, revenue_per_year=deals * ctx["deal"], summary=text[0].upper()
        + text[1:], related=[],
    )  # fmt: skip


def _or(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _plural(stage: str) -> str:
    return stage[:-1] + "ies" if stage.endswith("y") and not stage.isupper() else stage + "s"


def _who(seg: dict, stage: str) -> str:
    if not seg:
        return _plural(stage)
    (col, value), *_ = seg.items()
    if isinstance(value, bool):
        value = "yes" if value else "no"
    return f"{_plural(stage)} with {col.replace('_', ' ')} {value!s}"


def _owns(owner: str) -> str:
    if owner == "either":
        return "marketing and sales share this step"
    return f"{owner} owns this hand-off"


def _impact(deals: float, deal: float) -> str:
    text = f"about {_num(deals)} won deal{'s' if round(deals) != 1 else ''}"
    if math.isfinite(deal) and math.isfinite(deals):
        text += f" ({_money(deals * deal)})"
    return text


def _num(x: float) -> str:
    if not math.isfinite(x):
        return "an unknown number of"
    return f"{x:,.0f}" if x >= 10 else f"{x:.1f}".rstrip("0").rstrip(".")


def _money(x: float) -> str:
    if abs(x) >= 1e6:
        return f"{x / 1e6:,.1f} M in revenue"
    if abs(x) >= 1e3:
        return f"{x / 1e3:,.0f} k in revenue"
    return f"{x:,.0f} in revenue"


def _days(d: float) -> str:
    if not math.isfinite(d):
        return "more than the observed time"
    if d < 1:
        return f"{d * 24:.1f} hours"
    return f"{d:.1f} day" + ("" if round(d, 1) == 1 else "s")


def _p(model: FunnelMarkov, stage: str) -> float:
    try:
        return model.win_probability(stage)
    except KeyError:
        return 0.0


def _owner(funnel: Funnel, stage: str, nxt: str) -> str:
    owner = funnel.owner(nxt)
    return funnel.owner(stage) if owner == "either" else owner


def _py(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


def _deal_size(dataset) -> float:
    from funnel_models.markov import average_deal_size

    return average_deal_size(dataset)


def _lead_attributes(dataset, by: Sequence[str] | None) -> pd.DataFrame:
    """Lead attributes indexed by lead_id (``target_account`` also from accounts)."""
    if dataset is None:
        if by:
            raise FunnelConfigError(
                "segments need the leads table: pass the dataset, not bare spells"
            )
        return pd.DataFrame()
    leads = dataset.leads.set_index("lead_id")
    accounts = dataset.accounts
    if (
        "target_account" not in leads.columns
        and "account_id" in leads.columns
        and "target_account" in accounts.columns
    ):
        flag = accounts.drop_duplicates("account_id").set_index("account_id")["target_account"]
        leads = leads.assign(target_account=leads["account_id"].map(flag))
    if by is None:
        cols = [c for c in DEFAULT_SEGMENTS if c in leads.columns]
    else:
        cols = list(by)
        missing = [c for c in cols if c not in leads.columns]
        if missing:
            import difflib

            have = [c for c in leads.columns if c != "created_at"]
            hint = difflib.get_close_matches(missing[0], have, n=1)
            raise FunnelConfigError(
                f"no lead attribute {missing[0]!r} to segment by"
                + (f"; did you mean {hint[0]!r}?" if hint else "")
                + f" (attributes: {', '.join(have) or 'none'})"
            )
    return leads[cols]


# ---------------------------------------------------------------------- act now
def stalled_leads(
    data: Any,
    as_of: Any = None,
    *,
    funnel: Funnel | None = None,
) -> pd.DataFrame:
    """Open leads stalled beyond their stage's SLA (or its 90th percentile): act now.

    Parameters
    ----------
    data : FunnelDataset or spells DataFrame
    as_of : date-like, optional
        Snapshot date; default: the latest ``entered_at`` in the data.

    Returns
    -------
    DataFrame indexed by ``lead_id``, longest overdue first, with ``stage``,
    ``waiting_for`` (the next stage), ``entered_at``, ``days_in_stage``,
    ``threshold_days``, ``threshold`` ('SLA' or 'p90'), ``days_over``,
    ``owner`` (the team that must act) and ``owner_id`` (of the stage's entry
    event, when the data has one). The threshold p90 is the Kaplan–Meier 90th
    percentile of all visits of the stage, open ones included as censored.

    Examples
    --------
    >>> import pandas as pd, funnel_models as fm
    >>> leads = pd.DataFrame({"lead_id": ["a", "b"], "created_at": ["2024-01-01"] * 2})
    >>> events = pd.DataFrame({"lead_id": ["a", "b", "b"], "stage": ["MQL", "MQL", "SAL"],
    ...                        "entered_at": ["2024-01-01", "2024-01-03", "2024-01-03"]})
    >>> ds = fm.FunnelDataset.from_frames(leads=leads, stage_events=events)
    >>> fm.stalled_leads(ds, as_of="2024-01-05")[["stage", "days_over", "owner"]].values.tolist()
    [['MQL', 3.0, 'sales']]
    """
    spells, funnel, _ = spells_of(data, as_of, funnel)
    prog = list(funnel.progression)
    won = funnel.outcome_stage("won")
    parts = []
    for k, stage in enumerate(prog):
        nxt = prog[k + 1] if k + 1 < len(prog) else won
        here = spells.loc[(spells["stage"] == stage).to_numpy()]
        if here.empty:
            continue
        censored = here["censored"].to_numpy(dtype=bool)
        if not censored.any():
            continue
        sla = funnel.sla_hours.get((stage, nxt))
        if sla is not None:
            threshold, label = sla / 24.0, "SLA"
        else:
            km = _KM(here["days_in_stage"].to_numpy(dtype=float), ~censored)
            threshold, label = km.quantile(np.ones(len(here), bool), 0.9), "p90"
            if not math.isfinite(threshold):
                continue  # fewer than 10% of visits ever closed: no p90 to compare with
        late = here.loc[censored & (here["days_in_stage"].to_numpy() > threshold)]
        if late.empty:
            continue
        part = pd.DataFrame(
            {
                "lead_id": late["lead_id"].astype(str).to_numpy(),
                "stage": stage,
                "waiting_for": nxt,
                "entered_at": late["entered_at"].to_numpy(),
                "days_in_stage": late["days_in_stage"].to_numpy(dtype=float),
                "threshold_days": threshold,
                "threshold": label,
                "owner": _owner(funnel, stage, nxt),
                "owner_id": late["owner_id"].to_numpy() if "owner_id" in late.columns else pd.NA,
            }
        )
        parts.append(part)
    cols = ["lead_id", "stage", "waiting_for", "entered_at", "days_in_stage", "threshold_days",
            "threshold", "days_over", "owner", "owner_id"]  # fmt: skip
    if not parts:
        out = pd.DataFrame({c: [] for c in cols})
    else:
        out = pd.concat(parts, ignore_index=True)
        out["entered_at"] = pd.to_datetime(out["entered_at"], utc=True)
        out["days_over"] = out["days_in_stage"] - out["threshold_days"]
        out = out[cols].sort_values(["days_over", "lead_id"], ascending=[False, True])
    out = out.set_index("lead_id")
    out.attrs["as_of"] = spells_as_of(spells)
    return out
