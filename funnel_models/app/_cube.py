"""Pre-aggregated funnel counts for dashboards: computed once, filtered in pandas at once.

A dashboard filter must redraw within a second on a million leads, so the page never goes back
to the stage events. :meth:`FunnelCube.from_dataset` turns the spells (one row per stage visit)
into counts keyed by stage, month, the filter attributes, where the visit went and a day bin of
its duration; :meth:`FunnelCube.select` filters those counts and every figure of a dashboard is
computed from what is left.

Censoring stays honest on binned times: conversion within N days is an actuarial
Aalen–Johansen estimate (``_binned_incidence``: visits still open at ``as_of`` stay at risk
through the bin of their follow-up time), time in stage a Kaplan–Meier curve on the same bins.
Bin edges fall on 1 hour, 1 day, 7 days, 30, 90 and 180 days, so SLA attainment (24 h, 168 h)
and conversion at the usual horizons are read at an edge, not interpolated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

#: Day-bin edges of every duration in the cube (the last bin is open-ended).
EDGES_DAYS = np.array(
    [0, 1 / 24, 1, 2, 3, 5, 7, 10, 14, 21, 30, 45, 60, 90, 120, 180, 270, 365, 730, np.inf]
)
#: Lead attributes a dashboard can filter on, in the order the filter bar shows them.
FILTER_COLUMNS = ("source", "region", "industry", "sdr_team")
OPEN = "(still open)"
ADVANCED, EXITED, CENSORED = 1, 2, 0
_ADVANCING = {"advanced", "skipped", "won"}
RESPONSE_EDGES_HOURS = (1.0, 24.0)
RESPONSE_LABELS = ("within 1 h", "1–24 h", "after 24 h", "no sales touch yet")
FOLLOW_UP_DAYS = 7
FOLLOW_UP_LABELS = ("no touch", "1 touch", "2 touches", "3+ touches", "(MQL under 7 days)")


def day_bin(days: np.ndarray | pd.Series) -> np.ndarray:
    """Index of the bin of :data:`EDGES_DAYS` that holds each duration (days, ≥ 0)."""
    values = np.nan_to_num(np.asarray(days, dtype=float), nan=0.0)
    return np.clip(np.searchsorted(EDGES_DAYS, np.maximum(values, 0.0), side="right") - 1, 0, None)


def _binned_incidence(counts: pd.DataFrame, horizon_days: float) -> float:
    """Actuarial Aalen–Johansen cumulative incidence of ``advanced`` by ``horizon_days``.

    ``counts`` holds columns ``bin``, ``event`` (1 advanced, 2 other exit, 0 open) and ``n``.
    Within a bin every visit is at risk from its start: exits happen in the bin, visits
    censored in the bin leave at its end. ``horizon_days`` must be an edge of
    :data:`EDGES_DAYS`.
    """
    stop = int(np.searchsorted(EDGES_DAYS, horizon_days))
    if not np.isclose(EDGES_DAYS[min(stop, len(EDGES_DAYS) - 1)], horizon_days):
        raise ValueError(f"horizon {horizon_days} d is not a bin edge of EDGES_DAYS")
    table = _event_table(counts)
    at_risk = table.sum(axis=1)[::-1].cumsum()[::-1]
    surv, incidence = 1.0, 0.0
    for b in range(min(stop, len(table))):
        n = at_risk[b]
        if n <= 0:
            break
        incidence += surv * table[b, ADVANCED] / n
        surv *= 1.0 - (table[b, ADVANCED] + table[b, EXITED]) / n
    return float(incidence) if at_risk[0] > 0 else float("nan")


def _event_table(counts: pd.DataFrame) -> np.ndarray:
    """(bins × 3) array of counts: columns open, advanced, other exit."""
    table = np.zeros((len(EDGES_DAYS) - 1, 3))
    if len(counts):
        np.add.at(
            table,
            (counts["bin"].to_numpy(int), counts["event"].to_numpy(int)),
            counts["n"].to_numpy(float),
        )
    return table


def _binned_survival(counts: pd.DataFrame) -> np.ndarray:
    """Kaplan–Meier share still in the stage at each edge of :data:`EDGES_DAYS` (any exit)."""
    table = _event_table(counts)
    at_risk = table.sum(axis=1)[::-1].cumsum()[::-1]
    exits = table[:, ADVANCED] + table[:, EXITED]
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.where(at_risk > 0, 1.0 - exits / at_risk, 1.0)
    return np.concatenate([[1.0], np.cumprod(step)])


def _quantile_days(surv: np.ndarray, share_left: float) -> float:
    """Days by which ``share_left`` of visits have left (linear within a bin); NaN if not yet."""
    target = 1.0 - share_left
    below = np.flatnonzero(surv <= target + 1e-12)
    if not len(below):
        return float("nan")
    i = int(below[0])
    if i == 0:
        return 0.0
    lo, hi = EDGES_DAYS[i - 1], EDGES_DAYS[i]
    if not np.isfinite(hi):
        return float("nan")
    s0, s1 = surv[i - 1], surv[i]
    frac = 1.0 if s0 == s1 else (s0 - target) / (s0 - s1)
    return float(lo + frac * (hi - lo))


@dataclass
class FunnelCube:
    """Counts of stage visits (and MQL→SQL reach, first responses, wins) for fast filtering.

    Build it with :meth:`from_dataset`; filter with :meth:`select`.
    """

    visits: pd.DataFrame
    reach: pd.DataFrame
    response: pd.DataFrame
    wins: pd.DataFrame
    progression: tuple[str, ...]
    owners: dict[str, str]
    sla_hours: dict[tuple[str, str], float]
    as_of: pd.Timestamp
    filters: dict[str, list[str]] = field(default_factory=dict)
    months: list[str] = field(default_factory=list)

    @classmethod
    def from_dataset(cls, dataset: Any, as_of: Any = None, *, spells: pd.DataFrame | None = None):
        """Aggregate a :class:`~funnel_models.FunnelDataset` once.

        Examples
        --------
        >>> import pandas as pd, funnel_models as fm
        >>> from funnel_models.app._cube import FunnelCube
        >>> ds = fm.FunnelDataset.from_frames(
        ...     leads=pd.DataFrame({"lead_id": ["a"], "created_at": ["2026-01-01"]}),
        ...     stage_events=pd.DataFrame(
        ...         {"lead_id": ["a", "a"], "stage": ["Lead", "MQL"],
        ...          "entered_at": ["2026-01-01", "2026-01-03"]}
        ...     ),
        ... )
        >>> int(FunnelCube.from_dataset(ds).visits["n"].sum())
        2
        """
        from funnel_models.analysis.conversion import _reach_durations
        from funnel_models.analysis.visits import spells as make_spells

        funnel = dataset.funnel
        if spells is None:
            spells = make_spells(dataset, as_of=as_of)
        if as_of is None:
            as_of = spells.attrs.get("as_of")
            if as_of is None:
                as_of = dataset.stage_events["entered_at"].max()
        as_of_ts = pd.Timestamp(as_of)
        as_of_ts = as_of_ts.tz_localize("UTC") if as_of_ts.tzinfo is None else as_of_ts
        progression = tuple(funnel.progression)

        leads = dataset.leads
        dims = [c for c in FILTER_COLUMNS if c in leads.columns]
        attrs = leads.set_index("lead_id")[dims].astype("string").fillna("(unknown)")

        s = spells.loc[spells["stage"].isin(progression)]
        ev = np.where(
            s["censored"].to_numpy(bool),
            CENSORED,
            np.where(s["outcome"].isin(_ADVANCING).to_numpy(), ADVANCED, EXITED),
        )
        visits = pd.DataFrame(
            {
                "stage": s["stage"].to_numpy(),
                "month": _month(s["entered_at"]),
                "next_stage": s["next_stage"].astype("string").fillna(OPEN).to_numpy(),
                "reason": _exit_reasons(dataset, s),
                "event": ev,
                "bin": day_bin(s["days_in_stage"]),
                "n": 1,
            }
        )
        visits = _with_attrs(visits, s["lead_id"], attrs, dims)
        visits = _count(visits, ["stage", "month", *dims, "next_stage", "reason", "event", "bin"])

        mql = progression[1] if len(progression) > 1 else progression[0]
        sql = progression[3] if len(progression) > 3 else progression[-1]
        r = _reach_durations(spells, funnel, mql, sql, as_of_ts)
        reach = pd.DataFrame(
            {
                "month": _month(r["start"]),
                "event": r["code"].map({1: ADVANCED, 2: EXITED, 0: CENSORED}).to_numpy(int),
                "bin": day_bin(r["days"]),
                "n": 1,
            }
        )
        reach = _count(
            _with_attrs(reach, r["lead_id"], attrs, dims), ["month", *dims, "event", "bin"]
        )

        response = _response_counts(dataset, spells, mql, attrs, dims, as_of_ts)

        opps = dataset.opportunities
        if opps is not None and len(opps) and "won" in opps.columns and "lead_id" in opps.columns:
            won = opps.loc[opps["won"].astype("boolean").fillna(False).to_numpy(bool)]
            when = won["closed_at"] if "closed_at" in won.columns else won["created_at"]
            keep = when.notna() & (when <= as_of_ts)
            won = won.loc[keep]
            wins = pd.DataFrame(
                {
                    "month": _month(when.loc[keep]),
                    "n": 1,
                    "amount": (
                        pd.to_numeric(won["amount"], errors="coerce").fillna(0.0).to_numpy()
                        if "amount" in won.columns
                        else 0.0
                    ),
                }
            )
            wins = _with_attrs(wins, won["lead_id"], attrs, dims)
            wins = (
                wins.groupby(["month", *dims], observed=True, dropna=False)[["n", "amount"]]
                .sum()
                .reset_index()
            )
        else:
            wins = pd.DataFrame(columns=["month", *dims, "n", "amount"])

        filters = {
            d: sorted(attrs[d].dropna().unique().tolist()) for d in dims if attrs[d].nunique() > 1
        }
        months = sorted(set(visits["month"].dropna()))
        return cls(
            visits=visits,
            reach=reach,
            response=response,
            wins=wins,
            progression=progression,
            owners={st: funnel.owner(st) for st in progression},
            sla_hours=dict(funnel.sla_hours),
            as_of=as_of_ts,
            filters=filters,
            months=months,
        )

    def select(self, *, months: tuple[str, str] | None = None, **values: str | None) -> FunnelCube:
        """The cube restricted to a month range and attribute values (None / "All": no filter).

        Examples
        --------
        >>> import pandas as pd, funnel_models as fm
        >>> from funnel_models.app._cube import FunnelCube
        >>> ds = fm.FunnelDataset.from_frames(
        ...     leads=pd.DataFrame(
        ...         {"lead_id": ["a", "b"], "created_at": ["2026-01-01", "2026-01-01"],
        ...          "source": ["web_form", "webinar"]}
        ...     ),
        ...     stage_events=pd.DataFrame(
        ...         {"lead_id": ["a", "b"], "stage": ["Lead", "Lead"],
        ...          "entered_at": ["2026-01-01", "2026-01-02"]}
        ...     ),
        ... )
        >>> int(FunnelCube.from_dataset(ds).select(source="webinar").visits["n"].sum())
        1
        """
        unknown = sorted(set(values) - set(FILTER_COLUMNS))
        if unknown:
            raise ValueError(
                f"cannot filter on {', '.join(unknown)}; choose from {', '.join(FILTER_COLUMNS)}"
            )
        active = {k: v for k, v in values.items() if v not in (None, "", "All")}

        def cut(frame: pd.DataFrame) -> pd.DataFrame:
            mask = np.ones(len(frame), dtype=bool)
            for column, value in active.items():
                if column in frame.columns:
                    mask &= (frame[column] == value).to_numpy(bool)
            if months is not None and len(frame):
                m = frame["month"].to_numpy(dtype=object)
                mask &= (m >= months[0]) & (m <= months[1])
            return frame.loc[mask]

        return FunnelCube(
            visits=cut(self.visits),
            reach=cut(self.reach),
            response=cut(self.response),
            wins=cut(self.wins),
            progression=self.progression,
            owners=self.owners,
            sla_hours=self.sla_hours,
            as_of=self.as_of,
            filters=self.filters,
            months=self.months,
        )

    # ---- tables -------------------------------------------------------------------------
    def stage_table(self, horizon_days: float = 90.0) -> pd.DataFrame:
        """Per progression stage (and Won): visits entered, still open, naive and
        censoring-aware step conversion within ``horizon_days``, owner."""
        v = self.visits
        rows = []
        top = None
        for stage in self.progression:
            part = v.loc[v["stage"] == stage]
            entered = int(part["n"].sum())
            advanced = int(part.loc[part["event"] == ADVANCED, "n"].sum())
            still_open = int(part.loc[part["event"] == CENSORED, "n"].sum())
            top = entered if top is None else top
            rows.append(
                {
                    "stage": stage,
                    "owner": self.owners.get(stage, "either"),
                    "entered": entered,
                    "advanced": advanced,
                    "still_open": still_open,
                    "naive_conversion": advanced / entered if entered else np.nan,
                    "conversion": _binned_incidence(part, horizon_days) if entered else np.nan,
                    "conversion_from_top": entered / top if top else np.nan,
                }
            )
        won = int(v.loc[v["next_stage"] == "Won", "n"].sum())
        rows.append(
            {
                "stage": "Won",
                "owner": self.owners.get(self.progression[-1], "sales"),
                "entered": won,
                "advanced": np.nan,
                "still_open": np.nan,
                "naive_conversion": np.nan,
                "conversion": np.nan,
                "conversion_from_top": won / top if top else np.nan,
            }
        )
        table = pd.DataFrame(rows).set_index("stage")
        # step conversion shown on the funnel: the censoring-aware share of the previous stage
        table["step_conversion"] = table["conversion"].shift(1)
        table.loc[table.index[0], "step_conversion"] = np.nan
        table.attrs["horizon_days"] = horizon_days
        return table

    def flows(self) -> pd.DataFrame:
        """Where visits of each stage went: ``source``, ``target`` (a stage, an outcome or
        "(still open)"), ``leads``."""
        v = self.visits
        out = v.groupby(["stage", "next_stage"], observed=True)["n"].sum().reset_index()
        out.columns = ["source", "target", "leads"]
        order = {s: i for i, s in enumerate(self.progression)}
        out["_o"] = out["source"].map(order)
        return out.sort_values(["_o", "leads"], ascending=[True, False]).drop(columns="_o")

    def time_in_stage(self) -> pd.DataFrame:
        """Kaplan–Meier (binned) median and p90 days per stage, with the SLA where one is set
        and the share of visits that left the stage within it."""
        rows = []
        sla = {frm: hours for (frm, _to), hours in self.sla_hours.items()}
        for stage in self.progression:
            part = self.visits.loc[self.visits["stage"] == stage]
            surv = _binned_survival(part)
            hours = sla.get(stage)
            within = np.nan
            if hours is not None and part["n"].sum() > 0:
                edge = int(np.searchsorted(EDGES_DAYS, hours / 24.0))
                if edge < len(EDGES_DAYS) and np.isclose(EDGES_DAYS[edge], hours / 24.0):
                    within = 1.0 - surv[edge]
            rows.append(
                {
                    "stage": stage,
                    "owner": self.owners.get(stage, "either"),
                    "visits": int(part["n"].sum()),
                    "median_days": _quantile_days(surv, 0.5),
                    "p90_days": _quantile_days(surv, 0.9),
                    "sla_days": hours / 24.0 if hours is not None else np.nan,
                    "within_sla": within,
                }
            )
        return pd.DataFrame(rows).set_index("stage")

    def sla_by(self, column: str, stage: str = "MQL") -> pd.DataFrame:
        """Share of ``stage`` visits handled (left the stage) within its SLA, per ``column``
        value, with visits open past the SLA ("in limbo")."""
        hours = next((h for (frm, _), h in self.sla_hours.items() if frm == stage), None)
        if hours is None or column not in self.visits.columns:
            return pd.DataFrame(columns=["visits", "within_sla", "open_past_sla"])
        edge = int(np.searchsorted(EDGES_DAYS, hours / 24.0))
        part = self.visits.loc[self.visits["stage"] == stage]
        rows = {}
        for value, group in part.groupby(column, observed=True):
            surv = _binned_survival(group)
            limbo = group.loc[(group["event"] == CENSORED) & (group["bin"] >= edge), "n"].sum()
            rows[value] = {
                "visits": int(group["n"].sum()),
                "within_sla": float(1.0 - surv[edge]),
                "open_past_sla": int(limbo),
            }
        out = pd.DataFrame.from_dict(
            rows, orient="index", columns=["visits", "within_sla", "open_past_sla"]
        )
        out.index.name = column
        out.attrs["sla_hours"] = hours
        return out

    def in_limbo(self, stage: str = "MQL") -> int:
        """Visits of ``stage`` still open at ``as_of`` that have waited past its SLA."""
        hours = next((h for (frm, _), h in self.sla_hours.items() if frm == stage), None)
        if hours is None:
            return 0
        edge = int(np.searchsorted(EDGES_DAYS, hours / 24.0))
        v = self.visits
        mask = (v["stage"] == stage) & (v["event"] == CENSORED) & (v["bin"] >= edge)
        return int(v.loc[mask, "n"].sum())

    def by_source(self, horizon_days: float = 90.0) -> pd.DataFrame:
        """Marketing's side: MQLs, acceptance rate (MQL→SAL or beyond within 30 days) and MQL→SQL within
        ``horizon_days``, per lead source — all censoring-aware."""
        mql = self.progression[1]
        if "source" not in self.visits.columns:
            return pd.DataFrame(columns=["mqls", "acceptance", "mql_to_sql"])
        # accepted: the MQL visit moved on (to SAL, or straight to a later stage)
        accepted = self.visits.loc[self.visits["stage"] == mql]
        rows = {}
        for value, group in accepted.groupby("source", observed=True):
            reach = self.reach.loc[self.reach["source"] == value]
            rows[value] = {
                "mqls": int(group["n"].sum()),
                "acceptance": _binned_incidence(group, 30.0),
                "mql_to_sql": _binned_incidence(reach, horizon_days) if len(reach) else np.nan,
            }
        out = pd.DataFrame.from_dict(
            rows, orient="index", columns=["mqls", "acceptance", "mql_to_sql"]
        ).sort_values("mqls", ascending=False)
        out.index.name = "source"
        return out

    def rejection_reasons(self, stages: tuple[str, ...] = ("MQL", "SAL")) -> pd.Series:
        """Why sales sent leads back: disqualified or recycled visits of ``stages`` by reason."""
        v = self.visits
        mask = v["stage"].isin(stages) & v["next_stage"].isin(["Disqualified", "Recycled"])
        reasons = v.loc[mask].assign(reason=lambda d: d["reason"].replace("", "(no reason)"))
        return reasons.groupby("reason", observed=True)["n"].sum().sort_values(ascending=False)

    def response_by(self, column: str) -> pd.DataFrame:
        """First sales response after MQL, share of MQLs per bucket, per ``column`` value."""
        r = self.response
        if column not in r.columns or r.empty:
            return pd.DataFrame(columns=list(RESPONSE_LABELS))
        table = r.pivot_table(
            index=column, columns="bucket", values="n", aggfunc="sum", observed=True
        )
        table = table.reindex(columns=list(RESPONSE_LABELS)).fillna(0)
        return table.div(table.sum(axis=1), axis=0)

    def follow_up_by(self, column: str) -> pd.DataFrame:
        """Sales touches in the first 7 days after the MQL: share of MQLs with none, one, two,
        three or more, per ``column`` value (MQLs younger than 7 days left out)."""
        r = self.response
        labels = list(FOLLOW_UP_LABELS[:4])
        if column not in r.columns or r.empty:
            return pd.DataFrame(columns=labels)
        r = r.loc[r["touches"] != FOLLOW_UP_LABELS[4]]
        table = r.pivot_table(
            index=column, columns="touches", values="n", aggfunc="sum", observed=True
        )
        table = table.reindex(columns=labels).fillna(0)
        return table.div(table.sum(axis=1).where(lambda x: x > 0), axis=0)

    def cohorts(self, horizon_days: float = 90.0) -> pd.DataFrame:
        """MQL→SQL within ``horizon_days`` by monthly MQL cohort: naive share, censoring-aware
        estimate and whether the cohort is still maturing at ``as_of``."""
        rows = []
        for month, group in self.reach.groupby("month", observed=True):
            leads = int(group["n"].sum())
            reached = group.loc[(group["event"] == ADVANCED) & (group["bin"] < _edge(horizon_days))]
            end = pd.Period(month, freq="M").end_time.tz_localize("UTC")
            rows.append(
                {
                    "cohort": month,
                    "leads": leads,
                    "naive": int(reached["n"].sum()) / leads if leads else np.nan,
                    "conversion": _binned_incidence(group, horizon_days),
                    "maturing": bool(end + pd.Timedelta(days=horizon_days) > self.as_of),
                }
            )
        out = pd.DataFrame(rows, columns=["cohort", "leads", "naive", "conversion", "maturing"])
        return out.set_index("cohort")

    def kpis(self, months: tuple[str, str] | None) -> pd.DataFrame:
        """Key figures in ``months`` and in the equally long period just before it."""
        if months is None:
            current = self
            previous = None
        else:
            current = self.select(months=months)
            first = pd.Period(months[0], freq="M")
            last = pd.Period(months[1], freq="M")
            span = (last - first).n + 1
            previous = self.select(months=(str(first - span), str(first - 1)))

        def figures(cube: FunnelCube) -> dict[str, float]:
            v = cube.visits
            entered = v.groupby("stage", observed=True)["n"].sum()
            mql, sal = cube.progression[1], cube.progression[2]
            return {
                "Leads": float(entered.get(cube.progression[0], 0)),
                "MQLs": float(entered.get(mql, 0)),
                "Accepted by sales": float(entered.get(sal, 0)),
                "Won deals": float(cube.wins["n"].sum()) if len(cube.wins) else 0.0,
                "Revenue won": float(cube.wins["amount"].sum()) if len(cube.wins) else 0.0,
            }

        now = figures(current)
        before = figures(previous) if previous is not None else dict.fromkeys(now, np.nan)
        out = pd.DataFrame({"value": now, "previous": before})
        out.index.name = "measure"
        with np.errstate(divide="ignore", invalid="ignore"):
            out["change"] = np.where(
                out["previous"] > 0, out["value"] / out["previous"] - 1, np.nan
            )
        return out


def _edge(days: float) -> int:
    return int(np.searchsorted(EDGES_DAYS, days))


def _month(values: pd.Series) -> np.ndarray:
    ts = pd.to_datetime(values, utc=True)
    return ts.dt.strftime("%Y-%m").to_numpy(dtype=object)


def _with_attrs(
    frame: pd.DataFrame, lead_ids: pd.Series, attrs: pd.DataFrame, dims
) -> pd.DataFrame:
    if not dims:
        return frame
    joined = attrs.reindex(pd.Index(lead_ids.to_numpy(), dtype="string"))
    for d in dims:
        frame[d] = joined[d].fillna("(unknown)").to_numpy(dtype=object)
    return frame


def _count(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.groupby(keys, observed=True, dropna=False, sort=False)["n"].sum().reset_index()


def _response_counts(dataset, spells, mql, attrs, dims, as_of_ts) -> pd.DataFrame:
    """MQL visits by bucket of hours to the first sales activity at or after the MQL."""
    cols = ["month", *dims, "bucket", "touches", "n"]
    acts = dataset.activities
    visits = spells.loc[spells["stage"] == mql, ["lead_id", "entered_at"]]
    if acts is None or visits.empty:
        return pd.DataFrame(columns=cols)
    if "team" in acts.columns:
        acts = acts.loc[acts["team"].astype("string").str.lower() == "sales"]
    acts = acts.loc[acts["occurred_at"] <= as_of_ts, ["lead_id", "occurred_at"]]
    left = visits.sort_values("entered_at").reset_index(drop=True)
    right = acts.sort_values("occurred_at").reset_index(drop=True)
    left["lead_id"] = left["lead_id"].astype("string")
    right["lead_id"] = right["lead_id"].astype("string")
    merged = pd.merge_asof(
        left,
        right,
        left_on="entered_at",
        right_on="occurred_at",
        by="lead_id",
        direction="forward",
    )
    hours = (merged["occurred_at"] - merged["entered_at"]).dt.total_seconds() / 3600.0
    lo, hi = RESPONSE_EDGES_HOURS
    bucket = np.select(
        [hours <= lo, hours <= hi, hours > hi],
        list(RESPONSE_LABELS[:3]),
        default=RESPONSE_LABELS[3],
    )
    # follow-up: sales touches within FOLLOW_UP_DAYS of the MQL (young MQLs kept apart)
    pairs = left.reset_index().merge(right, on="lead_id", how="inner")
    window = pd.Timedelta(days=FOLLOW_UP_DAYS)
    inside = (pairs["occurred_at"] >= pairs["entered_at"]) & (
        pairs["occurred_at"] < pairs["entered_at"] + window
    )
    touches = pairs.loc[inside].groupby("index").size().reindex(left.index, fill_value=0)
    labels = np.array(FOLLOW_UP_LABELS[:4], dtype=object)
    follow_up = labels[np.minimum(touches.to_numpy(), 3)]
    young = (left["entered_at"] + window > as_of_ts).to_numpy()
    follow_up[young] = FOLLOW_UP_LABELS[4]
    frame = pd.DataFrame(
        {
            "month": _month(merged["entered_at"]),
            "bucket": bucket,
            "touches": follow_up,
            "n": 1,
        }
    )
    frame = _with_attrs(frame, merged["lead_id"], attrs, dims)
    return _count(frame, ["month", *dims, "bucket", "touches"])


def _exit_reasons(dataset, s: pd.DataFrame) -> np.ndarray:
    """The ``reason`` of the stage event that ended each visit ("" when none)."""
    ev = dataset.stage_events
    if "reason" not in ev.columns or s.empty:
        return np.full(len(s), "", dtype=object)
    keyed = ev.loc[ev["reason"].notna(), ["lead_id", "stage", "entered_at", "reason"]]
    keyed = keyed.drop_duplicates(["lead_id", "stage", "entered_at"])
    left = pd.DataFrame(
        {
            "lead_id": s["lead_id"].to_numpy(),
            "stage": s["next_stage"].astype("string").to_numpy(),
            "entered_at": s["exited_at"].to_numpy(),
        }
    )
    merged = left.merge(keyed, on=["lead_id", "stage", "entered_at"], how="left")
    return merged["reason"].astype("string").fillna("").to_numpy(dtype=object)
