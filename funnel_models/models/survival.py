"""Time to convert: is this stalled lead still alive?

:class:`TimeToConvert` estimates, per segment, the cumulative incidence of
reaching ``to_stage`` after entering ``from_stage`` with competing exits
(disqualified, lost, recycled) and open leads censored at ``as_of``
(Aalen–Johansen; the all-exit survival comes from scikit-survival's
Kaplan–Meier estimator). From it, for a lead still open after ``s`` days:

    P(converts within t more days | open at s) = (F(s + t) - F(s)) / S(s)

Examples
--------
>>> import pandas as pd
>>> import funnel_models as fm
>>> spells = pd.DataFrame({"days": [1.0, 2.0, 3.0, 4.0],
...                        "event": ["converted", "exited", "converted", "open"]})
>>> ttc = fm.TimeToConvert().fit(spells)
>>> ttc
<TimeToConvert: MQL→SQL, fitted on 4 leads, 1 still open>
>>> float(ttc.cumulative_incidence(3.0))
0.5
>>> round(float(ttc.probability(days_open=1.5, within_days=2.0)), 4)
0.3333
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval

from funnel_models._errors import FunnelDataError
from funnel_models.analysis._features import (
    check_stage,
    events_until,
    lead_attributes,
    reached_stages,
    resolve_as_of,
)
from funnel_models.models._base import FunnelEstimator

__all__ = ["TimeToConvert", "conversion_spells"]

_EVENTS = ("converted", "exited", "open")


def conversion_spells(
    dataset, *, from_stage: str = "MQL", to_stage: str = "SQL", as_of: Any = None
) -> pd.DataFrame:
    """One row per lead from its first entry into ``from_stage``: days until it
    reached ``to_stage`` (``event='converted'``), left for an outcome without it
    (``'exited'``: disqualified, lost, recycled, won elsewhere) or ``'open'`` at
    ``as_of``; indexed by lead_id, with the lead attributes."""
    funnel = dataset.funnel
    from_stage = check_stage(funnel, from_stage, "from_stage")
    to_stage = check_stage(funnel, to_stage, "to_stage")
    as_of = resolve_as_of(dataset, as_of)
    ev = events_until(dataset, as_of)
    start = ev[ev["stage"] == from_stage].groupby("lead_id")["entered_at"].min().rename("start")
    if start.empty:
        raise FunnelDataError(f"no lead entered {from_stage!r} by {as_of:%Y-%m-%d}")
    later = ev.join(start, on="lead_id", how="inner")
    later = later[later["entered_at"] > later["start"]]
    reach = (
        later[later["stage"].isin(reached_stages(funnel, to_stage))]
        .groupby("lead_id")["entered_at"]
        .min()
    )
    exits = later[later["stage"].isin(funnel.outcomes)].groupby("lead_id")["entered_at"].min()
    out = pd.DataFrame({"start": start})
    out["reached_at"] = reach.reindex(out.index)
    out["exit_at"] = exits.reindex(out.index)
    conv = out["reached_at"].notna() & (
        out["exit_at"].isna() | (out["reached_at"] <= out["exit_at"])
    )
    exited = ~conv & out["exit_at"].notna()
    end = np.where(conv, out["reached_at"], np.where(exited, out["exit_at"], as_of))
    out["days"] = (
        pd.Series(pd.to_datetime(end, utc=True), index=out.index) - out["start"]
    ).dt.total_seconds() / 86400.0
    out["event"] = np.where(conv, "converted", np.where(exited, "exited", "open"))
    out = out.drop(columns=["reached_at", "exit_at"]).join(lead_attributes(dataset))
    out.index.name = "lead_id"
    return out


def _aalen_johansen(days: np.ndarray, event: np.ndarray) -> pd.DataFrame:
    """Cumulative incidence of conversion and all-exit survival at each event time."""
    from sksurv.nonparametric import kaplan_meier_estimator

    any_exit = event != "open"
    if not any_exit.any():
        return pd.DataFrame(
            {"survival": [1.0], "incidence": [0.0]}, index=pd.Index([0.0], name="days")
        )
    t, s = kaplan_meier_estimator(any_exit, days)
    times = np.unique(days)
    n_risk = np.array([(days >= u).sum() for u in t])
    d_conv = np.array([((days == u) & (event == "converted")).sum() for u in t])
    s_before = np.concatenate([[1.0], s[:-1]])
    incidence = np.cumsum(s_before * d_conv / n_risk)
    del times
    frame = pd.DataFrame({"survival": s, "incidence": incidence}, index=pd.Index(t, name="days"))
    top = pd.DataFrame({"survival": [1.0], "incidence": [0.0]}, index=pd.Index([0.0], name="days"))
    return pd.concat([top, frame[frame.index > 0]]) if 0.0 not in frame.index else frame


class TimeToConvert(FunnelEstimator):
    """Cumulative incidence of conversion with competing exits, per segment.

    Parameters
    ----------
    from_stage, to_stage
        The spell: from the first entry into ``from_stage`` until ``to_stage``.
    by : str or list of str, optional
        Lead attributes that define segments (each needs ``min_leads`` leads,
        smaller segments use the whole funnel's curve).
    min_leads : int

    Attributes
    ----------
    curves_ : dict of segment → DataFrame indexed by days (survival, incidence)
    summary_ : DataFrame indexed by segment: leads, converted, exited, open,
        P(convert) by 30 / 90 / 180 days
    by_ : list of str
    n_leads_, n_open_ : int
    """

    _parameter_constraints: dict = {
        "from_stage": [str],
        "to_stage": [str],
        "by": [str, list, tuple, None],
        "min_leads": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self, *, from_stage: str = "MQL", to_stage: str = "SQL", by=None, min_leads: int = 30
    ):
        self.from_stage = from_stage
        self.to_stage = to_stage
        self.by = by
        self.min_leads = min_leads

    def fit(self, data, y: Any = None, *, as_of: Any = None) -> TimeToConvert:
        """Fit on a :class:`FunnelDataset` or a spell table with ``days`` and ``event``.

        ``y`` is ignored (scikit-learn's signature); ``as_of`` is the dataset's snapshot.
        """
        from funnel_models.core.dataset import FunnelDataset

        self._start_fit()
        spells = (
            conversion_spells(data, from_stage=self.from_stage, to_stage=self.to_stage, as_of=as_of)
            if isinstance(data, FunnelDataset)
            else data
        )
        for col in ("days", "event"):
            if col not in spells:
                raise FunnelDataError(f"the spell table needs a {col!r} column")
        bad = set(spells["event"].unique()) - set(_EVENTS)
        if bad:
            raise FunnelDataError(f"event must be one of {', '.join(_EVENTS)}; found {sorted(bad)}")
        by = [self.by] if isinstance(self.by, str) else list(self.by or [])
        days = spells["days"].to_numpy(dtype=float)
        event = spells["event"].to_numpy(dtype=object)
        curves = {"(all)": _aalen_johansen(days, event)}
        rows = [self._row("(all)", event, curves["(all)"])]
        if by:
            key = (
                spells[by].astype(str).agg(" | ".join, axis=1)
                if len(by) > 1
                else spells[by[0]].astype(str)
            )
            for seg, idx in key.groupby(key).groups.items():
                pos = spells.index.get_indexer(idx)
                if pos.size < self.min_leads:
                    continue
                curves[seg] = _aalen_johansen(days[pos], event[pos])
                rows.append(self._row(seg, event[pos], curves[seg]))
        self.curves_ = curves
        self.by_ = by
        self.summary_ = pd.DataFrame(rows).set_index("segment")
        self.n_leads_ = int(len(spells))
        self.n_open_ = int((event == "open").sum())
        return self

    def _row(self, seg, event, curve) -> dict:
        row = {
            "segment": seg,
            "leads": int(event.size),
            "converted": int((event == "converted").sum()),
            "exited": int((event == "exited").sum()),
            "open": int((event == "open").sum()),
        }
        for d in (30, 90, 180):
            row[f"p_convert_{d}d"] = float(_step(curve, "incidence", d))
        return row

    def cumulative_incidence(self, days, segment: str = "(all)"):
        """P(converted within ``days``) for a new entrant of ``segment``."""
        self._check_fitted()
        return _step(self.curves_.get(segment, self.curves_["(all)"]), "incidence", days)

    def probability(self, *, days_open, within_days, segment: str = "(all)"):
        """P(converts within ``within_days`` more days | still open after ``days_open`` days)."""
        self._check_fitted()
        curve = self.curves_.get(segment, self.curves_["(all)"])
        s = np.asarray(days_open, dtype=float)
        f_s = _step(curve, "incidence", s)
        f_t = _step(curve, "incidence", s + np.asarray(within_days, dtype=float))
        alive = _step(curve, "survival", s)
        with np.errstate(divide="ignore", invalid="ignore"):
            p = np.where(alive > 0, (f_t - f_s) / alive, 0.0)
        return np.clip(p, 0.0, 1.0)

    def predict_open(self, spells: pd.DataFrame, *, within_days: float = 30.0) -> pd.DataFrame:
        """For each open lead of a spell table: days open, P(converts within ``within_days``) and eventually."""
        self._check_fitted()
        open_ = spells[spells["event"] == "open"]
        if self.by_:
            seg = open_[self.by_].astype(str).agg(" | ".join, axis=1)
        else:
            seg = pd.Series("(all)", index=open_.index)
        p_t = np.empty(len(open_))
        p_ever = np.empty(len(open_))
        for s_name, idx in seg.groupby(seg).groups.items():
            pos = open_.index.get_indexer(idx)
            d = open_["days"].to_numpy(dtype=float)[pos]
            p_t[pos] = self.probability(days_open=d, within_days=within_days, segment=s_name)
            p_ever[pos] = self.probability(days_open=d, within_days=np.inf, segment=s_name)
        out = pd.DataFrame(
            {
                "days_open": open_["days"].to_numpy(),
                f"p_convert_{within_days:g}d": p_t,
                "p_convert_ever": p_ever,
            },
            index=open_.index,
        )
        return out.sort_values(f"p_convert_{within_days:g}d", ascending=False, kind="stable")

    def _fit_description(self) -> str:
        return (
            f"{self.from_stage}→{self.to_stage}, fitted on {self.n_leads_:,} leads, "
            f"{self.n_open_:,} still open"
        )


def _step(curve: pd.DataFrame, column: str, days):
    """Right-continuous step function of a curve at ``days`` (beyond the last time: last value)."""
    t = curve.index.to_numpy(dtype=float)
    v = curve[column].to_numpy(dtype=float)
    x = np.asarray(days, dtype=float)
    i = np.searchsorted(t, np.where(np.isinf(x), t[-1], x), side="right") - 1
    out = np.where(i >= 0, v[np.clip(i, 0, None)], 1.0 if column == "survival" else 0.0)
    return out if out.ndim else out.item() if hasattr(out, "item") else out
