"""Survival statistics on durations: Kaplan–Meier, Aalen–Johansen, Wilson intervals.

These work on plain arrays (durations in days, event indicators or event
codes) so any module can use them; the signatures are stable.

* :func:`kaplan_meier` — survival curve with Greenwood variance and log-log
  pointwise confidence intervals (the same estimator and interval as
  ``sksurv.nonparametric.kaplan_meier_estimator(conf_type="log-log")``).
* :func:`km_quantile` — the time by which a share ``q`` of the subjects has had
  the event (``q=0.5``: the median), with the Brookmeyer–Crowley style interval
  read off the pointwise log-log band.
* :func:`cumulative_incidence` — Aalen–Johansen cumulative incidence of each
  competing event, with Aalen's variance (computed in O(n); equal to
  ``sksurv``'s default ``var_type="Aalen"``, which needs O(n²) memory) and
  log-log intervals.
* :func:`step_value` — evaluate a right-continuous step curve at given times.
* :func:`wilson_interval` — the Wilson score interval for a proportion.

Conventions: a duration of 0 is allowed (an event at time 0); the curves are
right-continuous step functions indexed by the distinct observed times.

Examples
--------
>>> import numpy as np
>>> from funnel_models.analysis._survival import kaplan_meier, km_quantile
>>> km = kaplan_meier([1, 2, 2, 3, 4], [1, 1, 0, 1, 0])
>>> km["survival"].round(3).tolist()
[0.8, 0.6, 0.3, 0.3]
>>> km_quantile(km, 0.5)["estimate"]
3.0
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import NormalDist

import numpy as np
import pandas as pd

__all__ = [
    "cumulative_incidence",
    "kaplan_meier",
    "km_quantile",
    "step_value",
    "wilson_interval",
]


def _z(conf_level: float) -> float:
    if not 0 < conf_level < 1:
        raise ValueError(f"conf_level must lie strictly between 0 and 1, got {conf_level!r}")
    return NormalDist().inv_cdf(1.0 - (1.0 - conf_level) / 2.0)  # stdlib: no scipy import


def _loglog_band(p: np.ndarray, sigma_log: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise log(-log) interval for a probability ``p`` given sd of log(p)."""
    p = np.asarray(p, float)
    lower = np.zeros_like(p)
    upper = np.zeros_like(p)
    eps = np.finfo(float).eps
    positive = p > eps
    log_p = np.zeros_like(p)
    np.log(p, where=positive, out=log_p)
    theta = np.zeros_like(p)
    np.divide(sigma_log, log_p, where=log_p < -eps, out=theta)
    lower[positive] = np.exp(np.exp(-z * theta[positive]) * log_p[positive])
    upper[positive] = np.exp(np.exp(z * theta[positive]) * log_p[positive])
    return lower, upper


