"""Where leads stall: ranked findings, and the open leads to act on now.

:func:`find_stalls` looks at every step ``stage → next stage`` of the
progression (the last stage's is ``→ Won``), for the whole funnel and for each
segment (a value of a lead attribute such as ``industry`` or ``source``).

Whole-funnel findings: the headline
    For each step with an SLA (``funnel.yaml``), the Kaplan–Meier share of its
    visits still waiting after the SLA; a finding when its interval lies above
    ``sla_tolerance`` (the share of breaches the teams agreed to tolerate,
    default 10 %). These rows (``scope == "funnel"``) come first: they describe
    the funnel as a whole and are not compared with a "rest".

Segment findings, ranked by impact (``scope == "segment"``)
    ``slow``
        the segment's leads *wait* longer for the next stage than the rest of
        the stage's visits. Measured by the ratio of Kaplan–Meier median days
        in stage, segment ÷ rest (open visits count as censored, not as
        failures), with a conservative interval from the two medians' own
        intervals (the times where the log-log Greenwood band crosses 50 %, as
        R's ``survfit``): ``[low_seg / high_rest, high_seg / low_rest]``. Also
        reported: the share still waiting after the SLA (or the stage's 90th
        percentile when the step has no SLA) against the rest's.
    ``leak``
        the segment's leads *leave* the funnel at that stage more often: the
        share of its closed visits ending lost, disqualified or recycled
        against the rest's, with a Wilson interval.

    A segment is judged with at least ``min_leads`` visits on each side and
    while it is at most half of the stage's visits. It is a finding when the
    difference is both *significant* (slow: the share-after-threshold interval
    lies above the rest's value, or the median-ratio interval lies above 1;
    leak: the Wilson interval lies above the rest's share) and *material*: a
    median wait at least ``min_ratio`` times the rest's, or a leak share at least
    ``min_ratio`` times the rest's (default 1.5). Big CRMs make 5 % differences
    significant; they are not where leads stall.

    The last step (Opportunity → Won) waits on the buyer: its length is the
    sales cycle, which grows with deal size, not a hand-off stall. Its leaks
    (the win rate) are judged; its duration only with ``close_time=True``.

Impact, in won deals per year (and revenue, times the average won deal)
    * ``leak``: extra leads lost a year, ``closed/yr × (share − rest share)``,
      times the probability that a lead in the next stage is eventually won —
      won deals *lost* compared with the rest of the funnel.
    * ``slow``: the segment's expected won deals a year that pass through the
      step (``visits/yr × P(win from the stage)``) times the share of their
      median wait that is excess, ``1 − median_rest / median_segment`` — won
      deals *at stake* in the delay (delayed, and exposed to going cold; the
      data cannot tell how many a faster hand-off would save). When more than
      half of the segment is still waiting (no median), the excess is the
      difference in the share waiting beyond the threshold.
    * whole funnel: visits/yr beyond the tolerated breach share times
      P(win from the stage).

    Findings are *ranked* by ``won_deals_low``: the same impact computed at the
    cautious end of the finding's interval (the lower end of the Wilson
    interval of a leak share, of the median-ratio interval of a wait, of the
    breach share of an SLA). A large segment with a small, uncertain
    difference so cannot outrank a clear one: the ranking says "at least this
    many", and ``won_deals_per_year`` gives the point estimate.

Win probabilities come from the absorbing Markov chain of the same visits
(:class:`~funnel_models.FunnelMarkov`, built here from transition counts).
The owner of a finding is the team owning the stage the leads wait to enter
(the MQL → SAL hand-off is owned by sales).

How it runs: the visits (:func:`funnel_models.analysis.visits`) stay an Ibis expression
on DuckDB; only per (stage, segment column, value, duration bin) counts of
closed, leaking and open visits come back (:func:`funnel_models.core.engine.stall_aggregate_expr`),
and the statistics run on those in numpy. A path is loaded with
:func:`funnel_models.load` first (a funnel store opens without re-checking). Kaplan–Meier on binned counts is
exact on the grid of :mod:`funnel_models.core.engine` (whole minutes up to a day,
whole hours up to 30 days, then 0.5 % steps): durations are rounded *up* to
it, so medians and percentiles are at most one grid step long, and exact for
whole-minute / whole-hour stays.

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

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from funnel_models._errors import FunnelConfigError, FunnelDataError
from funnel_models.analysis import _survival as _stats
from funnel_models.analysis.chain import average_deal_size, solve_absorbing
from funnel_models.analysis.visits import spells_as_of, spells_of
from funnel_models.core.funnel import Funnel

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
    "n_open", "won_deals_per_year", "revenue_per_year", "summary", "related", "scope",
    "median_ratio", "ratio_low", "ratio_high", "won_deals_low",
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


# ---------------------------------------------------------------------- inputs
@dataclass
class _Inputs:
    """What the findings are computed from: the visits (with segment columns) and context."""

    visits: Any  # _SpellVisits (holds its connection)
    columns: list[str]
    kinds: dict[str, type]  # column -> python type of its values
    funnel: Funnel
    as_of: pd.Timestamp
    deal: float
    source: str = "<memory>"
    rows: pd.DataFrame | None = None  # validation counts on the Parquet path
    rejection_reasons: pd.DataFrame | None = None
    seconds: dict | None = None  # where the time went (Parquet path), for benchmarks

    def close(self) -> None:
        """Free what the visits hold outside this process's memory (Spark's cache)."""
        self.visits.close()


def _prepare(
    data: Any,
    as_of: Any = None,
    *,
    by: Sequence[str] | None = None,
    funnel: Funnel | None = None,
    spells: pd.DataFrame | None = None,
    timezone: str = "UTC",
    dayfirst: bool = False,
    engine: str = "duckdb",
) -> _Inputs:
    """Open ``data`` (dataset, spells DataFrame, or a path :func:`funnel_models.load` reads)."""
    from funnel_models.core._time import resolve_as_of

    if engine not in ("duckdb", "spark"):
        raise FunnelConfigError(f"unknown engine {engine!r}; choose duckdb or spark")
    if isinstance(data, (str, Path)) and spells is not None:
        raise FunnelConfigError("spells= goes with a dataset, not with a path")
    if isinstance(data, (str, Path)):
        from funnel_models.io import load

        data = load(data, funnel=funnel, timezone=timezone, dayfirst=dayfirst)
    import ibis

    from funnel_models.core.dataset import FunnelDataset
    from funnel_models.core.engine import EventLog, connect, spell_expr

    con = connect(engine)
    dataset = None
    if isinstance(data, FunnelDataset):
        dataset = data
        funnel = funnel or data.funnel
    elif isinstance(data, pd.DataFrame):
        if spells is not None:
            raise FunnelConfigError("pass either spells as data or spells=, not both")
        spells, funnel, _ = spells_of(data, as_of, funnel)
        as_of = None
    else:
        raise FunnelDataError(
            f"expected a FunnelDataset, a spells DataFrame or a dataset folder, got "
            f"{type(data).__name__}"
        )
    if spells is not None:
        if spells.empty:
            raise FunnelDataError(
                "no stage visits: the stage_events table is empty (or after as_of)"
            )
        as_of_ts = spells_as_of(spells)
        frame = spells[["lead_id", "stage", "next_stage", "days_in_stage", "censored", "entered_at"]
                       + [c for c in ("owner_id",) if c in spells.columns]].copy()  # fmt: skip
        open_ = frame["censored"].fillna(False).astype(bool).to_numpy()
        frame["next_stage"] = frame["next_stage"].astype(object).where(~open_, None)
        frame["lead_id"] = frame["lead_id"].astype(str).astype(object)
        frame["stage"] = frame["stage"].astype(str).astype(object)
        frame["entered_at"] = pd.to_datetime(frame["entered_at"], utc=True).dt.as_unit("us")
        if "owner_id" in frame.columns:
            frame["owner_id"] = (
                frame["owner_id"].astype(object).where(frame["owner_id"].notna(), None)
            )
        frame.attrs = {}  # Ibis cannot serialise a Timestamp in attrs and warns
        sp = ibis.memtable(frame)
    else:
        log = EventLog.from_source(dataset, engine=engine, funnel=funnel, con=con)
        as_of_ts = log.as_of_or_latest(resolve_as_of(as_of))
        sp = spell_expr(log, as_of_ts, visits=False)
    attrs = _lead_attributes(dataset, by)
    cols = list(attrs.columns)
    kinds = {}
    for c in cols:
        values = attrs[c].dropna()
        kinds[c] = type(_py(values.iloc[0])) if len(values) else str
    if cols:
        frame = attrs.reset_index()
        frame["lead_id"] = frame["lead_id"].astype(str).astype(object)
        for c in cols:
            frame[c] = frame[c].map(lambda v: None if _isna(v) else str(_py(v)), na_action=None)
            frame[c] = frame[c].astype(object)
    else:  # spells alone carry no lead attributes to break down by
        frame = pd.DataFrame({"lead_id": pd.Series([], dtype=object)})
    # every column is text (an attribute missing on every lead would otherwise have no type)
    leads = ibis.memtable(frame, schema=ibis.schema({c: "string" for c in frame.columns}))
    joined = sp.left_join(leads, "lead_id").drop("lead_id_right") if cols else sp
    deal = average_deal_size(dataset)
    return _Inputs(
        visits=_SpellVisits(con, _materialize(con, joined, cols), leads),
        columns=cols, kinds=kinds, funnel=funnel,
        as_of=as_of_ts, deal=deal,
        source=str(getattr(dataset, "source", "<memory>")),
        rows=None if dataset is None else dataset.summary,
        rejection_reasons=None if dataset is None else dataset.rejection_reasons,
    )  # fmt: skip


def _materialize(con, spells, cols: list[str]):
    """Compute the visits once inside DuckDB (a temporary table; nothing comes to pandas).

    Only the columns the findings and the act-now list read are kept.
    """
    keep = ["lead_id", "stage", "next_stage", "days_in_stage", "censored", "entered_at"]
    keep += [c for c in ("owner_id",) if c in spells.columns] + list(cols)
    name = f"fm_spells_{next(_names)}"
    if getattr(con, "name", "") == "pyspark":  # no temporary tables: a cached temporary view
        view = con.create_view(name, spells.select(*keep))  # temporary in Spark
        con.raw_sql(f"CACHE TABLE {name}")  # freed by _SpellVisits.close()
        return view
    return con.create_table(name, spells.select(*keep), temp=True)


_names = itertools.count()


@dataclass
class _SpellVisits:
    """The visits as an Ibis table of spells (datasets and spells frames, any backend).

    Answers the questions the stall analysis asks of the visits.
    """

    con: Any
    spells: Any  # Ibis table: spell_expr columns + one column per segment attribute
    leads: Any  # Ibis table: lead_id + the segment attributes as text

    def close(self) -> None:
        """On Spark: uncache and drop the visits' temporary view (DuckDB frees its own)."""
        if getattr(self.con, "name", "") == "pyspark":
            name = self.spells.get_name()
            self.con.raw_sql(f"UNCACHE TABLE IF EXISTS {name}")
            self.con.raw_sql(f"DROP VIEW IF EXISTS {name}")

    def lead_combos(self, columns: list[str]) -> pd.DataFrame:
        """Leads counted per combination of the values of ``columns`` (``_n``)."""
        leads = self.leads
        return self.con.execute(leads.group_by(columns).aggregate(_n=leads.count()))

    def counts(self, columns, leak_stages, stages) -> pd.DataFrame:
        from funnel_models.core.engine import stall_aggregates

        return stall_aggregates(self.con, self.spells, columns, leak_stages, stages)

    def transitions(self) -> pd.DataFrame:
        from funnel_models.core.engine import stage_transition_expr

        return self.con.execute(stage_transition_expr(self.spells))

    def first_entered(self) -> Any:
        return self.con.execute(self.spells.entered_at.min())

    def late(self, thresholds: dict[str, float], limit: int | None) -> tuple[pd.DataFrame, dict]:
        """Open visits longer than their stage's threshold (days), longest overdue first."""
        import ibis

        sp = self.spells
        over = ibis.cases(
            *[(sp.stage == s, sp.days_in_stage - float(t)) for s, t in thresholds.items()],
            else_=ibis.null("float64"),
        )
        owner = sp.owner_id.cast("string") if "owner_id" in sp.columns else ibis.null("string")
        late = sp.filter(sp.censored).select(
            lead_id=sp.lead_id.cast("string"), stage=sp.stage, entered_at=sp.entered_at,
            days_in_stage=sp.days_in_stage, owner_id=owner, over=over,
        )  # fmt: skip
        late = late.filter(late.over > 0)
        per_stage = self.con.execute(late.group_by("stage").aggregate(n=late.count()))
        counts = {str(a): int(b) for a, b in zip(per_stage["stage"], per_stage["n"], strict=True)}
        ordered = late.order_by([ibis.desc("over"), "lead_id"])
        out = self.con.execute(ordered.limit(limit) if limit is not None else ordered)
        return out[["lead_id", "stage", "entered_at", "days_in_stage", "owner_id"]], counts


