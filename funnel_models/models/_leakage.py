"""The leakage guard: features that were recorded after the outcome or decide it alone.

CRM exports are full of such fields (a disposition set after the call, a "lead
quality" set by sales, a loss reason). A scorer trained on them looks brilliant
in validation and is useless on open leads, for which they are still empty.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score


class LeakageWarning(UserWarning):
    """Features were left out of a model because they look like leakage."""


def _codes(values: pd.Series, n_bins: int = 20) -> np.ndarray:
    """Integer codes of a column: quantile bins for numbers, categories otherwise; -1 = missing."""
    if values.dtype.kind in "biuf" and values.nunique(dropna=True) > n_bins:
        ranks = values.rank(method="average", pct=True).to_numpy()
        binned = np.minimum((np.nan_to_num(ranks) * n_bins).astype(int), n_bins - 1)
        codes = np.where(np.isnan(ranks), -1, binned)
        return codes.astype(np.int64)
    codes, _ = pd.factorize(values, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64)


def single_feature_auc(
    values: pd.Series, y: np.ndarray, *, n_folds: int = 5, seed: int = 0
) -> float:
    """ROC AUC of one column alone, by out-of-fold target encoding of its values.

    Out-of-fold encoding keeps identifiers (every value unique) near 0.5 instead
    of a memorised 1.0. The AUC is symmetric: max(auc, 1 - auc).
    """
    y = np.asarray(y, dtype=float)
    if np.unique(y).size < 2:
        return float("nan")
    codes = _codes(values) + 1  # 0 = missing
    k = int(codes.max()) + 1
    fold = np.random.default_rng(seed).integers(0, n_folds, y.size)
    prior = y.mean()
    m = 10.0
    score = np.empty(y.size)
    tot_n = np.bincount(codes, minlength=k).astype(float)
    tot_s = np.bincount(codes, weights=y, minlength=k)
    for f in range(n_folds):
        inside = fold == f
        n_f = np.bincount(codes[inside], minlength=k)
        s_f = np.bincount(codes[inside], weights=y[inside], minlength=k)
        n_o, s_o = tot_n - n_f, tot_s - s_f
        rate = (s_o + m * prior) / (n_o + m)
        score[inside] = rate[codes[inside]]
    auc = roc_auc_score(y, score)
    return float(max(auc, 1.0 - auc))


def find_leakage(
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    auc_threshold: float = 0.9,
    times: pd.Series | None = None,
    max_rows: int = 200_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Screen every column for leakage; one row per column, indexed by feature.

    A column is flagged when

    - alone it separates converted from other leads with ROC AUC ≥ ``auc_threshold``;
    - it is filled in (almost) only for one class (≥ 5 filled rows, ≤ 1 % of the
      other class filled), as a field set after the outcome usually is;
    - it is a timestamp later than the lead's snapshot time (``times``) in most rows.
    """
    y = np.asarray(y, dtype=float)
    if len(y) > max_rows:
        take = np.random.default_rng(seed).choice(len(y), max_rows, replace=False)
        take.sort()
        X, y = X.iloc[take], y[take]
        times = times.iloc[take] if times is not None else None
    rows = []
    pos = y == 1
    for col in X.columns:
        values = X[col]
        reasons = []
        if isinstance(values.dtype, pd.DatetimeTZDtype) or values.dtype.kind == "M":
            after = None
            if times is not None:
                filled = values.notna() & times.notna()
                if filled.sum():
                    after = float((values[filled] > times[filled]).mean())
                    if after >= 0.5:
                        reasons.append(
                            f"a timestamp later than the snapshot time in {after:.0%} of rows"
                        )
            values = (values - values.min()).dt.total_seconds()
        filled = values.notna().to_numpy()
        share_pos = float(filled[pos].mean()) if pos.any() else float("nan")
        share_neg = float(filled[~pos].mean()) if (~pos).any() else float("nan")
        auc = single_feature_auc(values, y, seed=seed)
        if auc >= auc_threshold:
            reasons.append(f"alone it reaches ROC AUC {auc:.2f}")
        if filled[pos].sum() >= 5 and share_neg <= 0.01 and share_pos > share_neg:
            reasons.append(
                f"filled for {share_pos:.0%} of converted leads but {share_neg:.1%} of the others"
            )
        elif filled[~pos].sum() >= 5 and share_pos <= 0.01 and share_neg > share_pos:
            reasons.append(
                f"filled for {share_neg:.0%} of non-converted leads but {share_pos:.1%} of converted"
            )
        rows.append(
            {
                "feature": col,
                "single_auc": auc,
                "filled_converted": share_pos,
                "filled_others": share_neg,
                "flagged": bool(reasons),
                "reason": "; ".join(reasons),
            }
        )
    out = pd.DataFrame(rows).set_index("feature")
    return out.sort_values(["flagged", "single_auc"], ascending=[False, False], kind="stable")