def _counts(durations, codes) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distinct times, events per code at each time (n_times × n_codes), at risk, censored."""
    t = np.asarray(durations, dtype=float)
    c = np.asarray(codes)
    if t.shape != c.shape or t.ndim != 1:
        raise ValueError("durations and events must be 1-d arrays of the same length")
    if np.isnan(t).any():
        raise ValueError("durations contain NaN; drop or fill them before estimating")
    if (t < 0).any():
        raise ValueError("durations must be non-negative")
    c = c.astype(int)
    if (c < 0).any():
        raise ValueError("event codes must be 0 (censored) or positive integers")
    times, inverse = np.unique(t, return_inverse=True)
    n_codes = int(c.max()) if c.size else 0
    events = np.zeros((times.size, n_codes + 1), dtype=float)
    np.add.at(events, (inverse, c), 1.0)
    total = np.bincount(inverse, minlength=times.size).astype(float)
    at_risk = total[::-1].cumsum()[::-1]
    censored = events[:, 0]
    return times, events[:, 1:], at_risk, censored


def kaplan_meier(durations, events, *, conf_level: float = 0.95) -> pd.DataFrame:
    """Kaplan–Meier survival curve with Greenwood log-log confidence intervals.

    Parameters
    ----------
    durations
        Time to the event or to censoring (e.g. days in stage), non-negative.
    events
        True (1) where the event was observed, False (0) where censored.
    conf_level
        Coverage of the pointwise interval.

    Returns
    -------
    DataFrame indexed by ``time`` (each distinct duration, events and censorings)
    with ``at_risk``, ``events``, ``censored``, ``survival``, ``ci_lower``,
    ``ci_upper``. Empty input gives an empty frame.

    Examples
    --------
    >>> kaplan_meier([2, 4, 4], [True, False, True])["survival"].round(4).tolist()
    [0.6667, 0.3333]
    """
    z = _z(conf_level)
    ev = np.asarray(events).astype(bool).astype(int)
    times, d, n, censored = _counts(durations, ev)
    d = d[:, 0] if d.shape[1] else np.zeros(times.size)
    ratio = np.divide(d, n, out=np.zeros_like(d), where=d > 0)
    surv = np.cumprod(1.0 - ratio)
    greenwood = np.divide(d, n * (n - d), out=np.zeros_like(d), where=(d > 0) & (n != d))
    sigma = np.sqrt(np.cumsum(greenwood))
    lower, upper = _loglog_band(surv, sigma, z)
    return pd.DataFrame(
        {
            "at_risk": n.astype("int64"),
            "events": d.astype("int64"),
            "censored": censored.astype("int64"),
            "survival": surv,
            "ci_lower": lower,
            "ci_upper": upper,
        },
        index=pd.Index(times, name="time"),
    )


def km_quantile(km: pd.DataFrame, q: float) -> dict[str, float | bool]:
    """The time by which a share ``q`` has had the event, with its confidence interval.

    The estimate is the first time at which the survival curve falls to
    ``1 - q`` or below (the convention of lifelines' ``median_survival_time_``).
    The interval is where the pointwise log-log band crosses ``1 - q``
    (Brookmeyer & Crowley, 1982): the lower limit from the lower band, the upper
    from the upper band.

    Returns
    -------
    dict with ``estimate``, ``ci_lower``, ``ci_upper`` (NaN where the curve or
    the band never reaches ``1 - q``) and ``reached`` (False when the estimate
    does not exist yet: too many subjects still without the event).

    Examples
    --------
    >>> km = kaplan_meier([1, 2, 3, 4], [1, 1, 1, 1])
    >>> km_quantile(km, 0.5)["estimate"]
    2.0
    """
    if not 0 < q < 1:
        raise ValueError(f"q must lie strictly between 0 and 1, got {q!r}")
    target = 1.0 - q + 1e-12

    def first_below(curve: pd.Series) -> float:
        hit = curve.to_numpy() <= target
        return float(curve.index[np.argmax(hit)]) if hit.any() else float("nan")

    if km.empty:
        return {"estimate": np.nan, "ci_lower": np.nan, "ci_upper": np.nan, "reached": False}
    estimate = first_below(km["survival"])
    return {
        "estimate": estimate,
        "ci_lower": first_below(km["ci_lower"]),
        "ci_upper": first_below(km["ci_upper"]),
        "reached": bool(not np.isnan(estimate)),
    }


def cumulative_incidence(
    durations,
    codes,
    *,
    labels: Sequence[str] | None = None,
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """Aalen–Johansen cumulative incidence of competing events, with intervals.

    Parameters
    ----------
    durations
        Time to the first event of any kind, or to censoring.
    codes
        0 for censored, ``k`` (1, 2, ...) for the event of kind ``k``.
    labels
        Names of the kinds 1..K (default ``"1"``, ``"2"``, ...).
    conf_level
        Coverage of the pointwise log-log interval; Aalen's variance (as
        ``sksurv``'s default ``var_type="Aalen"``), computed in O(n).

    Returns
    -------
    DataFrame indexed by ``time`` with ``at_risk``, ``censored``, and for each
    kind ``<label>`` (the cumulative incidence), ``<label>_lower``,
    ``<label>_upper``; plus ``any_event`` (one minus the all-cause
    Kaplan–Meier).

    Examples
    --------
    >>> ci = cumulative_incidence([1, 2, 3, 3], [1, 2, 1, 0], labels=["won", "lost"])
    >>> ci[["won", "lost"]].round(2).values.tolist()
    [[0.25, 0.0], [0.25, 0.25], [0.5, 0.25]]
    """
    z = _z(conf_level)
    times, d_k, n, censored = _counts(durations, codes)
    n_kinds = d_k.shape[1]
    if labels is None:
        labels = [str(k) for k in range(1, n_kinds + 1)]
    labels = list(labels)
    if n_kinds > len(labels):
        raise ValueError(f"event code {n_kinds} has no label (labels: {labels})")
    if n_kinds < len(labels):
        d_k = np.hstack([d_k, np.zeros((times.size, len(labels) - n_kinds))])
    d = d_k.sum(axis=1)
    ratio_all = np.divide(d, n, out=np.zeros_like(d), where=d > 0)
    surv = np.cumprod(1.0 - ratio_all)
    surv_before = np.r_[1.0, surv[:-1]]
    out = {"at_risk": n.astype("int64"), "censored": censored.astype("int64")}
    # Aalen's (1978) variance as written by Pintilie (2006, eq. 4.5), the default of
    # sksurv; the sums over s <= t are expanded so the whole curve costs O(n):
    #   var_a = sum (F(t) - F(s))^2 d_s / ((n_s - 1)(n_s - d_s))
    #   var_b = sum S(s-)^2 d_ks (n_s - d_ks) / ((n_s - 1) n_s^2)
    #   var_c = -2 sum (F(t) - F(s)) S(s-) d_ks (n_s - d_ks) / (n_s (n_s - d_s)(n_s - 1))
    den_a = (n - 1) * (n - d)
    w = np.divide(d, den_a, out=np.zeros_like(d), where=den_a > 0)
    a_sum = np.cumsum(w)
    den_b = (n - 1) * n**2
    den_c = n * (n - d) * (n - 1)
    for k, label in enumerate(labels):
        dk = d_k[:, k]
        hazard_k = np.divide(dk, n, out=np.zeros_like(dk), where=dk > 0)
        cif = np.cumsum(surv_before * hazard_k)
        b_sum = np.cumsum(cif * w)
        c_sum = np.cumsum(cif**2 * w)
        var_a = cif**2 * a_sum - 2 * cif * b_sum + c_sum
        vb = np.divide((n - dk) * dk, den_b, out=np.zeros_like(dk), where=den_b > 0)
        var_b = np.cumsum(surv_before**2 * vb)
        g = np.divide(dk * (n - dk) * surv_before, den_c, out=np.zeros_like(dk), where=den_c > 0)
        var_c = -2 * (cif * np.cumsum(g) - np.cumsum(cif * g))
        var = np.clip(var_a + var_b + var_c, 0.0, None)
        sigma = np.divide(np.sqrt(var), cif, out=np.zeros_like(var), where=var > 1e-16)
        lower, upper = _loglog_band(cif, sigma, z)
        out[label] = cif
        out[f"{label}_lower"] = lower
        out[f"{label}_upper"] = upper
    out["any_event"] = 1.0 - surv
    return pd.DataFrame(out, index=pd.Index(times, name="time"))


def step_value(curve: pd.DataFrame | pd.Series, at, *, before=0.0):
    """Value of a right-continuous step curve (indexed by time) at times ``at``.

    Times before the first index get ``before`` (0 for an incidence curve,
    use 1.0 for a survival curve).

    >>> s = pd.Series([0.2, 0.5], index=[1.0, 3.0])
    >>> step_value(s, [0.5, 1, 2, 10]).tolist()
    [0.0, 0.2, 0.2, 0.5]
    """
    at_arr = np.atleast_1d(np.asarray(at, dtype=float))
    idx = np.searchsorted(curve.index.to_numpy(dtype=float), at_arr, side="right") - 1
    values = curve.to_numpy()
    if isinstance(curve, pd.Series):
        result = np.where(idx >= 0, values[np.clip(idx, 0, None)], before)
        return result
    picked = values[np.clip(idx, 0, None)]
    picked = np.where((idx >= 0)[:, None], picked, before)
    return pd.DataFrame(picked, columns=curve.columns, index=pd.Index(at_arr, name="time"))


def wilson_interval(successes, trials, *, conf_level: float = 0.95):
    """Wilson score interval for a binomial proportion; NaN where ``trials`` is 0.

    >>> low, high = wilson_interval(8, 10)
    >>> round(float(low), 4), round(float(high), 4)
    (0.4902, 0.9433)
    """
    z = _z(conf_level)
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
        low = np.where(n > 0, np.clip(centre - half, 0, 1), np.nan)
        high = np.where(n > 0, np.clip(centre + half, 0, 1), np.nan)
    return low, high
