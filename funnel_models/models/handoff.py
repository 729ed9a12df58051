"""The hand-off evidence: does a fast first sales response make leads convert?

:class:`ResponseTimeEffect` measures conversion (SAL→SQL by default, or MQL→SQL)
by the time from MQL to the first sales touch (an activity with ``team ==
'sales'``), adjusted for confounders such as the lead source by inverse
propensity weighting (or stratification), with bootstrap intervals.

Examples
--------
>>> import pandas as pd
>>> import funnel_models as fm
>>> rows = pd.DataFrame({
...     "bucket": ["<=1h"] * 4 + [">24h"] * 4,
...     "source": ["fair", "fair", "web", "web"] * 2,
...     "converted": [1, 1, 1, 0, 1, 0, 0, 0]})
>>> eff = fm.ResponseTimeEffect(confounders=["source"], n_bootstrap=0).fit(rows)
>>> round(eff.ratio_, 2)
3.0
>>> eff.summary_["n"].tolist()
[4, 4]
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval, StrOptions

from funnel_models._errors import FunnelConfigError, FunnelDataError
from funnel_models.analysis._features import (
    check_stage,
    events_until,
    reached_stages,
    resolve_as_of,
)
from funnel_models.models._base import FunnelEstimator

__all__ = ["ResponseTimeEffect", "response_time_table"]

_DEFAULT_CONFOUNDERS = ("source", "company_size", "industry", "sdr_team", "region")


def _bucket_labels(edges: tuple[float, ...]) -> list[str]:
    def h(x):
        return f"{x:g}h"

    labels = [f"<={h(edges[0])}"]
    labels += [f"{edges[i]:g}-{h(edges[i + 1])}" for i in range(len(edges) - 1)]
    labels.append(f">{h(edges[-1])}")
    return labels


def response_time_table(
    dataset,
    *,
    from_stage: str = "SAL",
    to_stage: str = "SQL",
    within_days: float = 90.0,
    bucket_hours: tuple[float, ...] = (1.0, 24.0),
    as_of: Any = None,
) -> pd.DataFrame:
    """One row per MQL visit (that sales accepted, for ``from_stage='SAL'``).

    Columns: ``lead_id``, ``mql_at``, ``response_hours`` (MQL to the first sales
    activity at or after it), ``bucket``, ``converted`` (reached ``to_stage`` or
    beyond within ``within_days`` of entering ``from_stage``) and the lead
    attributes. Visits whose window is still running at ``as_of`` are left out,
    and so are MQLs that no sales activity ever followed.
    """
    funnel = dataset.funnel
    from_stage = check_stage(funnel, from_stage, "from_stage")
    to_stage = check_stage(funnel, to_stage, "to_stage")
    mql = funnel.progression[1] if len(funnel.progression) > 1 else funnel.progression[0]
    if from_stage not in (mql, "SAL") and from_stage != mql:
        raise FunnelConfigError(
            f"from_stage must be {mql!r} or the stage after it, not {from_stage!r}"
        )
    as_of = resolve_as_of(dataset, as_of)
    ev = events_until(dataset, as_of).reset_index(drop=True)
    ev["next_stage"] = ev.groupby("lead_id", sort=False)["stage"].shift(-1)
    ev["next_at"] = ev.groupby("lead_id", sort=False)["entered_at"].shift(-1)
    visits = ev[ev["stage"] == mql].copy()
    if from_stage != mql:
        visits = visits[visits["next_stage"] == from_stage]
        visits["start"] = visits["next_at"]
    else:
        visits["start"] = visits["entered_at"]
    visits = visits.rename(columns={"entered_at": "mql_at"})
    window = pd.Timedelta(days=float(within_days))
    visits = visits[visits["start"] + window <= as_of]
    acts = dataset.activities
    if acts.empty or "team" not in acts:
        raise FunnelDataError(
            "no sales activities: the response time needs an activities table with a 'team' "
            "column ('sales' for sales touches)"
        )
    sales = acts.loc[
        (acts["team"].astype(str).str.casefold() == "sales") & (acts["occurred_at"] <= as_of),
        ["lead_id", "occurred_at"],
    ].sort_values("occurred_at")
    visits = visits.sort_values("mql_at")
    visits = pd.merge_asof(
        visits,
        sales.rename(columns={"occurred_at": "first_touch_at"}),
        left_on="mql_at",
        right_on="first_touch_at",
        by="lead_id",
        direction="forward",
    )
    visits = visits[visits["first_touch_at"].notna()]
    visits["response_hours"] = (
        visits["first_touch_at"] - visits["mql_at"]
    ).dt.total_seconds() / 3600
    edges = tuple(float(e) for e in bucket_hours)
    labels = _bucket_labels(edges)
    code = np.searchsorted(np.asarray(edges), visits["response_hours"].to_numpy(), side="left")
    visits["bucket"] = pd.Categorical.from_codes(code, categories=labels)
    # outcome: first reaching event after the start, within the window
    reach = ev[ev["stage"].isin(reached_stages(funnel, to_stage))][["lead_id", "entered_at"]]
    reach = reach.sort_values("entered_at")
    visits = visits.sort_values("start")
    visits = pd.merge_asof(
        visits,
        reach.rename(columns={"entered_at": "reached_at"}),
        left_on="start",
        right_on="reached_at",
        by="lead_id",
        direction="forward",
    )
    visits["converted"] = (
        visits["reached_at"].notna() & (visits["reached_at"] <= visits["start"] + window)
    ).astype(int)
    attrs = dataset.leads.set_index("lead_id").drop(columns=["created_at"], errors="ignore")
    out = visits[["lead_id", "mql_at", "response_hours", "bucket", "converted"]].join(
        attrs, on="lead_id"
    )
    return out.sort_values(["mql_at", "lead_id"], kind="stable").reset_index(drop=True)


def _propensity_weights(bucket_codes: np.ndarray, Z: np.ndarray, k: int, C: float) -> np.ndarray:
    """Stabilised inverse-propensity weights P(bucket) / P(bucket | confounders)."""
    from sklearn.linear_model import LogisticRegression

    present = np.unique(bucket_codes)
    if Z.shape[1] == 0 or present.size < 2:
        return np.ones(bucket_codes.size)
    model = LogisticRegression(C=C, max_iter=1000).fit(Z, bucket_codes)
    proba = model.predict_proba(Z)
    col = np.searchsorted(model.classes_, bucket_codes)
    p_given = np.clip(proba[np.arange(bucket_codes.size), col], 0.01, 1.0)
    marginal = np.bincount(bucket_codes, minlength=k) / bucket_codes.size
    return marginal[bucket_codes] / p_given


def _rates(codes, y, w, k) -> np.ndarray:
    num = np.bincount(codes, weights=w * y, minlength=k)
    den = np.bincount(codes, weights=w, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


def _standardised(codes, y, strata, k) -> np.ndarray:
    """Rate per bucket standardised to the strata mix (strata missing a bucket left out)."""
    frame = pd.DataFrame({"b": codes, "y": y, "s": strata})
    tab = frame.groupby(["s", "b"])["y"].mean().unstack("b").reindex(columns=range(k))
    size = frame.groupby("s").size()
    ok = tab.notna().all(axis=1)
    weights = size[ok] / size[ok].sum()
    return (tab[ok].mul(weights, axis=0)).sum().to_numpy()


class ResponseTimeEffect(FunnelEstimator):
    """Conversion by first-response time, adjusted for confounders.

    Parameters
    ----------
    from_stage, to_stage, within_days
        Conversion measured: reaching ``to_stage`` (or beyond) within
        ``within_days`` of entering ``from_stage``. ``from_stage='SAL'`` (default)
        takes the MQLs that sales accepted; ``'MQL'`` takes every touched MQL.
    bucket_hours
        Edges of the response-time buckets in hours: (1, 24) gives ≤1h, 1–24h, >24h.
    confounders
        Lead attributes that change both response time and conversion. Default:
        those of source, company_size, industry, sdr_team, region present.
    method : {"ipw", "stratify"}
        Inverse propensity weighting (multinomial logistic propensity, stabilised
        weights) or direct standardisation over the strata of the confounders.
    n_bootstrap : int
        Bootstrap resamples of leads for the intervals (0: no intervals).
    confidence : float
    random_state : int, optional

    Attributes
    ----------
    summary_ : DataFrame indexed by bucket: n, converted, naive_rate, adjusted_rate,
        ratio_vs_slowest with its interval
    ratio_, ratio_ci_ : adjusted conversion ratio fastest vs slowest bucket and its interval
    naive_ratio_ : the same without adjustment
    headline_ : str
    confounders_ : list of str
    n_leads_ : int
    """

    _parameter_constraints: dict = {
        "from_stage": [str],
        "to_stage": [str],
        "within_days": [Interval(Real, 0, None, closed="neither")],
        "bucket_hours": [tuple, list],
        "confounders": [list, tuple, None],
        "method": [StrOptions({"ipw", "stratify"})],
        "n_bootstrap": [Interval(Integral, 0, None, closed="left")],
        "confidence": [Interval(Real, 0, 1, closed="neither")],
        "C": [Interval(Real, 0, None, closed="neither")],
        "random_state": [Interval(Integral, 0, None, closed="left"), np.random.Generator, None],
    }

    def __init__(
        self,
        *,
        from_stage: str = "SAL",
        to_stage: str = "SQL",
        within_days: float = 90.0,
        bucket_hours: tuple[float, ...] = (1.0, 24.0),
        confounders: list[str] | tuple[str, ...] | None = None,
        method: str = "ipw",
        n_bootstrap: int = 200,
        confidence: float = 0.95,
        C: float = 1e3,
        random_state: int | None = 0,
    ):
        self.from_stage = from_stage
        self.to_stage = to_stage
        self.within_days = within_days
        self.bucket_hours = bucket_hours
        self.confounders = confounders
        self.method = method
        self.n_bootstrap = n_bootstrap
        self.confidence = confidence
        self.C = C
        self.random_state = random_state

    def fit(self, data, y: Any = None, *, as_of: Any = None) -> ResponseTimeEffect:
        """Fit on a :class:`FunnelDataset`, or on a table with ``bucket``, ``converted`` and the confounders.

        ``y`` is ignored (scikit-learn's signature); ``as_of`` is the dataset's snapshot.
        """
        from threadpoolctl import threadpool_limits

        self._start_fit()
        with threadpool_limits(limits=1):  # many small fits: threads only contend
            return self._fit(data, as_of=as_of)

    def _fit(self, data, *, as_of: Any = None) -> ResponseTimeEffect:
        from funnel_models.core.dataset import FunnelDataset

        if isinstance(data, FunnelDataset):
            table = response_time_table(
                data,
                from_stage=self.from_stage,
                to_stage=self.to_stage,
                within_days=self.within_days,
                bucket_hours=self.bucket_hours,
                as_of=as_of,
            )
            labels = list(table["bucket"].cat.categories)
        else:
            table = data.copy()
            for col in ("bucket", "converted"):
                if col not in table:
                    raise FunnelDataError(f"the table needs a {col!r} column")
            cats = getattr(table["bucket"], "cat", None)
            labels = list(cats.categories) if cats is not None else sorted(table["bucket"].unique())
        if table.empty:
            raise FunnelDataError(
                f"no {self.from_stage} visits with a sales touch and a complete {self.within_days:g}-day window"
            )
        if self.confounders is None:
            confounders = [c for c in _DEFAULT_CONFOUNDERS if c in table.columns]
        else:
            confounders = list(self.confounders)
            missing = [c for c in confounders if c not in table.columns]
            if missing:
                raise FunnelDataError(
                    f"confounder column(s) {', '.join(missing)} not found; columns are "
                    + ", ".join(str(c) for c in table.columns)
                )
        k = len(labels)
        codes = pd.Categorical(table["bucket"], categories=labels).codes.astype(int)
        keep = codes >= 0
        codes = codes[keep]
        y = table["converted"].to_numpy(dtype=float)[keep]
        conf = (
            table.loc[keep, confounders].astype(str)
            if confounders
            else pd.DataFrame(index=table.index[keep])
        )
        fast, slow = 0, k - 1
        if (codes == fast).sum() == 0 or (codes == slow).sum() == 0:
            raise FunnelDataError(
                f"no leads in bucket {labels[fast]!r} or {labels[slow]!r}; choose other bucket_hours"
            )

        if confounders:
            strata_all = conf.groupby(confounders, sort=False, dropna=False).ngroup().to_numpy()
            Z_all = _one_hot(conf)
        else:
            strata_all = np.zeros(codes.size, dtype=int)
            Z_all = np.zeros((codes.size, 0))

        def estimate(idx: np.ndarray) -> np.ndarray:
            c, yy = codes[idx], y[idx]
            if self.method == "stratify":
                return _standardised(c, yy, strata_all[idx], k)
            w = _propensity_weights(c, Z_all[idx], k, self.C)
            return _rates(c, yy, w, k)

        all_idx = np.arange(codes.size)
        adjusted = estimate(all_idx)
        naive = _rates(codes, y, np.ones(codes.size), k)
        rng = np.random.default_rng(self.random_state)
        boots = []
        for _ in range(int(self.n_bootstrap)):
            boots.append(estimate(rng.integers(0, codes.size, codes.size)))
        alpha = (1 - self.confidence) / 2
        ratio = adjusted[fast] / adjusted[slow]
        if boots:
            b = np.array(boots)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratios = b[:, fast] / b[:, slow]
            ratios = ratios[np.isfinite(ratios)]
            ci = tuple(np.quantile(ratios, [alpha, 1 - alpha]))
            rate_lo = np.nanquantile(b, alpha, axis=0)
            rate_hi = np.nanquantile(b, 1 - alpha, axis=0)
            with np.errstate(divide="ignore", invalid="ignore"):
                rvs = b / b[:, [slow]]
            r_lo = np.nanquantile(rvs, alpha, axis=0)
            r_hi = np.nanquantile(rvs, 1 - alpha, axis=0)
        else:
            ci = (np.nan, np.nan)
            rate_lo = rate_hi = r_lo = r_hi = np.full(k, np.nan)
        self.summary_ = pd.DataFrame(
            {
                "n": np.bincount(codes, minlength=k),
                "converted": np.bincount(codes, weights=y, minlength=k).astype(int),
                "naive_rate": naive,
                "adjusted_rate": adjusted,
                "adjusted_rate_lower": rate_lo,
                "adjusted_rate_upper": rate_hi,
                "ratio_vs_slowest": adjusted / adjusted[slow],
                "ratio_lower": r_lo,
                "ratio_upper": r_hi,
            },
            index=pd.Index(labels, name="response_time"),
        )
        self.ratio_ = float(ratio)
        self.ratio_ci_ = (float(ci[0]), float(ci[1]))
        self.naive_ratio_ = float(naive[fast] / naive[slow])
        self.confounders_ = confounders
        self.n_leads_ = int(codes.size)
        self.table_size_ = int(len(table))
        who = "MQLs" if self.from_stage == "MQL" else "Accepted MQLs"
        adj = f"adjusted for {', '.join(confounders)}" if confounders else "unadjusted"
        ci_text = (
            f" (95 % CI {ci[0]:.1f}–{ci[1]:.1f})"
            if np.isfinite(ci[0]) and self.confidence == 0.95
            else (
                f" ({self.confidence:.0%} CI {ci[0]:.1f}–{ci[1]:.1f})" if np.isfinite(ci[0]) else ""
            )
        )
        self.headline_ = (
            f"{who} contacted within {labels[fast][2:]} reached {self.to_stage} {ratio:.1f}× as often"
            f"{ci_text} as those contacted after {labels[slow][1:]} "
            f"({adj}; {codes.size:,} leads; unadjusted {self.naive_ratio_:.1f}×)."
        )
        return self

    def _fit_description(self) -> str:
        return f"fitted on {self.n_leads_:,} leads: {self.headline_}"


def _one_hot(frame: pd.DataFrame) -> np.ndarray:
    return pd.get_dummies(frame, drop_first=False, dtype=float).to_numpy()