def _isna(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _typed(text: Any, kind: type) -> Any:
    if text is None:
        return None
    if kind is bool:
        return str(text).lower() in ("true", "1")
    if kind in (int, float):
        try:
            return kind(float(text)) if kind is int else float(text)
        except ValueError:
            return text
    return text


def _segment_columns(have: Sequence[str], by: Sequence[str] | None) -> list[str]:
    if by is None:
        return [c for c in DEFAULT_SEGMENTS if c in have]
    cols = list(by)
    missing = [c for c in cols if c not in have]
    if missing:
        import difflib

        hint = difflib.get_close_matches(missing[0], list(have), n=1)
        raise FunnelConfigError(
            f"no lead attribute {missing[0]!r} to segment by"
            + (f"; did you mean {hint[0]!r}?" if hint else "")
            + f" (attributes: {', '.join(have) or 'none'})"
        )
    return cols


# ---------------------------------------------------------------------- aggregated KM
class _Curves:
    """Kaplan–Meier curves of many groups at once from counts on a shared duration grid.

    ``closed`` and ``open`` are (groups × bins) counts of visits that ended /
    were still open with a duration in each bin; ``edges`` the bins' upper
    edges in days (increasing).
    """

    def __init__(self, edges: np.ndarray, closed: np.ndarray, open_: np.ndarray, z: float):
        self.edges = edges
        total = closed + open_
        at_risk = np.cumsum(total[:, ::-1], axis=1)[:, ::-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(at_risk > 0, 1 - closed / np.where(at_risk > 0, at_risk, 1), 1.0)
            gw = np.where(
                (at_risk > closed) & (closed > 0), closed / (at_risk * (at_risk - closed)), 0.0
            )
        self.surv = np.cumprod(step, axis=1)
        self.var = np.cumsum(gw, axis=1)
        s = self.surv
        with np.errstate(divide="ignore", invalid="ignore"):
            inner = (s > 0) & (s < 1) & (self.var > 0)
            se = np.where(inner, np.sqrt(self.var) / np.abs(np.log(np.where(inner, s, 0.5))), 0)
            self.low = np.where(inner, s ** np.exp(z * se), s)
            self.high = np.where(inner, s ** np.exp(-z * se), s)
        self.n = total.sum(axis=1)

    def at(self, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(S(t), band low, band high, Greenwood sum) of every group."""
        i = np.searchsorted(self.edges, t + 1e-12, side="right") - 1
        if i < 0:
            one = np.ones(self.surv.shape[0])
            return one, one, one, np.zeros_like(one)
        return self.surv[:, i], self.low[:, i], self.high[:, i], self.var[:, i]

    def quantile(self, q: float, which: str = "surv") -> np.ndarray:
        """Smallest grid time by which a share ``q`` has left (inf if never), per group."""
        curve = getattr(self, which)
        hit = curve <= 1 - q + 1e-12
        first = np.argmax(hit, axis=1)
        return np.where(hit.any(axis=1), self.edges[first], np.inf)


def _share_interval(s, lo, hi, var, n, confidence) -> tuple[float, float]:
    """The log-log interval of S(t), or Wilson's when Greenwood's variance is degenerate."""
    if s <= 0 or s >= 1 or var <= 0:
        return wilson_interval(s * n, n, confidence)
    return float(lo), float(hi)


def _win_probabilities(
    transitions: pd.DataFrame, visited: Sequence[str], funnel: Funnel
) -> dict[str, float]:
    """P(eventually won | in stage) from closed-visit counts, as :class:`FunnelMarkov` does.

    Recycled is absorbing (the lead has left the funnel); a stage with no
    closed visit, or a move to a stage outside the funnel, goes to an
    unresolved absorbing state.
    """
    prog = list(funnel.progression)
    t = transitions.loc[transitions["stage"].isin(prog)]
    transient = [s for s in prog if s in set(visited)]
    absorbing = list(funnel.outcomes) + ["_unresolved"]
    states = transient + absorbing
    index = {s: i for i, s in enumerate(states)}
    counts = np.zeros((len(transient), len(states)))
    for stage, nxt, n in t[["stage", "next_stage", "count"]].itertuples(index=False):
        if stage not in index:
            continue
        j = index.get(nxt, index["_unresolved"])
        counts[index[stage], j] += n
    for i in range(len(transient)):
        if counts[i].sum() == 0:
            counts[i, index["_unresolved"]] = 1.0
    P = counts / counts.sum(axis=1, keepdims=True)
    won = funnel.outcome_stage("won")
    n_t = len(transient)
    res = solve_absorbing(P, np.zeros(n_t), np.zeros(n_t), n_t, index.get(won))
    return {s: float(res["b"][i]) for i, s in enumerate(transient)}


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
    min_ratio: float = 1.5,
    close_time: bool = False,
    top: int | None = None,
    overlap: float = 0.8,
    funnel: Funnel | None = None,
    spells: pd.DataFrame | None = None,
    engine: str = "duckdb",
) -> pd.DataFrame:
    """Ranked findings: where leads wait unusually long or leak unusually often.

    Parameters
    ----------
    data : FunnelDataset, spells DataFrame, or path
        The dataset (segments come from its ``leads`` attributes and the
        accounts' ``target_account`` flag); or a path, loaded with
        :func:`funnel_models.load` (a funnel store, a folder, a database URL).
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
        Level of the intervals.
    leak_outcomes : list of str
        Outcomes counted as leaking (default lost, disqualified, recycled).
    sla_tolerance : float
        Share of SLA breaches tolerated for the whole funnel (headline rows).
    min_ratio : float
        Materiality: a segment must wait (median) or leak at least this many
        times as much as the rest to be a finding.
    close_time : bool
        Also judge how long the last step (Opportunity → Won) takes per segment
        (the sales cycle; off by default, see the module docstring).
    top : int, optional
        Keep only the first ``top`` findings.
    overlap : float
        A segment whose leads lie for at least this share inside the segment of
        a higher-ranked finding of the same kind and hand-off (``region``
        Italy inside ``sdr_team`` SDR South) is the same finding seen twice: it
        is folded into that finding's ``related`` list instead of ranked.
    funnel : Funnel, optional
        Override the dataset's funnel.
    spells : DataFrame, optional
        The dataset's spells when already built (``fm.spells(data, as_of)``).
    engine : {"duckdb", "spark"}
        Where the visits are counted: in-process DuckDB, or PySpark (the same
        Ibis expressions; the statistics run in numpy either way).

    Returns
    -------
    DataFrame indexed by ``rank``: whole-funnel (headline) rows first, then
    segment findings by impact (largest first). Columns ``from_stage``,
    ``to_stage``, ``segment`` (dict, ``{}`` for the whole funnel), ``kind``
    ('slow' or 'leak'), ``owner``, ``scope`` ('funnel' or 'segment'),
    ``measure`` (what ``value`` is), ``value`` and ``rest_value`` (the
    segment's and the rest's share; for the whole funnel, the tolerance),
    ``ci_low``/``ci_high`` (interval of ``value``), ``median_days`` and
    ``rest_median_days`` (Kaplan–Meier median days in the stage; inf when more
    than half are still waiting), ``median_ratio`` with ``ratio_low`` /
    ``ratio_high``, ``threshold_days``, ``n``/``n_rest`` (visits; closed visits
    for leaks), ``n_open`` (segment visits still open), ``won_deals_per_year``
    (lost for leaks, at stake for slow steps), ``won_deals_low`` (the same at
    the cautious end of the interval: the ranking key), ``revenue_per_year`` (NaN when
    the data has no deal amounts), a one-sentence ``summary`` and ``related``
    (segments folded into this one). ``attrs`` holds ``as_of``,
    ``segments_judged``, ``average_deal_size``, ``thresholds`` (per stage:
    next stage, days, 'SLA' or 'p90') and ``rows`` (validation counts when read
    from Parquet).

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
    if not min_ratio >= 1:
        raise FunnelConfigError(f"min_ratio must be at least 1, got {min_ratio!r}")
    inputs = _prepare(data, as_of, by=by, funnel=funnel, spells=spells, engine=engine)
    try:
        return _findings(
            inputs, min_leads=min_leads, confidence=confidence, leak_outcomes=leak_outcomes,
            sla_tolerance=sla_tolerance, min_ratio=min_ratio, close_time=close_time, top=top,
            overlap=overlap,
        )  # fmt: skip
    finally:
        inputs.close()


def _findings(
    inputs: _Inputs,
    *,
    min_leads: int = 30,
    confidence: float = 0.95,
    leak_outcomes: Sequence[str] = LEAK_OUTCOMES,
    sla_tolerance: float = 0.10,
    min_ratio: float = 1.5,
    close_time: bool = False,
    top: int | None = None,
    overlap: float = 0.8,
) -> pd.DataFrame:
    from funnel_models.core._time import bin_upper_days

    funnel, visits = inputs.funnel, inputs.visits
    prog = list(funnel.progression)
    won = funnel.outcome_stage("won")
    kinds = {funnel.outcome_stage(k): k for k in leak_outcomes if funnel.outcome_stage(k)}
    agg = visits.counts(inputs.columns, list(kinds), prog)
    trans = visits.transitions()
    first = visits.first_entered()
    if agg.empty or first is None or pd.isna(first):
        raise FunnelDataError("no stage visits: the stage_events table is empty (or after as_of)")
    p_win = _win_probabilities(trans, list(agg["stage"].unique()), funnel)
    first = pd.Timestamp(first)
    first = first.tz_localize("UTC") if first.tzinfo is None else first
    years = max((inputs.as_of - first).total_seconds() / 86400.0 / 365.25, 1 / 365.25)
    deal = inputs.deal
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    for c in ("closed", "leak", "open", "bin"):
        agg[c] = agg[c].astype("int64")
    # split once by (stage, column): boolean masks over the whole frame per stage and
    # column cost more than the statistics at 10 M visits
    parts = {
        key: part.reset_index(drop=True)
        for key, part in agg.loc[agg["value"].notna() | (agg["column"] == "")].groupby(
            ["stage", "column"], sort=False
        )
    }

    findings: list[dict] = []
    thresholds: dict[str, dict] = {}
    judged = 0
    for k, stage in enumerate(prog):
        nxt = prog[k + 1] if k + 1 < len(prog) else won
        whole = parts.get((stage, ""))
        if whole is None:
            continue
        bins = np.unique(whole["bin"].to_numpy())  # every visit counts in the whole stage
        edges = bin_upper_days(bins)

        wc, wl, wo = _matrix(whole, [0], None, bins)
        all_curve = _Curves(edges, wc, wo, z)
        n_all = int(all_curve.n[0])
        sla = funnel.sla_hours.get((stage, nxt))
        if sla is not None:
            threshold, threshold_label, label = sla / 24.0, f"the {sla:g} h SLA", "SLA"
        else:
            threshold = float(all_curve.quantile(0.9)[0])
            label = "p90"
            if not math.isfinite(threshold):
                threshold = float(edges[-1])
                label = "max"
            threshold_label = f"{_days(threshold)} (the stage's 90th percentile)"
        thresholds[stage] = {"waiting_for": nxt, "days": threshold, "threshold": label}
        p_here = p_win.get(stage, 0.0)
        p_next = 1.0 if nxt == won else p_win.get(nxt, 0.0)
        owner = _owner(funnel, stage, nxt)
        ctx = dict(
            from_stage=stage, to_stage=nxt, owner=owner, threshold_days=threshold,
            deal=deal, confidence=confidence, threshold_label=threshold_label,
            has_sla=sla is not None,
            leak_label=_or([k for k in leak_outcomes if k in kinds.values()]),
        )  # fmt: skip
        n_open_all = int(wo.sum())
        if sla is not None and n_all >= min_leads:
            judged += 1
            s, lo, hi, var = (float(x[0]) for x in all_curve.at(threshold))
            lo, hi = _share_interval(s, lo, hi, var, n_all, confidence)
            if lo > sla_tolerance:
                med = float(all_curve.quantile(0.5)[0])
                row = _slow(
                    ctx,
                    {},
                    s,
                    sla_tolerance,
                    lo,
                    hi,
                    med,
                    math.nan,
                    (math.nan,) * 3,
                    n_all,
                    0,
                    n_open_all,
                    n_all / years * (s - sla_tolerance) * p_here,
                )
                row["won_deals_low"] = n_all / years * (lo - sla_tolerance) * p_here
                findings.append(row)  # fmt: skip
        judge_slow = close_time or nxt != won
        for col in inputs.columns:
            rows = parts.get((stage, col))
            if rows is None:
                continue
            values = list(pd.unique(rows["value"]))
            sc, sl, so = _matrix(rows, values, "value", bins)
            tc, tl, to = sc.sum(axis=0), sl.sum(axis=0), so.sum(axis=0)
            seg = _Curves(edges, sc, so, z)
            rest = _Curves(edges, tc[None, :] - sc, to[None, :] - so, z)
            s_at, s_lo, s_hi, s_var = seg.at(threshold)
            r_at = rest.at(threshold)[0]
            med, med_lo, med_hi = (seg.quantile(0.5, w) for w in ("surv", "low", "high"))
            rmed, rmed_lo, rmed_hi = (rest.quantile(0.5, w) for w in ("surv", "low", "high"))
            for i, v in enumerate(values):
                n, n_rest = int(seg.n[i]), int(rest.n[i])
                if n < min_leads or n_rest < min_leads or n > n_rest:
                    continue
                judged += 1
                segment = {col: _typed(v, inputs.kinds.get(col, str))}
                n_open = int(so[i].sum())
                ratio = _ratio(med[i], rmed[i])
                ratio_ci = (_ratio(med_lo[i], rmed_hi[i]), _ratio(med_hi[i], rmed_lo[i]))
                meds = (float(med[i]), float(rmed[i]))
                s = float(s_at[i])
                lo, hi = _share_interval(s, s_lo[i], s_hi[i], s_var[i], n, confidence)
                s_rest = float(r_at[i])
                significant = (s > s_rest and lo > s_rest) or ratio_ci[0] > 1
                if math.isfinite(meds[0]) and math.isfinite(meds[1]) and meds[0] > 0:
                    material = ratio >= min_ratio
                    excess = 1 - meds[1] / meds[0]
                    excess_low = max(0.0, 1 - 1 / ratio_ci[0]) if ratio_ci[0] > 0 else 0.0
                else:
                    material = s >= min_ratio * s_rest and s > s_rest
                    excess = s - s_rest
                    excess_low = max(0.0, lo - s_rest)
                if judge_slow and significant and material and excess > 0:
                    row = _slow(
                        ctx,
                        segment,
                        s,
                        s_rest,
                        lo,
                        hi,
                        meds[0],
                        meds[1],
                        (ratio, *ratio_ci),
                        n,
                        n_rest,
                        n_open,
                        n / years * p_here * excess,
                    )
                    row["won_deals_low"] = n / years * p_here * excess_low
                    findings.append(row)  # fmt: skip
                nc, nc_rest = int(sc[i].sum()), int(tc.sum() - sc[i].sum())
                if nc < min_leads or nc_rest < min_leads:
                    continue
                kl, kr = int(sl[i].sum()), int(tl.sum() - sl[i].sum())
                share, share_rest = kl / nc, kr / nc_rest
                lo, hi = wilson_interval(kl, nc, confidence)
                if share > share_rest and lo > share_rest and share >= min_ratio * share_rest:
                    extra = nc / years * (share - share_rest)
                    row = _leak(
                        ctx,
                        segment,
                        share,
                        share_rest,
                        lo,
                        hi,
                        meds[0],
                        meds[1],
                        (ratio, *ratio_ci),
                        nc,
                        nc_rest,
                        n_open,
                        extra * p_next,
                    )
                    row["won_deals_low"] = nc / years * (lo - share_rest) * p_next
                    findings.append(row)  # fmt: skip

    table = pd.DataFrame(findings, columns=FINDING_COLUMNS)
    if len(table):
        table["_head"] = table["scope"] == "funnel"
        table = table.sort_values(
            ["_head", "won_deals_low", "won_deals_per_year"], ascending=[False, False, False],
            kind="stable",
        ).drop(columns="_head")  # fmt: skip
        table = _merge_overlapping(table.reset_index(drop=True), inputs, overlap)
    table.index = pd.RangeIndex(1, len(table) + 1, name="rank")
    if top is not None:
        table = table.head(int(top))
    table.attrs["as_of"] = inputs.as_of
    table.attrs["segments_judged"] = judged
    table.attrs["average_deal_size"] = deal
    table.attrs["thresholds"] = thresholds
    table.attrs["rows"] = inputs.rows
    return table


def _matrix(rows: pd.DataFrame, keys: list, key_col: str | None, bins: np.ndarray) -> list:
    """(closed, leak, open) counts as (keys × bins) arrays; ``bins`` sorted, unique."""
    idx = {v: i for i, v in enumerate(keys)}
    r = rows[key_col].map(idx).to_numpy(np.int64) if key_col else np.zeros(len(rows), np.int64)
    cell = r * len(bins) + np.searchsorted(bins, rows["bin"].to_numpy(np.int64))
    size = len(keys) * len(bins)
    return [
        np.bincount(cell, weights=rows[col].to_numpy(dtype=float), minlength=size).reshape(
            len(keys), len(bins)
        )
        for col in ("closed", "leak", "open")
    ]


def _ratio(a: float, b: float) -> float:
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.nan
    if b == 0:
        return math.inf if a > 0 else 1.0
    if math.isinf(b):
        return math.nan if math.isinf(a) else 0.0
    return a / b


def _merge_overlapping(table: pd.DataFrame, inputs: _Inputs, overlap: float) -> pd.DataFrame:
    """Fold findings whose segment lies mostly inside a higher-ranked one's (same step, kind).

    Overlaps are counted on leads: a cross-tabulation of the segment columns
    computed in the engine (one row per combination of values).
    """
    related: list[list[dict]] = [[] for _ in range(len(table))]
    keep = np.ones(len(table), dtype=bool)
    segs = [s for s in table["segment"] if s]
    combos = None
    if segs and len({next(iter(s)) for s in segs}) > 1:
        cols = sorted({next(iter(s)) for s in segs})
        combos = inputs.visits.lead_combos(cols)
        for c in cols:
            kind = inputs.kinds.get(c, str)
            combos[c] = [_typed(None if _isna(v) else str(v), kind) for v in combos[c]]

    def share_inside(inner: dict, outer: dict) -> float:
        (ci, vi), (co, vo) = next(iter(inner.items())), next(iter(outer.items()))
        if ci == co or combos is None:
            return 0.0
        mine = combos[ci].map(lambda x: x == vi).to_numpy(bool)
        both = mine & combos[co].map(lambda x: x == vo).to_numpy(bool)
        total = combos.loc[mine, "_n"].sum()
        return float(combos.loc[both, "_n"].sum() / total) if total else 0.0

    for i in range(len(table)):
        seg_i = table.at[i, "segment"]
        if not seg_i:
            continue
        for j in range(i):
            seg_j = table.at[j, "segment"]
            if (
                not keep[j]
                or not seg_j
                or any(table.at[i, c] != table.at[j, c] for c in ("from_stage", "kind"))
            ):
                continue
            if share_inside(seg_i, seg_j) >= overlap:
                keep[i] = False
                related[j].append(seg_i)
                break
    table["related"] = related
    return table.loc[keep].reset_index(drop=True)


def _slow(ctx, seg, s, s_rest, lo, hi, med, med_rest, ratios, n, n_rest, n_open, deals) -> dict:
    stage, nxt = ctx["from_stage"], ctx["to_stage"]
    who = _who(seg, stage)
    ratio, r_lo, r_hi = ratios
    if seg:
        times = f"{ratio:.1f}×" if math.isfinite(ratio) else "far longer than"
        text = (
            f"{who} stay a median {_days(med)} in {stage} before moving on, {times} the "
            f"{_days(med_rest)} elsewhere (interval {_x(r_lo)}–{_x(r_hi)})"
        )
        # a share past a p90 of years says nothing to a reader; past an SLA it does
        if ctx["has_sla"]:
            text += f"; {s:.0%} are still there after {ctx['threshold_label']} against {s_rest:.0%}"
        tail = f"{_impact(deals, ctx['deal'])} a year at stake in the delay"
    else:
        text = (
            f"{s:.0%} of {who} are still waiting for {nxt} after {ctx['threshold_label']}, "
            f"more than the {s_rest:.0%} tolerated (median wait {_days(med)})"
        )
        tail = f"{_impact(deals, ctx['deal'])} a year at stake"
    text += f" — {tail}; {_owns(ctx['owner'])}."
    return dict(
        from_stage=stage, to_stage=nxt, segment=seg, kind="slow", owner=ctx["owner"],
        scope="segment" if seg else "funnel",
        measure=f"share still in {stage} after {_days(ctx['threshold_days'])}", value=s,
        rest_value=s_rest, ci_low=lo, ci_high=hi, median_days=med, rest_median_days=med_rest,
        median_ratio=ratio, ratio_low=r_lo, ratio_high=r_hi,
        threshold_days=ctx["threshold_days"], n=n, n_rest=n_rest, n_open=n_open,
        won_deals_per_year=deals, revenue_per_year=deals * ctx["deal"], summary=text[0].upper()
        + text[1:], related=[],
    )  # fmt: skip


def _leak(ctx, seg, share, share_rest, lo, hi, med, med_rest, ratios, n, n_rest, n_open, deals):
    stage, nxt = ctx["from_stage"], ctx["to_stage"]
    who = _who(seg, stage)
    text = (
        f"{who} end {ctx['leak_label']} at {stage}→{nxt} {share:.0%} of the time "
        f"({ctx['confidence']:.0%} interval {lo:.0%}–{hi:.0%}), against {share_rest:.0%} elsewhere — "
        f"{_impact(deals, ctx['deal'])} a year lost; {_owns(ctx['owner'])}."
    )
    ratio, r_lo, r_hi = ratios
    return dict(
        from_stage=stage, to_stage=nxt, segment=seg, kind="leak", owner=ctx["owner"],
        scope="segment",
        measure=f"share of closed {stage} visits ending {ctx['leak_label']}", value=share,
        rest_value=share_rest, ci_low=lo, ci_high=hi, median_days=med, rest_median_days=med_rest,
        median_ratio=ratio, ratio_low=r_lo, ratio_high=r_hi,
        threshold_days=ctx["threshold_days"], n=n, n_rest=n_rest, n_open=n_open,
        won_deals_per_year=deals, revenue_per_year=deals * ctx["deal"], summary=text[0].upper()
        + text[1:], related=[],
    )  # fmt: skip


def _x(r: float) -> str:
    return f"{r:.1f}×" if math.isfinite(r) else "∞"


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


def _owner(funnel: Funnel, stage: str, nxt: str) -> str:
    owner = funnel.owner(nxt)
    return funnel.owner(stage) if owner == "either" else owner


def _py(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


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
        and len(accounts)  # no accounts table: no flag (not a column of missing values)
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
    engine: str = "duckdb",
) -> pd.DataFrame:
    """Open leads stalled beyond their stage's SLA (or its 90th percentile): act now.

    Parameters
    ----------
    data : FunnelDataset, spells DataFrame or a folder of canonical Parquet
    as_of : date-like, optional
        Snapshot date; default: the latest ``entered_at`` in the data.
    funnel : Funnel, optional
        Override the dataset's funnel.
    engine : {"duckdb", "spark"}
        As in :func:`find_stalls`.

    Returns
    -------
    DataFrame indexed by ``lead_id``, longest overdue first, with ``stage``,
    ``waiting_for`` (the next stage), ``entered_at``, ``days_in_stage``,
    ``threshold_days``, ``threshold`` ('SLA' or 'p90'), ``days_over``,
    ``owner`` (the team that must act) and ``owner_id`` (of the stage's entry
    event, when the data has one). The threshold p90 is the Kaplan–Meier 90th
    percentile of all visits of the stage, open ones included as censored (on
    the duration grid of :mod:`funnel_models.core.engine`); a stage where fewer than
    10 % of visits ever closed has no p90 and is skipped.

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
    inputs = _prepare(data, as_of, by=[], funnel=funnel, engine=engine)
    try:
        return _act_now(inputs, _thresholds(inputs))
    finally:
        inputs.close()


def _thresholds(inputs: _Inputs) -> dict[str, dict]:
    """Per progression stage: the next stage and the SLA or KM p90 (days) of its visits."""
    from funnel_models.core._time import bin_upper_days

    funnel = inputs.funnel
    prog = list(funnel.progression)
    won = funnel.outcome_stage("won")
    agg = inputs.visits.counts([], [], prog)
    out = {}
    for k, stage in enumerate(prog):
        nxt = prog[k + 1] if k + 1 < len(prog) else won
        here = agg.loc[agg["stage"] == stage]
        if here.empty:
            continue
        sla = funnel.sla_hours.get((stage, nxt))
        if sla is not None:
            out[stage] = {"waiting_for": nxt, "days": sla / 24.0, "threshold": "SLA"}
            continue
        bins = np.unique(here["bin"].to_numpy(dtype=np.int64))
        c, _, o = _matrix(here, [0], None, bins)
        p90 = float(_Curves(bin_upper_days(bins), c, o, 1.96).quantile(0.9)[0])
        label = "p90" if math.isfinite(p90) else "max"
        out[stage] = {"waiting_for": nxt, "days": p90, "threshold": label}
    return out


def _act_now(inputs: _Inputs, thresholds: dict, limit: int | None = None) -> pd.DataFrame:
    """Open visits beyond their stage's threshold, longest overdue first (all, or ``limit``).

    ``attrs["count"]`` and ``attrs["by_stage"]`` hold the totals even when ``limit`` cuts.
    """
    funnel = inputs.funnel
    cols = ["lead_id", "stage", "waiting_for", "entered_at", "days_in_stage", "threshold_days",
            "threshold", "days_over", "owner", "owner_id"]  # fmt: skip
    judged = {s: t for s, t in thresholds.items() if t["threshold"] in ("SLA", "p90")}
    # (a stage where fewer than 10% of visits ever closed has no p90 to compare with)
    if not judged:
        out = pd.DataFrame({c: [] for c in cols}).set_index("lead_id")
        out.attrs.update(as_of=inputs.as_of, count=0, by_stage={})
        return out
    out, counts = inputs.visits.late({s: t["days"] for s, t in judged.items()}, limit)
    stage = out["stage"]
    out["waiting_for"] = stage.map({s: t["waiting_for"] for s, t in judged.items()})
    out["threshold_days"] = stage.map({s: float(t["days"]) for s, t in judged.items()})
    out["threshold"] = stage.map({s: t["threshold"] for s, t in judged.items()})
    out["days_over"] = out["days_in_stage"] - out["threshold_days"]
    out["owner"] = stage.map({s: _owner(funnel, s, t["waiting_for"]) for s, t in judged.items()})
    out["entered_at"] = pd.to_datetime(out["entered_at"], utc=True).dt.as_unit("ns")
    out["owner_id"] = out["owner_id"].astype(object).where(out["owner_id"].notna(), pd.NA)
    out = out[cols].set_index("lead_id")
    by_stage = dict(sorted(counts.items(), key=lambda x: -x[1]))
    out.attrs.update(as_of=inputs.as_of, count=sum(by_stage.values()), by_stage=by_stage)
    return out
