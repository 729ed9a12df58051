"""The leakage guard: features recorded after the outcome, or that name it.

CRM exports are full of such fields: the deal's current stage, a lead status, a
loss reason, a disposition set after the call, the account filled in when the
deal is signed. A scorer trained on them looks brilliant in validation and is
useless on open leads, for which they are still empty or still say "open".

No single number tells them apart from honest strong predictors, so the guard
combines what a careful analyst would look at, and states which rule fired:

1. **Recorded for one outcome only.** Filled for at least 5 leads of one class
   and for at most 1 % of the other (a won date, a closed deal's segment).
2. **Leaks through missingness.** Filled for nearly all converted leads (≥ 98 %)
   and for at least 15 points fewer of the others: the field is completed when
   the deal closes, so its absence gives the outcome away (Maven's ``account_*``:
   100 % against 78 %).
3. **Its values name an outcome.** In at least 20 % of the filled rows the value
   is an outcome or a stage the target counts as reached ("Won", "Lost",
   "Closed - Converted"), and alone the column reaches ROC AUC 0.6: it records
   where the lead ended up (Maven's ``deal_stage``).
4. **Named like an outcome field.** A word of its name is one of stage, status,
   outcome, result, won, lost, closed, reason, disposition, converted,
   lifecycle, churn, ... and alone it reaches ROC AUC 0.7.
5. **Too good alone.** Alone it reaches ROC AUC ``auc_threshold`` (0.9).
6. **Stamped after the snapshot.** A timestamp later than the row's snapshot
   time in most rows.

"Alone" is the ROC AUC of the column by itself, from an out-of-fold target
encoding of its values, measured within stratified folds (:func:`single_feature_auc`),
so an identifier stays near 0.5 instead of a memorised 1.0. The thresholds are defaults, chosen so the
guard catches Maven's ``deal_stage`` and ``account_*`` and Olist's eleven
closed-deal fields while keeping every Salvirt feature (tests/test_leakage.py).

Examples
--------
>>> import numpy as np, pandas as pd
>>> from funnel_models.models._leakage import find_leakage
>>> rng = np.random.default_rng(0)
>>> y = rng.integers(0, 2, 400)
>>> X = pd.DataFrame({"source": rng.choice(["web", "fair"], 400),
...                   "deal_stage": np.where(y == 1, "Won", rng.choice(["Lost", "Open"], 400))})
>>> screen = find_leakage(X, y)
>>> screen["flagged"].to_dict()
{'deal_stage': True, 'source': False}
>>> print(screen.loc["deal_stage", "reason"])  # doctest: +NORMALIZE_WHITESPACE
its values name an outcome (Won, Lost) in 76% of rows; its name reads like an outcome
field ('stage') and alone it reaches ROC AUC 1.00; alone it reaches ROC AUC 1.00
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

__all__ = ["OUTCOME_NAME_WORDS", "OUTCOME_VALUE_WORDS", "find_leakage", "single_feature_auc"]

#: words of a column name that suggest an outcome or a field set after it (rule 4)
OUTCOME_NAME_WORDS = frozenset(
    {
        "stage", "status", "outcome", "result", "won", "win", "lost", "loss", "closed",
        "close", "closing", "reason", "disposition", "converted", "conversion", "lifecycle",
        "disqualified", "disqualification", "dq", "churn", "churned", "signed", "contract",
        "forecast", "probability",
    }
)  # fmt: skip
#: words that, inside a value, name an outcome (rule 3): "Closed - Converted", "Won"
OUTCOME_VALUE_WORDS = frozenset(
    {"won", "lost", "closed", "converted", "disqualified", "unqualified", "rejected", "churned"}
)

ONLY_ONE_CLASS_FILLED = 0.01  # rule 1
NEARLY_ALL_FILLED = 0.98  # rule 2
MISSING_GAP = 0.15  # rule 2
OUTCOME_VALUE_SHARE = 0.2  # rule 3
OUTCOME_VALUE_AUC = 0.6  # rule 3
OUTCOME_NAME_AUC = 0.7  # rule 4


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

    Each fold's rows are scored by their value's conversion rate in the other folds
    (shrunk towards those folds' overall rate), the AUC is measured within the fold,
    and the folds' AUCs are averaged, weighted by size. Out-of-fold encoding keeps
    identifiers (every value unique) at 0.5 instead of a memorised 1.0. The folds
    are stratified (each holds the same share of converted leads) and the AUC is
    taken within folds, so a fold's own share of converted leads, which shifts its
    out-of-fold rates the other way, cannot pass for a signal. An unrelated column
    is near 0.5, possibly a little below.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 2000)
    >>> noise = pd.Series(rng.choice(["web", "fair"], 2000))
    >>> signal = pd.Series(np.where(rng.random(2000) < 0.8, y, 1 - y))
    >>> round(single_feature_auc(noise, y), 1), round(single_feature_auc(signal, y), 1)
    (0.5, 0.8)
    """
    y = np.asarray(y, dtype=float)
    if np.unique(y).size < 2:
        return float("nan")
    codes = _codes(values) + 1  # 0 = missing
    k = int(codes.max()) + 1
    rng = np.random.default_rng(seed)
    fold = np.empty(y.size, dtype=np.int64)
    for cls in (0.0, 1.0):  # stratified: every fold holds the same share of converted leads
        rows = np.flatnonzero(y == cls)
        fold[rng.permutation(rows)] = np.arange(rows.size) % n_folds
    m = 10.0  # shrinkage: rows' worth of the overall rate added to every value
    tot_n = np.bincount(codes, minlength=k).astype(float)
    tot_s = np.bincount(codes, weights=y, minlength=k)
    aucs, sizes = [], []
    for f in range(n_folds):
        inside = fold == f
        if np.unique(y[inside]).size < 2 or inside.all():
            continue
        n_o = tot_n - np.bincount(codes[inside], minlength=k)
        s_o = tot_s - np.bincount(codes[inside], weights=y[inside], minlength=k)
        rate = (s_o + m * s_o.sum() / n_o.sum()) / (n_o + m)
        aucs.append(roc_auc_score(y[inside], rate[codes[inside]]))
        sizes.append(inside.sum())
    return float(np.average(aucs, weights=sizes)) if aucs else float("nan")


