"""An absorbing Markov chain of the funnel, its removal effects and what-if scenarios.

Every closed stage visit (a row of :func:`funnel_models.analysis.visits` with an
``exited_at``) is one observed transition ``stage → next_stage``. The
progression stages are the transient states; Won, Lost and Disqualified (and,
by default, Recycled: the lead leaves the funnel for nurture) are absorbing.
From the transition matrix ``P = [[Q, R], [0, I]]`` the fundamental matrix
``N = (I - Q)^-1`` gives

* the probability of winning from each stage, ``B = N R`` (column Won);
* the expected days to close from each stage, ``N m`` (``m``: mean days in
  each stage over its closed visits), and the expected days to *win* among
  leads that win, ``N (m * b) / b``;
* the probability of ever reaching each stage from the entry distribution;
* the removal effect of each transition: the share of wins lost if that
  transition never happened (its probability sent to "lost").

Open visits are *censored*: they are excluded from the transition counts (we
do not know where they will go) and counted in ``n_open_`` and the summary.
This assumes a visit's destination does not depend on how long it lasts; when
slow visits leak more, probabilities are slightly optimistic for the newest
leads.

:meth:`FunnelMarkov.what_if` changes a transition probability ("MQL→SAL 90%"),
a stage's mean time, or replays a stage as if every lead had left it within
some hours ("sales accepts MQLs within 24 h": transition probabilities and
mean time of the visits that did), and projects the extra SQLs, wins and
revenue per period with a bootstrap interval over leads (``random_state``).

Examples
--------
>>> import pandas as pd, funnel_models as fm
>>> t = pd.Timestamp("2024-01-01", tz="UTC")
>>> spells = pd.DataFrame({
...     "lead_id": ["a", "a", "b", "b", "c"],
...     "stage": ["Lead", "MQL", "Lead", "MQL", "Lead"],
...     "next_stage": ["MQL", "Won", "MQL", "Lost", "Disqualified"],
...     "days_in_stage": [1.0, 2.0, 1.0, 4.0, 3.0],
...     "censored": [False] * 5})
>>> spells["entered_at"] = t
>>> model = fm.FunnelMarkov(n_bootstrap=0).fit(spells)
>>> model
<FunnelMarkov: fitted on 3 leads, 0 still open>
>>> round(float(model.summary_.loc["Lead", "win_probability"]), 4)
0.3333
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval, StrOptions

from funnel_models._errors import FunnelConfigError, FunnelDataError
from funnel_models.analysis.chain import average_deal_size, solve_absorbing
from funnel_models.analysis.visits import spells_as_of, spells_of
from funnel_models.core.funnel import Funnel
from funnel_models.models._base import FunnelEstimator

__all__ = ["FunnelMarkov"]

UNRESOLVED = "Unresolved"
_PERIOD_DAYS = {"year": 365.25, "quarter": 365.25 / 4, "month": 365.25 / 12, "week": 7.0}
#: Upper edges (hours) of the exit-time bins kept for ``what_if(within_hours=...)``.
_HOUR_EDGES = np.array(
    [1, 2, 4, 8, 12, 24, 48, 72, 96, 120, 168, 336, 720, 1440, 2160, 4320, 8760, np.inf]
)


class FunnelMarkov(FunnelEstimator):
    """Absorbing Markov chain over the funnel stages, fitted from stage visits.

    Parameters
    ----------
    recycled : {"absorbing", "transient"}
        ``"absorbing"`` (default): a recycled lead has left the funnel (its later
        re-entry starts a new visit that still counts from the stage it
        re-enters). ``"transient"``: Recycled is a state whose exits are the
        observed re-entries; since most recycled leads are still in nurture
        (open), this over-states re-entry.
    n_bootstrap : int
        Bootstrap replicates over leads kept for the intervals of
        :meth:`what_if` (0: no intervals).
    confidence : float
        Level of the intervals.
    average_deal_size : float or None
        Revenue per won deal; default: mean amount of won opportunities of the
        dataset (NaN when fitted on bare spells without this parameter).
    random_state : int, Generator or None
        Seeds the bootstrap.

    Attributes
    ----------
    states_, transient_, absorbing_ : list of str
    transition_matrix_ : DataFrame, states × states (rows sum to 1)
    transitions_ : DataFrame, one row per observed transition: count,
        probability, removal_effect
    win_probability_ : Series indexed by stage
    n_leads_, n_open_, n_transitions_ : int
    leads_per_year_ : float, leads entering the funnel per year over the window
    as_of_ : Timestamp or None
    summary_ : DataFrame, one row per stage (see :attr:`summary_`)
    """

    _parameter_constraints: dict = {
        "recycled": [StrOptions({"absorbing", "transient"})],
        "n_bootstrap": [Interval(Integral, 0, None, closed="left")],
        "confidence": [Interval(Real, 0, 1, closed="neither")],
        "average_deal_size": [Interval(Real, 0, None, closed="left"), None],
        "random_state": [Interval(Integral, 0, None, closed="left"), np.random.Generator, None],
    }

    def __init__(
        self,
        *,
        recycled: str = "absorbing",
        n_bootstrap: int = 200,
        confidence: float = 0.95,
        average_deal_size: float | None = None,
        random_state: Any = None,
    ) -> None:
        self.recycled = recycled
        self.n_bootstrap = n_bootstrap
        self.confidence = confidence
        self.average_deal_size = average_deal_size
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def fit(
        self, data: Any, y: Any = None, *, as_of: Any = None, funnel: Funnel | None = None
    ) -> FunnelMarkov:
        """Estimate the chain from a dataset or a spells DataFrame.

        Parameters
        ----------
        data : FunnelDataset or DataFrame
            A dataset (spells are built at ``as_of``) or spells with the
            columns of :func:`funnel_models.analysis.visits`.
        y : None
            Ignored (scikit-learn's signature).
        as_of : date-like, optional
            Only with a dataset; default: the latest timestamp in the data.
        funnel : Funnel, optional
            Stage order and outcomes for bare spells (default: the dataset's or
            :meth:`Funnel.default`).
        """
        self._start_fit()  # checks the parameters, forgets the last fit
        spells, funnel, dataset = spells_of(data, as_of, funnel)
        if spells.empty:
            raise FunnelDataError(
                "no stage visits to fit: the stage_events table is empty (or everything is "
                "after as_of)"
            )
        won = funnel.outcome_stage("won")
        recycled_stage = funnel.outcome_stage("recycled")
        absorbing = [
            s for s in funnel.outcomes if s != recycled_stage or self.recycled == "absorbing"
        ]
        transient_all = list(funnel.progression)
        if self.recycled == "transient" and recycled_stage is not None:
            transient_all.append(recycled_stage)

        sp = spells.loc[spells["stage"].isin(transient_all)]
        stage = sp["stage"].astype(str).to_numpy()
        visited = set(np.unique(stage))
        transient = [s for s in transient_all if s in visited]
        censored = sp["censored"].fillna(False).to_numpy(dtype=bool)
        closed = ~censored
        nxt = sp["next_stage"].astype(object).to_numpy()
        # a transition into a transient state nobody was observed in cannot happen, but
        # guard anyway: unknown destinations become unresolved
        states_target = transient + absorbing
        index = {s: i for i, s in enumerate(states_target)}
        from_idx = pd.Series(stage).map(index).to_numpy(dtype=np.int64)
        to_idx = pd.Series(nxt).map(index).to_numpy(dtype=float, copy=True)
        unknown = closed & np.isnan(to_idx)
        no_exit = [s for s in transient if not (closed & (stage == s)).any()]
        if unknown.any() or no_exit:
            absorbing = [*absorbing, UNRESOLVED]
            states_target = transient + absorbing
            index[UNRESOLVED] = len(states_target) - 1
            to_idx[unknown] = index[UNRESOLVED]
        n_t, n_s = len(transient), len(states_target)

        lead_codes, lead_uniques = pd.factorize(sp["lead_id"].astype(str), sort=False)
        n_leads = len(lead_uniques)
        days = sp["days_in_stage"].to_numpy(dtype=float)
        if np.isnan(days[closed]).any():
            raise FunnelDataError("days_in_stage is missing for some closed visits")
        # entry state of each lead: its earliest visit
        order = np.lexsort((sp["entered_at"].to_numpy(), lead_codes))
        first = np.ones(order.size, dtype=bool)
        first[1:] = lead_codes[order][1:] != lead_codes[order][:-1]
        entry_rows = order[first]
        entry_lead = lead_codes[entry_rows]
        entry_state = from_idx[entry_rows]

        c = closed
        pair = from_idx[c] * n_s + to_idx[c].astype(np.int64)
        bins = np.searchsorted(_HOUR_EDGES, days[c] * 24.0, side="left")
        self._arrays = (lead_codes[c], pair, days[c], from_idx[c], bins, entry_lead, entry_state)
        counts, dwell_sum, start, hist_counts, hist_days = self._aggregate(
            np.ones(n_leads), n_t, n_s
        )
        for s in no_exit:  # no closed visit: route to Unresolved so N exists
            counts[index[s], index[UNRESOLVED]] = 1.0

        self.funnel_ = funnel
        self.transient_ = transient
        self.absorbing_ = absorbing
        self.states_ = states_target
        self.won_state_ = won
        self.n_leads_ = int(n_leads)
        self.n_transitions_ = int(c.sum())
        self.n_open_ = int(censored.sum())
        self.open_by_stage_ = (
            pd.Series(stage[censored]).value_counts().reindex(transient, fill_value=0).astype(int)
        )
        self.visits_by_stage_ = pd.Series(stage).value_counts().reindex(transient).astype(int)
        self.no_exit_stages_ = no_exit
        self.counts_ = counts
        self.dwell_sum_ = dwell_sum
        self.start_counts_ = start
        self.hist_counts_ = hist_counts
        self.hist_days_ = hist_days

        self.as_of_ = spells_as_of(spells) if as_of is None else pd.Timestamp(as_of)
        first_entry = pd.Timestamp(spells["entered_at"].min())
        span_days = (
            (self.as_of_ - first_entry).total_seconds() / 86400.0 if self.as_of_ is not None else 0
        )
        self.window_days_ = float(span_days)
        self.leads_per_year_ = n_leads / (span_days / 365.25) if span_days > 0 else float("nan")
        self.average_deal_size_ = (
            float(self.average_deal_size)
            if self.average_deal_size is not None
            else average_deal_size(dataset)
        )

        P, m, pi0 = self._matrices(counts, dwell_sum, start)
        res = solve_absorbing(P, m, pi0, n_t, self._won_col())
        self.transition_matrix_ = pd.DataFrame(
            np.vstack([P, np.hstack([np.zeros((n_s - n_t, n_t)), np.eye(n_s - n_t)])]),
            index=pd.Index(states_target, name="from_stage"),
            columns=pd.Index(states_target, name="to_stage"),
        )
        self.win_probability_ = pd.Series(res["b"], index=pd.Index(transient, name="stage"))
        self.win_probability_.name = "win_probability"
        self._res = res
        self.transitions_ = self._transitions_table(P, counts, pi0, res)

        # bootstrap replicates of the aggregates (no lead-level data is kept)
        rng = np.random.default_rng(self.random_state)
        reps = []
        for _ in range(int(self.n_bootstrap)):
            w = np.bincount(rng.integers(0, n_leads, n_leads), minlength=n_leads).astype(float)
            agg = self._aggregate(w, n_t, n_s)
            for s in no_exit:
                agg[0][index[s], index[UNRESOLVED]] = 1.0
            reps.append(agg)
        self.bootstrap_ = reps
        del self._arrays
        return self

    def _aggregate(self, w: np.ndarray, n_t: int, n_s: int):
        lead_c, pair, days_c, from_c, bins, entry_lead, entry_state = self._arrays
        wt = w[lead_c]
        counts = np.bincount(pair, weights=wt, minlength=n_t * n_s).reshape(n_t, n_s)
        dwell = np.bincount(from_c, weights=wt * days_c, minlength=n_t)
        start = np.bincount(entry_state, weights=w[entry_lead], minlength=n_t)
        nb = len(_HOUR_EDGES)
        hb = pair * nb + bins
        hist = np.bincount(hb, weights=wt, minlength=n_t * n_s * nb).reshape(n_t, n_s, nb)
        hdays = np.bincount(from_c * nb + bins, weights=wt * days_c, minlength=n_t * nb)
        return counts, dwell, start, hist, hdays.reshape(n_t, nb)

    def _won_col(self) -> int | None:
        return self.states_.index(self.won_state_) if self.won_state_ in self.states_ else None

    def _matrices(self, counts, dwell_sum, start):
        totals = counts.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            P = np.where(totals[:, None] > 0, counts / totals[:, None], 0.0)
            m = np.where(totals > 0, dwell_sum / np.where(totals > 0, totals, 1), 0.0)
        pi0 = start / start.sum() if start.sum() > 0 else np.zeros_like(start)
        return P, m, pi0

    # ------------------------------------------------------------------ results
    def _transitions_table(self, P, counts, pi0, res) -> pd.DataFrame:
        n_t = len(self.transient_)
        won_col = self._won_col()
        base = res["win_overall"]
        rows = []
        for i, a in enumerate(self.transient_):
            for j, b in enumerate(self.states_):
                if counts[i, j] <= 0 or b == UNRESOLVED:
                    continue
                effect = np.nan
                if base > 0 and (j < n_t or j == won_col):
                    P2 = P.copy()
                    P2[i, j] = 0.0  # its probability goes to "lost" (no column: leaks away)
                    r2 = solve_absorbing(P2, res["m"], pi0, n_t, won_col)
                    effect = 1.0 - r2["win_overall"] / base
                rows.append((a, b, int(round(counts[i, j])), P[i, j], effect))
        table = pd.DataFrame(
            rows, columns=["from_stage", "to_stage", "count", "probability", "removal_effect"]
        )
        return table.set_index(["from_stage", "to_stage"])

    @property
    def summary_(self) -> pd.DataFrame:
        """One row per progression stage (and Recycled when transient).

        Columns: ``visits``, ``open`` (censored visits, not counted in the
        transitions), ``closed``, ``p_next`` (probability of the next
        progression stage), ``reach_probability`` (from the entry
        distribution), ``win_probability``, ``mean_days_in_stage``,
        ``expected_days_to_close``, ``expected_days_to_win`` and ``note``
        (why a value is missing). Stages nobody reached have ``visits`` 0 and
        the note says so.
        """
        self._check_fitted()
        res = self._res
        idx = list(self.funnel_.progression)
        if self.recycled == "transient" and self.funnel_.outcome_stage("recycled"):
            idx.append(self.funnel_.outcome_stage("recycled"))
        rows = []
        prog = list(self.funnel_.progression)
        for s in idx:
            if s not in self.transient_:
                rows.append(
                    dict(stage=s, visits=0, open=0, closed=0, note="no lead reached this stage")
                )
                continue
            i = self.transient_.index(s)
            closed = int(round(self.counts_[i].sum())) if s not in self.no_exit_stages_ else 0
            nxt = None
            if s in prog:
                k = prog.index(s)
                nxt = prog[k + 1] if k + 1 < len(prog) else self.won_state_
            p_next = (
                float(self.transition_matrix_.loc[s, nxt])
                if nxt in self.transition_matrix_.columns
                else 0.0
            )
            note = ""
            if s in self.no_exit_stages_:
                note = "every visit still open: no transition observed"
                p_next = np.nan
            elif res["win_overall"] == 0:
                note = "no won deal observed"
            b = res["b"][i]
            rows.append(
                dict(
                    stage=s,
                    visits=int(self.visits_by_stage_[s]),
                    open=int(self.open_by_stage_[s]),
                    closed=closed,
                    p_next=p_next,
                    reach_probability=res["reach"][i],
                    win_probability=b,
                    mean_days_in_stage=res["m"][i] if closed else np.nan,
                    expected_days_to_close=res["t"][i],
                    expected_days_to_win=res["t_win"][i] if b > 0 else np.nan,
                    note=note,
                )
            )
        table = pd.DataFrame(rows).set_index("stage")
        cols = [
            "visits", "open", "closed", "p_next", "reach_probability", "win_probability",
            "mean_days_in_stage", "expected_days_to_close", "expected_days_to_win", "note",
        ]  # fmt: skip
        return table.reindex(columns=cols)

    def win_probability(self, stage: str) -> float:
        """Probability that a lead now in ``stage`` is eventually won."""
        self._check_fitted()
        if stage not in self.win_probability_.index:
            raise KeyError(
                f"{stage!r} is not a state of the fitted chain (states: "
                f"{', '.join(self.transient_)}); nobody reached it or it is not a stage"
            )
        return float(self.win_probability_[stage])

    # ------------------------------------------------------------------ what-if
    def what_if(
        self,
        probabilities: Mapping[tuple[str, str], float] | None = None,
        *,
        dwell_days: Mapping[str, float] | None = None,
        within_hours: Mapping[str, float] | None = None,
        period: str = "year",
    ) -> pd.DataFrame:
        """Project a scenario against the fitted funnel, per period.

        Parameters
        ----------
        probabilities : mapping (from_stage, to_stage) -> probability
            New transition probabilities; the other exits of ``from_stage``
            are rescaled to keep the row summing to 1.
        dwell_days : mapping stage -> mean days in stage
            Changes cycle time only (the chain has no memory of time: a
            shorter stay alone does not change where leads go).
        within_hours : mapping stage -> hours
            "Leads leave this stage within H hours": that stage's transition
            probabilities and mean time become those of its visits that
            closed within H hours (H rounded down to the nearest of
            1, 2, 4, 8, 12, 24, 48, 72, 96, 120, 168, 336, 720, ... hours).
            Observational: fast and slow visits may differ in other ways.
        period : {"year", "quarter", "month", "week"}

        Returns
        -------
        DataFrame indexed by ``measure`` (leads reaching each stage after the
        entry stage, won deals, revenue per period, and expected days to close
        from entry) with columns ``baseline``, ``scenario``, ``change``,
        ``change_low``, ``change_high`` (bootstrap percentile interval over
        leads; NaN when ``n_bootstrap=0``).

        Examples
        --------
        >>> import pandas as pd, funnel_models as fm
        >>> sp = pd.DataFrame({"lead_id": ["a", "a", "b"], "stage": ["MQL", "SAL", "MQL"],
        ...     "next_stage": ["SAL", "Won", "Lost"], "days_in_stage": [1.0, 5.0, 2.0],
        ...     "censored": [False] * 3,
        ...     "entered_at": pd.to_datetime(["2023-01-01", "2023-01-02", "2023-06-01"], utc=True)})
        >>> m = fm.FunnelMarkov(n_bootstrap=0).fit(sp)
        >>> bool(m.what_if({("MQL", "SAL"): 1.0}).loc["won_per_year", "change"] > 0)
        True
        """
        self._check_fitted()
        if period not in _PERIOD_DAYS:
            raise FunnelConfigError(
                f"period must be one of {', '.join(_PERIOD_DAYS)}, not {period!r}"
            )
        probabilities = dict(probabilities or {})
        dwell_days = dict(dwell_days or {})
        within_hours = dict(within_hours or {})
        if not (probabilities or dwell_days or within_hours):
            raise FunnelConfigError(
                "describe a scenario: probabilities={('MQL', 'SAL'): 0.9}, "
                "dwell_days={'MQL': 1.0} or within_hours={'MQL': 24}"
            )
        for (a, b), p in probabilities.items():
            self._check_state(a, transient=True)
            self._check_state(b)
            if not 0 <= float(p) <= 1:
                raise FunnelConfigError(f"probability for {a}→{b} must be in [0, 1], got {p!r}")
        for s, d in dwell_days.items():
            self._check_state(s, transient=True)
            if not float(d) >= 0:
                raise FunnelConfigError(f"dwell_days for {s} must be >= 0, got {d!r}")
        for s, h in within_hours.items():
            self._check_state(s, transient=True)
            if not float(h) >= _HOUR_EDGES[0]:
                raise FunnelConfigError(f"within_hours for {s} must be >= 1 hour, got {h!r}")

        scale = self.leads_per_year_ * _PERIOD_DAYS[period] / 365.25
        if not np.isfinite(scale):
            raise FunnelDataError(
                "cannot project per period: the data covers no time span (all visits at one "
                "instant)"
            )

        def project(counts, dwell, start, hist, hdays):
            P, m, pi0 = self._matrices(counts, dwell, start)
            base = self._measures(P, m, pi0, scale)
            P2, m2 = P.copy(), m.copy()
            for s, h in within_hours.items():
                i = self.transient_.index(s)
                k = np.searchsorted(_HOUR_EDGES, float(h), side="right")  # bins <= h
                sub = hist[i, :, :k].sum(axis=1)
                tot = sub.sum()
                if tot > 0:
                    P2[i] = sub / tot
                    m2[i] = hdays[i, :k].sum() / tot
            for (a, b), p in probabilities.items():
                i, j = self.transient_.index(a), self.states_.index(b)
                others = P2[i].sum() - P2[i, j]
                if others > 0:
                    P2[i] *= (1 - p) / others
                elif p < 1:
                    raise FunnelDataError(
                        f"{a} has no other observed exit to take the remaining {1 - p:.0%}"
                    )
                P2[i, j] = p
            for s, d in dwell_days.items():
                m2[self.transient_.index(s)] = float(d)
            return base, self._measures(P2, m2, pi0, scale)

        base, scen = project(
            self.counts_, self.dwell_sum_, self.start_counts_, self.hist_counts_, self.hist_days_
        )
        names = list(base)
        out = pd.DataFrame(
            {"baseline": [base[k] for k in names], "scenario": [scen[k] for k in names]},
            index=pd.Index([k.replace("PERIOD", period) for k in names], name="measure"),
        )
        out["change"] = out["scenario"] - out["baseline"]
        lo = hi = np.full(len(names), np.nan)
        if self.bootstrap_:
            deltas = []
            for rep in self.bootstrap_:
                try:
                    b, s = project(*rep)
                except FunnelDataError:  # a resample without the exits the scenario needs
                    deltas.append([np.nan] * len(names))
                    continue
                deltas.append([s[k] - b[k] for k in names])
            d = np.asarray(deltas, dtype=float)
            alpha = (1 - self.confidence) / 2
            lo = np.nanquantile(d, alpha, axis=0)
            hi = np.nanquantile(d, 1 - alpha, axis=0)
        out["change_low"] = lo
        out["change_high"] = hi
        return out

    def _measures(self, P, m, pi0, scale) -> dict[str, float]:
        n_t = len(self.transient_)
        res = solve_absorbing(P, m, pi0, n_t, self._won_col())
        out = {}
        entry = self.transient_[int(np.argmax(self.start_counts_))]
        for i, s in enumerate(self.transient_):
            if s == entry or s not in self.funnel_.progression:
                continue
            out[f"{s}_reached_per_PERIOD"] = scale * res["reach"][i]
        out["won_per_PERIOD"] = scale * res["win_overall"]
        out["revenue_per_PERIOD"] = scale * res["win_overall"] * self.average_deal_size_
        out["days_to_close"] = float(pi0 @ res["t"])
        return out

    def _check_state(self, s: str, transient: bool = False) -> None:
        pool = self.transient_ if transient else self.states_
        if s not in pool:
            raise FunnelConfigError(
                f"{s!r} is not a {'stage' if transient else 'state'} of the fitted chain; "
                f"choose from {', '.join(pool)}"
            )

    # ------------------------------------------------------------------ misc
    def _fit_description(self) -> str:
        return f"fitted on {self.n_leads_:,} leads, {self.n_open_:,} still open"