def _key(value) -> str:
    return re.sub(r"[^0-9a-z]", "", str(value).casefold())


def _words(text) -> set[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(text))
    return {w for w in re.split(r"[^0-9a-z]+", spaced.casefold()) if w}


def _outcome_values(values: pd.Series, outcome_keys: set[str]) -> tuple[float, list[str]]:
    """Share of the filled rows whose value names an outcome, and those values (most common first)."""
    if values.dtype.kind in "biufcmM" or isinstance(values.dtype, pd.DatetimeTZDtype):
        return 0.0, []
    counts = values.dropna().astype(str).value_counts()
    if counts.empty:
        return 0.0, []
    named = [v for v in counts.index if _key(v) in outcome_keys or _words(v) & OUTCOME_VALUE_WORDS]
    return float(counts[named].sum() / counts.sum()), named


def find_leakage(
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    auc_threshold: float = 0.9,
    times: pd.Series | None = None,
    outcome_values: Iterable[str] = (),
    max_rows: int = 200_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Screen every column for leakage; one row per column, indexed by feature.

    Parameters
    ----------
    X : DataFrame
        The candidate features of the labelled leads.
    y : array of 0/1
        1 = converted.
    auc_threshold : float
        Rule 5: a column that alone reaches this ROC AUC is flagged whatever its name.
    times : Series, optional
        Each row's snapshot time (rule 6 for timestamp columns).
    outcome_values : iterable of str
        Values that name an outcome or a stage the target counts as reached
        (for a dataset, its funnel's stages from the target on and its
        outcomes, with their aliases; for a flat table, its target's values).
        Rule 3 also knows :data:`OUTCOME_VALUE_WORDS`.
    max_rows : int
        Larger tables are screened on a random sample of this many rows.
    seed : int

    Returns
    -------
    DataFrame indexed by ``feature``: ``single_auc``, ``filled_converted``,
    ``filled_others`` (shares of rows with a value), ``outcome_share`` (share
    of filled rows whose value names an outcome), ``flagged`` and ``reason``
    (every rule that fired, in words). Flagged columns first.
    """
    y = np.asarray(y, dtype=float)
    if len(y) > max_rows:
        take = np.random.default_rng(seed).choice(len(y), max_rows, replace=False)
        take.sort()
        X, y = X.iloc[take], y[take]
        times = times.iloc[take] if times is not None else None
    outcome_keys = {_key(v) for v in outcome_values} - {""}
    rows = []
    pos = y == 1
    for col in X.columns:
        values = X[col]
        reasons = []
        if isinstance(values.dtype, pd.DatetimeTZDtype) or values.dtype.kind == "M":
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
        outcome_share, named = _outcome_values(values, outcome_keys)
        name_words = sorted(_words(col) & OUTCOME_NAME_WORDS)

        if filled[pos].sum() >= 5 and share_neg <= ONLY_ONE_CLASS_FILLED < share_pos:
            reasons.append(
                f"filled for {share_pos:.0%} of converted leads but {share_neg:.1%} of the others"
            )
        elif filled[~pos].sum() >= 5 and share_pos <= ONLY_ONE_CLASS_FILLED < share_neg:
            reasons.append(
                f"filled for {share_neg:.0%} of non-converted leads but {share_pos:.1%} of converted"
            )
        elif share_pos >= NEARLY_ALL_FILLED and share_pos - share_neg >= MISSING_GAP:
            reasons.append(
                f"filled for {share_pos:.0%} of converted leads and only {share_neg:.0%} of the "
                "others: it is completed when the outcome is known"
            )
        if outcome_share >= OUTCOME_VALUE_SHARE and auc >= OUTCOME_VALUE_AUC:
            shown = ", ".join(named[:3]) + (", ..." if len(named) > 3 else "")
            reasons.append(f"its values name an outcome ({shown}) in {outcome_share:.0%} of rows")
        if name_words and auc >= OUTCOME_NAME_AUC:
            reasons.append(
                f"its name reads like an outcome field ({', '.join(repr(w) for w in name_words)}) "
                f"and alone it reaches ROC AUC {auc:.2f}"
            )
        if auc >= auc_threshold:
            reasons.append(f"alone it reaches ROC AUC {auc:.2f}")
        rows.append(
            {
                "feature": col,
                "single_auc": auc,
                "filled_converted": share_pos,
                "filled_others": share_neg,
                "outcome_share": outcome_share,
                "flagged": bool(reasons),
                "reason": "; ".join(reasons),
            }
        )
    columns = ["single_auc", "filled_converted", "filled_others", "outcome_share", "flagged"]
    out = pd.DataFrame(rows, columns=["feature", *columns, "reason"]).set_index("feature")
    return out.sort_values(["flagged", "single_auc"], ascending=[False, False], kind="stable")
