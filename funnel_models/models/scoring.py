"""Lead scoring: which leads should sales call first?

:class:`LeadScorer` is a scikit-learn classifier of "does this lead convert?",
calibrated, validated honestly and explained with reasons a sales rep can read.
It fits on

* a flat table and its target, as any scikit-learn classifier: ``fit(X, y)``
  (arrays or a DataFrame of lead attributes; it works inside ``Pipeline``,
  ``cross_val_score`` and ``GridSearchCV``);
* a flat lead table holding its target column: ``LeadScorer(target="Status").fit(table)``
  (exports without history, e.g. Salvirt; an empty target means still open);
* a canonical :class:`~funnel_models.core.dataset.FunnelDataset`: the target is
  "reaches ``to_stage`` within ``within_days`` of entering ``from_stage``" and
  the features are what was known when the lead entered ``from_stage``.

Each fit validates the model (a time-ordered hold-out when the rows have a date,
else stratified cross-validation), compares gradient boosting with a
logistic-regression baseline, and leaves out, with the reason for each,
features that look like leakage (:func:`find_leakage`) or personal data
(:func:`funnel_models.core.privacy.find_personal_data`). ``score(X, y)``
returns the ROC AUC, as a scikit-learn ``score`` returns a metric;
:meth:`LeadScorer.rank_open_leads` ranks the leads still open, each with its
top reasons.

Examples
--------
>>> import numpy as np, pandas as pd
>>> import funnel_models as fm
>>> rng = np.random.default_rng(0)
>>> leads = pd.DataFrame({"source": rng.choice(["fair", "web", "ads"], 600),
...                       "employees": rng.integers(5, 500, 600)})
>>> won = np.where(rng.random(600) < np.where(leads["source"] == "fair", 0.6, 0.15), "yes", "no")
>>> scorer = fm.LeadScorer(random_state=0).fit(leads, won)
>>> scorer.classes_.tolist()
['no', 'yes']
>>> bool(scorer.summary_.loc[scorer.chosen_model_, "roc_auc"] > 0.6)
True
>>> scorer.importance_.index[0]
'source'
>>> bool(scorer.score(leads, won) > 0.6)
True

The same with scikit-learn's tools:

>>> from sklearn.model_selection import cross_val_score
>>> bool(cross_val_score(fm.LeadScorer(model="logistic"), leads, won, cv=3).mean() > 0.6)
True
"""

from __future__ import annotations

import difflib
import warnings
from dataclasses import dataclass, field
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_random_state

from funnel_models._errors import FunnelConfigError, FunnelDataError
from funnel_models.analysis._features import TARGET, TIME, snapshot_table
from funnel_models.core.funnel import Funnel
from funnel_models.core.privacy import find_personal_data
from funnel_models.models._base import FunnelEstimator
from funnel_models.models._leakage import LeakageWarning, find_leakage

__all__ = ["LeadScorer", "LeakageWarning", "PersonalDataWarning", "find_leakage"]

_POSITIVE_WORDS = {"1", "true", "yes", "y", "won", "win", "converted", "closed won", "success"}
_NEGATIVE_WORDS = {"0", "false", "no", "n", "lost", "loss", "not converted", "closed lost", "fail"}
_BOOLEAN_WORDS = {"0", "1", "true", "false", "yes", "no", "y", "n"}
_FORMAT = "funnel_models.LeadScorer"
_FORMAT_VERSION = 2
_METRICS = ["n", "converted_share", "roc_auc", "pr_auc", "brier"] + [
    f"{m}_top{k}" for k in (10, 20) for m in ("lift", "capture")
]


class PersonalDataWarning(UserWarning):
    """Features were left out of a model because they look like personal data."""


# ----------------------------------------------------------------------------- inputs
def _did_you_mean(value: str, choices) -> str:
    match = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1, cutoff=0.5)
    return f"; did you mean {match[0]!r}?" if match else ""


def _filled(values: pd.Series) -> np.ndarray:
    """Rows with a target value (empty text counts as missing: the lead is still open)."""
    known = values.notna()
    if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
        known &= values.astype(str).str.strip() != ""
    return known.to_numpy()


def _positive_label(distinct: list, positive: Any, name: str, *, guess_greater: bool) -> Any:
    """The label that means converted: ``positive``, else told by its word, else the greater."""
    if positive is not None:
        for v in distinct:
            if v == positive or str(v) == str(positive):
                return v
        raise FunnelConfigError(
            f"positive value {positive!r} does not occur in target {name!r} "
            f"(values: {', '.join(repr(v) for v in distinct[:5])})"
        )
    words = {v: str(v).strip().casefold() for v in distinct}
    pos = [v for v, w in words.items() if w in _POSITIVE_WORDS]
    neg = [v for v, w in words.items() if w in _NEGATIVE_WORDS]
    if len(pos) == 1 and len(neg) == 1:
        return pos[0]
    if guess_greater:  # scikit-learn's convention: the greater label is the positive class
        return sorted(distinct)[-1]
    raise FunnelConfigError(
        f"cannot tell which value of target {name!r} means converted "
        f"({distinct[0]!r} or {distinct[1]!r}); pass positive=... (CLI: --positive)"
    )


def _binary_target(
    values: pd.Series, positive: Any, name: str, *, guess_greater: bool = False
) -> tuple[pd.Series, np.ndarray]:
    """0/1 per row (NA = unknown / still open) and the labels ``[negative, positive]``."""
    filled = values[_filled(values)]
    distinct = list(pd.unique(filled))
    if not distinct:
        raise FunnelDataError(f"target column {name!r} is empty; nothing to learn from")
    if len(distinct) == 1:
        raise FunnelDataError(
            f"target {name!r} has only one class ({distinct[0]!r}) in {len(filled):,} rows; "
            "a scorer needs both converted and not-converted leads"
        )
    if len(distinct) > 2:
        shown = ", ".join(repr(v) for v in distinct[:5])
        raise FunnelDataError(
            f"target {name!r} has {len(distinct)} values ({shown}, ...); it must have two "
            "(converted or not). Map it to two values first"
        )
    pos = _positive_label(distinct, positive, name, guess_greater=guess_greater)
    neg = distinct[1] if distinct[0] is pos else distinct[0]
    known = _filled(values)
    y = pd.Series(pd.NA, index=values.index, dtype="Int8")
    y[known] = (values[known].astype(str) == str(pos)).astype("int8").to_numpy()
    labels = np.empty(2, dtype=np.asarray(distinct).dtype)
    labels[:] = [neg, pos]
    return y, labels


def _check_y(y, n_rows: int):
    """scikit-learn's checks of a target: 1-d, as long as X, finite, two classes at most."""
    from sklearn.utils import assert_all_finite
    from sklearn.utils.multiclass import type_of_target
    from sklearn.utils.validation import column_or_1d

    y = column_or_1d(y, warn=True)
    if y.shape[0] != n_rows:
        raise ValueError(
            f"Found input variables with inconsistent numbers of samples: [{n_rows}, {y.shape[0]}]"
        )
    if y.dtype.kind in "fc":
        assert_all_finite(y, input_name="y")
    kind = type_of_target(y, input_name="y", raise_unknown=True)
    if kind != "binary":
        raise ValueError(
            f"Only binary classification is supported. The type of the target is {kind}."
        )
    return y


def _as_frame(X, what: str = "X") -> pd.DataFrame:
    """A DataFrame whose columns are named by text: itself, or an array checked by scikit-learn."""
    if isinstance(X, pd.DataFrame) and all(isinstance(c, str) for c in X.columns):
        if X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(
                f"{what} has shape {X.shape}: a table needs at least one row and one column"
            )
        return X
    from sklearn.utils import check_array

    arr = check_array(X, dtype=None, accept_sparse=False, ensure_all_finite="allow-nan")
    return pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])


def _as_category_values(values: pd.Series) -> pd.Series:
    """Text categories as Python str objects with np.nan for missing (what sklearn wants)."""
    out = values.astype(object)
    missing = values.isna().to_numpy()
    out = out.map(str)
    out[missing] = np.nan
    return out


def _numbers_in_text(values: pd.Series) -> bool:
    """A text column whose every value is a number ('550', '1.5e3')."""
    if values.dtype.kind in "biufcmM" or isinstance(values.dtype, pd.DatetimeTZDtype):
        return False
    filled = values.dropna()
    if filled.empty:
        return False

    def numbers(texts) -> bool:
        try:
            return bool(pd.to_numeric(pd.Series(texts).astype(str), errors="coerce").notna().all())
        except (TypeError, ValueError):
            return False

    if not numbers(filled.iloc[:100]):  # the first rows reject most text columns
        return False
    try:
        distinct = pd.unique(filled)
    except TypeError:  # unhashable cells (dicts, lists) are not numbers
        return False
    return numbers(distinct)


def _feature_kinds(
    X: pd.DataFrame, time_column: str | None
) -> tuple[dict[str, str], dict[str, str]]:
    """Kinds (``numeric``, ``category``, ``datetime``) and columns dropped with why."""
    kinds, dropped = {}, {}
    n = len(X)
    for col in X.columns:
        v = X[col]
        if v.isna().all():
            dropped[col] = "all values missing"
            continue
        if v.dtype.kind == "c":
            raise ValueError(f"Complex data not supported (column {col!r})")
        if isinstance(v.dtype, pd.DatetimeTZDtype) or v.dtype.kind == "M":
            kinds[col] = "datetime"
        elif (
            v.dtype.kind in "iuf" and not isinstance(v.dtype, pd.BooleanDtype)
        ) or _numbers_in_text(v):
            numbers = pd.to_numeric(v, errors="coerce").to_numpy(dtype=float)
            if np.isinf(numbers).any():
                raise FunnelDataError(
                    f"column {col!r} holds infinite numbers; leave those cells empty instead"
                )
            kinds[col] = "numeric"
        else:
            n_unique = v.nunique(dropna=True)
            if n_unique > 50 and n_unique > 0.5 * v.notna().sum() and n > 100:
                dropped[col] = (
                    f"looks like an identifier or free text ({n_unique:,} distinct values)"
                )
                continue
            kinds[col] = "category"
        if v.nunique(dropna=False) <= 1:
            dropped[col] = "one value in every row"
            kinds.pop(col, None)
    if time_column is None:
        for col in [c for c, k in kinds.items() if k == "datetime"]:
            dropped[col] = "a timestamp and no --time column to measure it from"
            del kinds[col]
    return kinds, dropped


def _design(X: pd.DataFrame, kinds: dict[str, str], times: pd.Series | None) -> pd.DataFrame:
    """The model matrix: numbers as float, categories as str objects, timestamps as days after ``times``."""
    out = {}
    for col, kind in kinds.items():
        v = pd.Series(np.nan, index=X.index) if col not in X.columns else X[col]
        if kind == "numeric":
            out[col] = pd.to_numeric(v, errors="coerce").astype(float)
        elif kind == "datetime":
            v = pd.to_datetime(v, utc=True, errors="coerce")
            out[col] = (v - times).dt.total_seconds() / 86400.0
        else:
            out[col] = _as_category_values(v)
    return pd.DataFrame(out, index=X.index)


def _to_utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True, errors="coerce")


def _outcome_words(funnel: Funnel, to_stage: str | None) -> set[str]:
    """Names (and aliases) of the outcomes, and of the stages from ``to_stage`` on."""
    prog = list(funnel.progression)
    later = prog[prog.index(to_stage) :] if to_stage in prog else []
    stages = [funnel.stage(s) for s in (*later, *funnel.outcomes)]
    return {v for s in stages for v in (s.name, *s.aliases)}


@dataclass
class _Training:
    """What fit learns from: the labelled rows' candidate features and target, and context."""

    X: pd.DataFrame  # candidate feature columns, labelled rows only
    y: np.ndarray  # 0/1
    labels: np.ndarray  # [negative, positive]
    times: pd.Series | None  # each row's snapshot time
    n_open: int
    named: bool  # the input named its columns (sets feature_names_in_)
    target: str | None = None
    id_column: str | None = None
    time_column: str | None = None
    outcome_values: set[str] = field(default_factory=set)
    dataset_target: dict | None = None


# ----------------------------------------------------------------------------- models
def _make_model(kind: str, kinds: dict[str, str], random_state: int | None):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    num = [c for c, k in kinds.items() if k != "category"]
    cat = [c for c, k in kinds.items() if k == "category"]
    if kind == "hgb":
        pre = ColumnTransformer(
            [
                ("num", "passthrough", num),
                (
                    "cat",
                    OrdinalEncoder(
                        handle_unknown="use_encoded_value",
                        unknown_value=np.nan,
                        encoded_missing_value=np.nan,
                        max_categories=250,
                        dtype=np.float64,
                    ),
                    cat,
                ),
            ],
            verbose_feature_names_out=False,
        )
        clf = HistGradientBoostingClassifier(
            max_iter=200,
            learning_rate=0.1,
            categorical_features=np.array([False] * len(num) + [True] * len(cat), dtype=bool),
            early_stopping="auto",
            l2_regularization=1.0,
            random_state=random_state,
        )
    else:
        pre = ColumnTransformer(
            [
                (
                    "num",
                    make_pipeline(
                        SimpleImputer(strategy="median", add_indicator=True), StandardScaler()
                    ),
                    num,
                ),
                (
                    "cat",
                    make_pipeline(
                        SimpleImputer(strategy="constant", fill_value="(missing)"),
                        OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=60),
                    ),
                    cat,
                ),
            ],
            verbose_feature_names_out=False,
        )
        clf = LogisticRegression(C=1.0, max_iter=2000)
    return Pipeline([("prepare", pre), ("classify", clf)])


def _calibrate(model, X_cal: pd.DataFrame, y_cal: np.ndarray, method: str):
    """The fitted ``model``, calibrated on the held-out slice; as it is when the slice has
    fewer than 2 rows of a class.

    ``"auto"`` is isotonic when the slice holds at least 500 rows of each class, else
    sigmoid: isotonic regression overfits smaller slices, down to probabilities of
    exactly 0 (Maven: 28 open deals at 0.0 from a slice of 1,080 rows). The model is
    frozen, so every split of scikit-learn's calibration predicts the same: two
    splits, the fewest it takes, cost the least.
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    smaller = int(np.bincount(y_cal, minlength=2).min()) if len(y_cal) else 0
    if method == "auto":
        method = "isotonic" if smaller >= 500 else "sigmoid"
    if method == "none" or smaller < 2:
        return model
    return CalibratedClassifierCV(FrozenEstimator(model), method=method, cv=2).fit(X_cal, y_cal)


def _fit_calibrated(kind, kinds, X, y, cal_mask, method, random_state, max_rows):
    train = np.flatnonzero(~cal_mask)
    if max_rows and train.size > max_rows:
        train = np.sort(np.random.default_rng(random_state).choice(train, max_rows, replace=False))
    model = _make_model(kind, kinds, random_state)
    model.fit(X.iloc[train], y[train])
    cal = np.flatnonzero(cal_mask)
    if max_rows and cal.size > max_rows:
        cal = np.sort(np.random.default_rng(random_state).choice(cal, max_rows, replace=False))
    return _calibrate(model, X.iloc[cal], y[cal], method)


def _calibration_mask(
    n: int, y: np.ndarray, order: np.ndarray | None, share: float, seed
) -> np.ndarray:
    """The latest ``share`` of rows in time order, or a stratified random share.

    Empty (no calibration) when the smaller class has fewer than 2 rows: a
    held-out slice with one class cannot calibrate, and the rest must keep both.
    """
    mask = np.zeros(n, bool)
    k = max(int(round(share * n)), 2)
    if np.bincount(y, minlength=2).min() < 2 or n - k < 2:
        return mask
    if order is not None:
        mask[order[-k:]] = True
        if np.unique(y[mask]).size < 2 or np.unique(y[~mask]).size < 2:
            order = None  # fall back to random when the tail or the rest is one class
            mask[:] = False
    if order is None:
        from sklearn.model_selection import train_test_split

        _, cal = train_test_split(np.arange(n), test_size=k, stratify=y, random_state=seed)
        mask[cal] = True
    return mask


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """ROC AUC, PR AUC, Brier score, and lift / capture in the top 10 % and 20 %."""
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    base = y.mean()
    out = {
        "n": int(y.size),
        "converted_share": float(base),
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
    }
    order = np.argsort(-p, kind="stable")
    for top in (10, 20):
        k = max(int(np.ceil(y.size * top / 100)), 1)
        hits = y[order[:k]].sum()
        out[f"lift_top{top}"] = float(hits / k / base) if base > 0 else float("nan")
        out[f"capture_top{top}"] = float(hits / y.sum()) if y.sum() > 0 else float("nan")
    return out


# ----------------------------------------------------------------------------- reasons
def _reason_table(model, X_ref: pd.DataFrame, kinds: dict[str, str]) -> dict[str, dict]:
    """Per feature value: how much setting it moves the mean score (partial dependence).

    For each feature and each of its common values (categories, or quantile bins
    of numbers, plus missing), every reference lead gets that value and the mean
    predicted probability is compared with the mean over the reference leads as
    they are. Exact for additive models, an average effect for the others.
    """
    base = float(model.predict_proba(X_ref)[:, 1].mean())
    table: dict[str, dict] = {}
    for col, kind in kinds.items():
        v = X_ref[col]
        if kind == "category":
            values = list(v.dropna().value_counts().index[:30])
            reps = values + [np.nan]
            labels = [str(x) for x in values] + ["(missing)"]
            edges = None
        else:
            x = v.dropna().to_numpy(dtype=float)
            if x.size == 0:
                continue
            qs = np.unique(np.quantile(x, np.linspace(0, 1, 6)))
            edges = qs[1:-1]
            bins = np.digitize(x, edges)
            reps = [
                float(np.median(x[bins == b])) for b in range(len(edges) + 1) if (bins == b).any()
            ]
            if len(reps) != len(edges) + 1:
                edges = np.unique(qs)[1:-1]
                reps = [
                    float(np.median(x[np.digitize(x, edges) == b])) for b in range(len(edges) + 1)
                ]
            lo = np.concatenate([[x.min()], edges])
            hi = np.concatenate([edges, [x.max()]])
            labels = [
                _range_label(a, b, i == 0, i == len(edges))
                for i, (a, b) in enumerate(zip(lo, hi, strict=False))
            ]
            reps = reps + [np.nan]
            labels = labels + ["(missing)"]
        effects = []
        frame = pd.concat([X_ref] * len(reps), ignore_index=True)
        rep_col = np.repeat(np.array(reps, dtype=object), len(X_ref))
        frame[col] = rep_col if kind == "category" else rep_col.astype(float)
        p = model.predict_proba(frame)[:, 1].reshape(len(reps), len(X_ref)).mean(axis=1)
        effects = (p - base).tolist()
        table[col] = {
            "kind": kind,
            "values": [str(x) for x in reps[:-1]] if kind == "category" else None,
            "edges": None if edges is None else [float(e) for e in edges],
            "labels": labels,
            "effects": [float(e) for e in effects],
        }
    return table


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def _range_label(a: float, b: float, first: bool, last: bool) -> str:
    if first:
        return f"< {_fmt(b)}"
    if last:
        return f"≥ {_fmt(a)}"
    return f"{_fmt(a)}–{_fmt(b)}"


def _lead_effects(
    X: pd.DataFrame, table: dict[str, dict]
) -> tuple[list[str], np.ndarray, list[np.ndarray]]:
    """Effect matrix (leads × features) and the label index of each lead's value."""
    cols, effects, label_idx = [], [], []
    for col, spec in table.items():
        v = X[col]
        eff = np.asarray(spec["effects"])
        missing_idx = len(eff) - 1
        if spec["kind"] == "category":
            lookup = {val: i for i, val in enumerate(spec["values"])}
            idx = v.map(lookup).to_numpy(dtype=float)
            unknown = np.isnan(idx) & v.notna().to_numpy()
            idx = np.where(np.isnan(idx), missing_idx, idx).astype(int)
            e = eff[idx]
            e[unknown] = 0.0  # a category never seen at fit time: no reason either way
            idx[unknown] = -1
        else:
            x = v.to_numpy(dtype=float)
            idx = np.digitize(x, np.asarray(spec["edges"] or [], dtype=float))
            idx = np.where(np.isnan(x), missing_idx, idx)
            e = eff[idx]
        cols.append(col)
        effects.append(e)
        label_idx.append(idx)
    return cols, np.column_stack(effects) if effects else np.zeros((len(X), 0)), label_idx


def top_reasons(
    X: pd.DataFrame, table: dict[str, dict], n: int = 3, min_points: float = 0.5
) -> pd.DataFrame:
    """Each lead's ``n`` strongest reasons, as sentences ("source = trade_fair raises the score")."""
    cols, eff, label_idx = _lead_effects(X, table)
    out = pd.DataFrame(index=X.index)
    if not cols:
        out["reasons"] = ""
        return out
    order = np.argsort(-np.abs(eff), axis=1, kind="stable")[:, :n]
    rows = np.arange(len(X))
    pieces = []
    for k in range(order.shape[1]):
        j = order[:, k]
        e = eff[rows, j]
        texts = np.empty(len(X), dtype=object)
        for jj, col in enumerate(cols):
            sel = j == jj
            if not sel.any():
                continue
            # the sentence depends only on the value's label: build each once, then index
            spec_eff = list(table[col]["effects"]) + [0.0]
            sentences = np.array(
                [
                    f"{col} = {lab} {'raises' if ef >= 0 else 'lowers'} the score ({100 * ef:+.0f} pts)"
                    for lab, ef in zip(
                        table[col]["labels"] + ["(unseen value)"], spec_eff, strict=True
                    )
                ],
                dtype=object,
            )
            li = label_idx[jj][sel]
            texts[sel] = sentences[np.where(li < 0, len(sentences) - 1, li)]
        texts[np.abs(e) * 100 < min_points] = ""
        out[f"reason_{k + 1}"] = texts
        pieces.append(pd.Series(texts, index=X.index))
    joined = pieces[0].copy()
    for s in pieces[1:]:
        joined = np.where(s != "", np.where(joined != "", joined + "; " + s, s), joined)
    out.insert(0, "reasons", joined)
    return out


# ----------------------------------------------------------------------------- the model
class LeadScorer(ClassifierMixin, FunnelEstimator):
    """A calibrated lead-conversion score with an honest validation report.

    A scikit-learn binary classifier: ``fit(X, y)``, ``predict_proba``,
    ``predict``, ``score`` (ROC AUC), ``get_params`` / ``set_params``, ``clone``.
    It also fits on a table holding its ``target`` column, or on a
    :class:`~funnel_models.core.dataset.FunnelDataset` (see the module docstring).

    Parameters
    ----------
    target : str, optional
        Target column of a flat lead table passed to ``fit`` without ``y`` (two
        values, e.g. Won / Lost; empty = still open). Not used with ``y`` or a
        :class:`FunnelDataset`, whose target is built from ``from_stage`` /
        ``to_stage`` / ``within_days``.
    positive : optional
        The target value that means converted. Default: told by its word (yes/no,
        won/lost, true/false, 1/0, converted/not converted); with ``y`` and other
        words, the greater label, as scikit-learn does; with ``target`` and other
        words, an error asks for it.
    id_column, time_column : str, optional
        Lead id and the date each row's features were known (for time-ordered
        validation), both left out of the features. For a dataset: ``lead_id``
        and the entry into ``from_stage``.
    model : {"auto", "hgb", "logistic"}
        Histogram gradient boosting, the logistic-regression baseline, or
        (``"auto"``) the one of the two with the better validation ROC AUC, both
        reported in ``summary_``. A named model is validated alone.
    leakage : {"exclude", "keep"}
        Leave features flagged by :func:`find_leakage` out (with a
        :class:`LeakageWarning`) or keep them.
    leakage_auc : float
        Single-column ROC AUC from which a feature counts as deciding the outcome
        alone, whatever its name (rule 5 of :mod:`funnel_models.models._leakage`).
    personal_data : {"exclude", "keep"}
        Leave columns that look like personal data (names, emails, phones,
        addresses, ...; :func:`funnel_models.core.privacy.find_personal_data`)
        out of the features (with a :class:`PersonalDataWarning`), or keep them.
    from_stage, to_stage, within_days
        The dataset target: reaches ``to_stage`` within ``within_days`` of entering
        ``from_stage``.
    test_fraction, n_splits
        Time-ordered hold-out share (latest rows), or folds of stratified CV.
    calibration : {"auto", "isotonic", "sigmoid", "none"}
        Calibration on a held-out slice (the latest rows when dates exist);
        ``"auto"``: isotonic when the slice has at least 500 rows of each class,
        else sigmoid.
    max_train_rows : int or None
        Boosting and calibration are fitted on at most this many rows (a random
        sample); metrics use the whole hold-out. None: no limit.
    n_reasons : int
        Reasons listed per ranked lead.
    n_jobs : int, optional
        Threads for boosting; default one thread below 100,000 rows (OpenMP threads
        on a busy machine cost far more than they save on small data), else all.
    random_state : int, RandomState or None
        The only source of randomness (samples, folds, boosting).

    Attributes
    ----------
    classes_ : ndarray of the two labels, ``[negative, positive]``;
        ``predict_proba(X)[:, 1]`` is P(converted)
    n_features_in_ : int
        Candidate feature columns seen by ``fit`` (besides target, id and time).
    feature_names_in_ : ndarray of str
        Their names, when the input named its columns.
    features_ : list of str
        The features the model uses.
    feature_kinds_ : dict of feature -> "numeric", "category" or "datetime"
    excluded_ : DataFrame indexed by feature: ``kind`` ("leakage", "personal
        data" or "unusable") and ``reason``
    leakage_ : DataFrame indexed by feature (the leakage guard's screen)
    personal_data_ : DataFrame indexed by feature (the personal-data screen)
    summary_ : DataFrame indexed by model: validation metrics (n, converted
        share, ROC AUC, PR AUC, Brier, lift and capture in the top 10 / 20 %),
        the chosen model flagged; empty when the data was too small to validate
    validation_ : str
        How it was validated, in words.
    chosen_model_ : str
    model_ : the fitted, calibrated scikit-learn estimator
    calibration_ : DataFrame (mean predicted vs observed, by decile)
    importance_ : DataFrame indexed by feature (permutation importance, ROC AUC drop)
    n_leads_, n_open_ : int
        Labelled rows fitted on, and rows still open (not labelled).
    """

    _parameter_constraints: dict = {
        "target": [str, None],
        "positive": "no_validation",
        "id_column": [str, None],
        "time_column": [str, None],
        "model": [StrOptions({"auto", "hgb", "logistic"})],
        "leakage": [StrOptions({"exclude", "keep"})],
        "leakage_auc": [Interval(Real, 0.5, 1, closed="both")],
        "personal_data": [StrOptions({"exclude", "keep"})],
        "from_stage": [str],
        "to_stage": [str],
        "within_days": [Interval(Real, 0, None, closed="neither")],
        "test_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_splits": [Interval(Integral, 2, None, closed="left")],
        "calibration": [StrOptions({"auto", "isotonic", "sigmoid", "none"})],
        "max_train_rows": [Interval(Integral, 2, None, closed="left"), None],
        "n_reasons": [Interval(Integral, 0, None, closed="left")],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        target: str | None = None,
        positive: Any = None,
        id_column: str | None = None,
        time_column: str | None = None,
        model: str = "auto",
        leakage: str = "exclude",
        leakage_auc: float = 0.9,
        personal_data: str = "exclude",
        from_stage: str = "MQL",
        to_stage: str = "SQL",
        within_days: float = 90.0,
        test_fraction: float = 0.2,
        n_splits: int = 5,
        calibration: str = "auto",
        max_train_rows: int | None = 200_000,
        n_reasons: int = 3,
        n_jobs: int | None = None,
        random_state: Any = 0,
    ):
        self.target = target
        self.positive = positive
        self.id_column = id_column
        self.time_column = time_column
        self.model = model
        self.leakage = leakage
        self.leakage_auc = leakage_auc
        self.personal_data = personal_data
        self.from_stage = from_stage
        self.to_stage = to_stage
        self.within_days = within_days
        self.test_fraction = test_fraction
        self.n_splits = n_splits
        self.calibration = calibration
        self.max_train_rows = max_train_rows
        self.n_reasons = n_reasons
        self.n_jobs = n_jobs
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # missing values are a feature's own level
        tags.input_tags.string = True  # text columns are categories
        tags.input_tags.categorical = True
        tags.input_tags.sparse = False
        tags.classifier_tags.multi_class = False
        return tags

    # ------------------------------------------------------------------ inputs
    def _training(self, X, y, as_of) -> _Training:
        """The labelled rows, their target and context, from any of the three inputs."""
        from funnel_models.core.dataset import FunnelDataset

        if isinstance(X, FunnelDataset):
            if y is not None:
                raise FunnelConfigError(
                    "a FunnelDataset carries its own target (from_stage, to_stage, "
                    "within_days); fit(dataset) takes no y"
                )
            return self._training_from_dataset(X, as_of)
        if as_of is not None:
            raise FunnelConfigError("as_of applies to a FunnelDataset; a table has no snapshot")
        if y is None:
            if not isinstance(X, pd.DataFrame) or self.target is None:
                raise ValueError(
                    "LeadScorer requires y to be passed, but the target y is None; or pass "
                    "a DataFrame holding the target with target='<column>' (CLI: --target COL), "
                    "or a FunnelDataset"
                )
            return self._training_from_table(X)
        return self._training_from_xy(X, y)

    def _check_columns(self, frame: pd.DataFrame, **roles) -> None:
        for role, col in roles.items():
            if col is not None and col not in frame.columns:
                raise FunnelDataError(
                    f"{role} column {col!r} is not in the table{_did_you_mean(col, frame.columns)}"
                )

    def _training_from_dataset(self, dataset, as_of) -> _Training:
        table = snapshot_table(
            dataset,
            from_stage=self.from_stage,
            to_stage=self.to_stage,
            within_days=self.within_days,
            as_of=as_of,
        ).reset_index()
        known = table[TARGET].notna().to_numpy()
        rows = table.loc[known].reset_index(drop=True)
        attrs = table.attrs
        return _Training(
            X=rows.drop(columns=["lead_id", TIME, TARGET, "status"]),
            y=rows[TARGET].to_numpy(dtype=int),
            labels=np.array([0, 1]),
            times=_to_utc(rows[TIME]),
            n_open=int((table["status"] == "open").sum()),
            named=True,
            target=TARGET,
            id_column="lead_id",
            time_column=TIME,
            outcome_values=_outcome_words(dataset.funnel, attrs["to_stage"]),
            dataset_target={
                "from_stage": attrs["from_stage"],
                "to_stage": attrs["to_stage"],
                "within_days": attrs["within_days"],
            },
        )

    def _training_from_table(self, frame: pd.DataFrame) -> _Training:
        target = self.target
        self._check_columns(frame, target=target, id=self.id_column, time=self.time_column)
        y_all, labels = _binary_target(frame[target], self.positive, target)
        known = y_all.notna().to_numpy()
        rows = frame.loc[known].reset_index(drop=True)
        return self._table_training(
            rows, y_all[known].to_numpy(dtype=int), labels, n_open=int((~known).sum())
        )

    def _training_from_xy(self, X, y) -> _Training:
        frame = _as_frame(X)
        named = frame is X
        if named:
            self._check_columns(frame, id=self.id_column, time=self.time_column)
            if self.target is not None and self.target in frame.columns:
                raise FunnelConfigError(
                    f"X holds the target column {self.target!r} and y is given too; "
                    "pass one of them"
                )
        elif self.id_column or self.time_column:
            raise FunnelConfigError(
                "id_column and time_column name columns of a DataFrame; X has no column names"
            )
        y = _check_y(y, len(frame))
        values = pd.Series(y, index=frame.index)
        y01, labels = _binary_target(values, self.positive, "y", guess_greater=True)
        labels = np.asarray(labels, dtype=y.dtype)
        training = self._table_training(
            frame.reset_index(drop=True), y01.to_numpy(dtype=int), labels, n_open=0
        )
        training.named, training.target = named, None  # the target is y, not a column
        return training

    def _table_training(self, rows, y, labels, *, n_open) -> _Training:
        """A flat table's labelled rows: candidate features are every other column."""
        roles = [c for c in (self.target, self.id_column, self.time_column) if c]
        words = {str(v) for v in labels if str(v).strip().casefold() not in _BOOLEAN_WORDS}
        return _Training(
            X=rows.drop(columns=[c for c in roles if c in rows.columns]),
            y=y,
            labels=labels,
            times=_to_utc(rows[self.time_column]) if self.time_column else None,
            n_open=n_open,
            named=True,
            target=self.target,
            id_column=self.id_column,
            time_column=self.time_column,
            outcome_values=words | _outcome_words(Funnel.default(), None),
        )

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, *, as_of=None) -> LeadScorer:
        """Fit on ``(X, y)``, a table holding ``target``, or a :class:`FunnelDataset`.

        Parameters
        ----------
        X : array-like, DataFrame or FunnelDataset
            Lead attributes (one row per lead), or a dataset.
        y : array-like, optional
            The target of each row of ``X`` (two values). Leave out for a table
            holding its ``target`` column, or for a dataset.
        as_of : date-like, optional
            The dataset's snapshot (default: its latest timestamp).

        Returns
        -------
        self
        """
        from threadpoolctl import threadpool_limits

        self._start_fit()
        training = self._training(X, y, as_of)
        with threadpool_limits(limits=self._threads(len(training.y))):
            self._fit_training(training)
        return self

    def _threads(self, n_rows: int) -> int | None:
        if self.n_jobs is not None:
            return int(self.n_jobs)
        return 1 if n_rows < 100_000 else None

    def _screen(self, t: _Training, kinds: dict[str, str], personal: pd.DataFrame, seed: int):
        """The leakage screen, and what both screens leave out (feature -> kind, reason)."""
        leakage = find_leakage(
            t.X[list(kinds)],
            t.y,
            auc_threshold=self.leakage_auc,
            times=t.times,
            outcome_values=t.outcome_values,
            seed=seed,
        )
        out: dict[str, tuple[str, str]] = {}
        if self.personal_data == "exclude":
            for col in personal.index[personal["personal"]]:
                out[col] = ("personal data", personal.loc[col, "reason"])
        if self.leakage == "exclude":
            for col in leakage.index[leakage["flagged"]]:
                out.setdefault(col, ("leakage", leakage.loc[col, "reason"]))
        for kind, warning, option in (
            ("personal data", PersonalDataWarning, "personal_data='keep' (CLI: --keep-personal)"),
            ("leakage", LeakageWarning, "leakage='keep' (CLI: --keep-leaky)"),
        ):
            cols = [c for c, (k, _) in out.items() if k == kind]
            if cols:
                warnings.warn(
                    f"left out {len(cols)} feature(s) that look like {kind}: "
                    + "; ".join(f"{c} ({out[c][1]})" for c in cols)
                    + f". Pass {option} to use them anyway.",
                    warning,
                    stacklevel=4,
                )
        return leakage, out

    def _fit_training(self, t: _Training) -> None:
        seed = self._fit_seed()
        self.n_features_in_ = t.X.shape[1]
        if t.named:
            self.feature_names_in_ = np.asarray(t.X.columns, dtype=object)
        if t.X.shape[1] == 0:
            raise ValueError(f"0 feature(s) (shape={t.X.shape}) while a minimum of 1 is required.")
        if np.unique(t.y).size < 2:
            raise FunnelDataError(
                f"the target has only one class among the {t.y.size:,} labelled rows; "
                "a scorer needs both converted and not-converted leads"
            )
        # personal data first: a column of phone numbers is personal before it is an identifier
        personal = find_personal_data(t.X)
        private = (
            set(personal.index[personal["personal"]]) if self.personal_data == "exclude" else set()
        )
        kinds, dropped = _feature_kinds(
            t.X[[c for c in t.X.columns if c not in private]], t.time_column
        )
        if not kinds and not private:
            shown = "; ".join(f"{c}: {r}" for c, r in list(dropped.items())[:4])
            raise FunnelDataError(
                f"no usable feature columns besides the target {t.target or 'y'!r}"
                + (f" ({shown})" if shown else "")
                + "; add lead attributes such as source, industry or company size"
            )
        leakage, left_out = self._screen(t, kinds, personal, seed)
        use = [c for c in kinds if c not in left_out]
        if not use:
            raise FunnelDataError(
                "every feature was left out ("
                + "; ".join(f"{c}: {k}" for c, (k, _) in left_out.items())
                + "); check them, or pass leakage='keep' / personal_data='keep' "
                "(CLI: --keep-leaky / --keep-personal)"
            )
        X = _design(t.X, kinds, t.times)
        y = t.y
        use_kinds = {c: kinds[c] for c in use}
        leaky = [c for c, (k, _) in left_out.items() if k == "leakage"]
        # the leaky comparison keeps every feature but the personal ones
        with_leaky = {
            c: k for c, k in kinds.items() if left_out.get(c, ("",))[0] != "personal data"
        }
        validated = self._validate(X, y, t.times, use_kinds, with_leaky if leaky else None, seed)

        # the final model: all labelled rows (latest slice for calibration)
        order = np.argsort(t.times.to_numpy(), kind="stable") if t.times is not None else None
        cal_all = _calibration_mask(y.size, y, order, 0.15, seed)
        self.model_ = _fit_calibrated(
            validated["chosen"],
            use_kinds,
            X[use],
            y,
            cal_all,
            self.calibration,
            seed,
            self.max_train_rows,
        )
        ref = X[use].sample(min(300, len(X)), random_state=seed)
        self.reasons_ = _reason_table(self.model_, ref, use_kinds)

        self.classes_ = t.labels
        self.chosen_model_ = validated["chosen"]
        self.summary_ = validated["summary"]
        self.validation_ = validated["text"]
        self.calibration_ = validated["calibration"]
        self.importance_ = validated["importance"]
        self.features_ = use
        self.feature_kinds_ = use_kinds
        excluded = {c: ("unusable", r) for c, r in dropped.items()} | left_out
        self.excluded_ = pd.DataFrame(
            {
                "kind": [k for k, _ in excluded.values()],
                "reason": [r for _, r in excluded.values()],
            },
            index=pd.Index(list(excluded), name="feature"),
        )
        self.leakage_ = leakage
        self.personal_data_ = personal
        self.target_ = t.target
        self.id_column_ = t.id_column
        self.time_column_ = t.time_column
        self.n_leads_ = int(y.size)
        self.n_open_ = t.n_open
        self.converted_share_ = float(y.mean())
        self.dataset_target_ = t.dataset_target

    def _fit_seed(self) -> int:
        if isinstance(self.random_state, Integral):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _validate(self, X, y, times, use_kinds, leaky_kinds, seed) -> dict:
        """Validation metrics of both candidates, the chosen one, its calibration and importance."""
        from sklearn.calibration import calibration_curve
        from sklearn.model_selection import StratifiedKFold

        use = list(use_kinds)
        candidates = ["hgb", "logistic"] if self.model == "auto" else [self.model]
        method, cap = self.calibration, self.max_train_rows

        def fit_one(kind, kinds, rows, cal_order, share):
            ytr = y[rows]
            cal = _calibration_mask(rows.size, ytr, cal_order, share, seed)
            Xtr = X.iloc[rows][list(kinds)].reset_index(drop=True)
            return _fit_calibrated(kind, kinds, Xtr, ytr, cal, method, seed, cap)

        if times is not None:
            order = np.argsort(times.to_numpy(), kind="stable")
            n_test = max(int(round(self.test_fraction * y.size)), 1)
            splits = [(order[:-n_test], order[-n_test:])]
            if np.unique(y[splits[0][1]]).size < 2 or np.unique(y[splits[0][0]]).size < 2:
                raise FunnelDataError(
                    f"the latest {n_test:,} rows (the time-ordered hold-out) hold only one class; "
                    "use more data, a larger test_fraction, or no time column"
                )
            first, last = times.iloc[splits[0][1]].min(), times.iloc[splits[0][1]].max()
            text = (
                f"time-ordered hold-out: trained on the {y.size - n_test:,} earliest rows, tested "
                f"on the {n_test:,} latest ({first:%Y-%m-%d} to {last:%Y-%m-%d})"
            )
            cal_order, share = np.arange(y.size - n_test), 0.15  # train rows are time-sorted
        else:
            k = int(min(self.n_splits, np.bincount(y).min()))
            if k < 2:
                chosen = "logistic" if self.model == "auto" else self.model
                return {
                    "chosen": chosen,
                    "summary": pd.DataFrame(
                        columns=[*_METRICS, "chosen"], index=pd.Index([], name="model")
                    ),
                    "text": (
                        f"not validated: the smaller class has {np.bincount(y).min()} row(s), "
                        "cross-validation needs at least 2"
                    ),
                    "calibration": pd.DataFrame(
                        {"mean_predicted": [], "observed": []}, index=pd.Index([], name="bin")
                    ),
                    "importance": pd.DataFrame(
                        {"importance": np.nan, "std": np.nan}, index=pd.Index(use, name="feature")
                    ),
                }
            folds = StratifiedKFold(k, shuffle=True, random_state=seed)
            splits = list(folds.split(np.zeros(y.size), y))
            text = f"stratified {k}-fold cross-validation on {y.size:,} rows"
            cal_order, share = None, 0.2

        def predictions(kind, kinds):
            p = np.full(y.size, np.nan)
            for tr, te in splits:
                m = fit_one(kind, kinds, tr, cal_order, share)
                p[te] = m.predict_proba(X.iloc[te][list(kinds)])[:, 1]
            return m, p  # the last split's model, for permutation importance

        evaluated = np.sort(np.concatenate([te for _, te in splits]))
        models, preds = {}, {}
        for kind in candidates:
            models[kind], preds[kind] = predictions(kind, use_kinds)
        rows = {kind: metrics(y[evaluated], preds[kind][evaluated]) for kind in candidates}
        chosen = (
            self.model
            if self.model != "auto"
            else max(candidates, key=lambda c: rows[c]["roc_auc"])
        )
        if leaky_kinds is not None:  # the score the leaky features would give, for the report
            _, p_leaky = predictions(chosen, leaky_kinds)
            rows[f"{chosen} with leaky features"] = metrics(y[evaluated], p_leaky[evaluated])
        summary = pd.DataFrame.from_dict(rows, orient="index")
        summary.index.name = "model"
        summary["chosen"] = summary.index == chosen

        prob, obs = calibration_curve(
            y[evaluated], preds[chosen][evaluated], n_bins=10, strategy="quantile"
        )
        calibration = pd.DataFrame(
            {"mean_predicted": prob, "observed": obs},
            index=pd.RangeIndex(1, len(prob) + 1, name="bin"),
        )
        return {
            "chosen": chosen,
            "summary": summary,
            "text": text,
            "calibration": calibration,
            "importance": _importance(models[chosen], X[use], y, splits[-1][1], seed),
        }

    # ------------------------------------------------------------------ use
    def report(self) -> dict[str, Any]:
        """Everything a reader needs, JSON-ready: metrics, excluded features, importance, calibration."""
        self._check_fitted()

        def clean(v):
            return None if isinstance(v, float) and not np.isfinite(v) else v

        def excluded(kind):
            return [f for f, k in self.excluded_["kind"].items() if k == kind]

        return {
            "target": self.target_,
            "positive": str(self.classes_[1]),
            "model": self.chosen_model_,
            "validation": self.validation_,
            "n_leads": self.n_leads_,
            "n_open": self.n_open_,
            "converted_share": self.converted_share_,
            "metrics": {
                m: {k: clean(v.item() if hasattr(v, "item") else v) for k, v in row.items()}
                for m, row in self.summary_.to_dict(orient="index").items()
            },
            "excluded_features": [
                {"feature": f, "kind": k, "reason": r}
                for f, k, r in self.excluded_[["kind", "reason"]].itertuples()
            ],
            "leakage_features": excluded("leakage"),
            "personal_data_features": excluded("personal data"),
            "features": list(self.features_),
            "importance": {f: clean(float(v)) for f, v in self.importance_["importance"].items()},
            "calibration": self.calibration_.to_dict(orient="list"),
        }

    def _rows(self, X) -> pd.DataFrame:
        """The rows to predict, as a DataFrame the model's design reads."""
        from funnel_models.core.dataset import FunnelDataset

        if isinstance(X, FunnelDataset):
            if self.dataset_target_ is None:
                raise FunnelConfigError(
                    "this scorer was fitted on a table; give it a table with its columns"
                )
            return snapshot_table(X, **self.dataset_target_).reset_index()
        names = getattr(self, "feature_names_in_", None)
        if names is not None and isinstance(X, pd.DataFrame):
            if len(X) and not any(c in X.columns for c in self.features_):
                raise FunnelDataError(
                    "none of the model's features are in this table ("
                    + ", ".join(self.features_[:6])
                    + ")"
                )
            return X  # columns by name; a missing one counts as empty
        frame = _as_frame(np.asarray(X) if isinstance(X, pd.DataFrame) else X)
        if frame.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {frame.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        frame.columns = list(names) if names is not None else frame.columns
        return frame

    def _design_for(self, frame: pd.DataFrame) -> pd.DataFrame:
        times = _to_utc(frame[self.time_column_]) if self.time_column_ in frame else None
        if times is None and any(k == "datetime" for k in self.feature_kinds_.values()):
            times = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
        return _design(frame, self.feature_kinds_, times)[self.features_]

    def _proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self._proba_of_design(self._design_for(frame))

    def _proba_of_design(self, X: pd.DataFrame) -> np.ndarray:
        from threadpoolctl import threadpool_limits

        if not len(X):
            return np.empty((0, 2))
        with threadpool_limits(limits=self._threads(len(X))):
            return self.model_.predict_proba(X)

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated probabilities, shape (n, 2): columns follow ``classes_``, so ``[:, 1]`` is P(converted).

        ``X`` is an array with the columns seen by ``fit``, a DataFrame (columns
        by name: extra ones are ignored, a missing one counts as empty, unseen
        categories add nothing), or a :class:`FunnelDataset` (every lead that
        entered ``from_stage``, at its latest timestamp).
        """
        self._check_fitted()
        return self._proba(self._rows(X))

    def predict(self, X) -> np.ndarray:
        """The more likely label of each row (``classes_[1]`` when P(converted) > 0.5)."""
        proba = self.predict_proba(X)
        return self.classes_[(proba[:, 1] > proba[:, 0]).astype(int)]

    def score(self, X, y=None, sample_weight=None) -> float:
        """ROC AUC of the scores on ``(X, y)``: how well the ranking puts converters first.

        The metric the model is chosen by (0.5 = chance, 1 = perfect). Without
        ``y``, ``X`` is a table holding the ``target`` column the model was fitted
        with (its labelled rows), or a :class:`FunnelDataset`. For accuracy, use
        ``sklearn.metrics.accuracy_score(y, scorer.predict(X))``.
        """
        from sklearn.metrics import roc_auc_score

        self._check_fitted()
        if y is None:
            rows, y_true = self._labelled_rows(X)
        else:
            rows = self._rows(X)
            y = np.asarray(y).ravel()
            unknown = ~np.isin(y, self.classes_)
            if unknown.any():
                raise ValueError(
                    f"y has labels the model was not fitted on ({y[unknown][0]!r}); "
                    f"its classes are {self.classes_.tolist()}"
                )
            y_true = (y == self.classes_[1]).astype(int)
        return float(roc_auc_score(y_true, self._proba(rows)[:, 1], sample_weight=sample_weight))

    def _labelled_rows(self, X) -> tuple[pd.DataFrame, np.ndarray]:
        from funnel_models.core.dataset import FunnelDataset

        if isinstance(X, FunnelDataset):
            rows = self._rows(X)
            rows = rows[rows[TARGET].notna().to_numpy()]
            return rows, rows[TARGET].to_numpy(dtype=int)
        if not isinstance(X, pd.DataFrame) or self.target_ not in getattr(X, "columns", ()):
            raise ValueError(
                "score needs y, or a table holding the target column the model was fitted with"
            )
        t = X[self.target_]
        known = _filled(t)
        return X[known], (t[known].astype(str) == str(self.classes_[1])).to_numpy(dtype=int)

    def rank_open_leads(self, data, *, as_of=None, open_only: bool = True) -> pd.DataFrame:
        """Rank leads: probability, rank and top reasons, indexed by lead id.

        Parameters
        ----------
        data : DataFrame or FunnelDataset
            For a dataset, the leads still open at ``as_of`` (between
            ``from_stage`` and ``to_stage``); for a table, the rows whose target
            is empty (every row if the table has no target column, or with
            ``open_only=False``).
        as_of : date-like, optional
            The dataset's snapshot (default: its latest timestamp).
        open_only : bool

        Returns
        -------
        DataFrame indexed by the id column (or ``row``), best first: ``probability``,
        ``rank`` (1 = call first), ``reasons`` and ``reason_1`` ... Categories never
        seen at fit time are fine: they add nothing to the reasons.
        """
        from funnel_models.core.dataset import FunnelDataset

        self._check_fitted()
        if isinstance(data, FunnelDataset):
            if self.dataset_target_ is None:
                raise FunnelConfigError(
                    "this scorer was fitted on a flat table; rank a flat table with its columns"
                )
            table = snapshot_table(data, as_of=as_of, **self.dataset_target_)
            frame = (
                table[table["status"] == "open"].reset_index() if open_only else table.reset_index()
            )
            id_col = "lead_id"
        else:
            frame = self._rows(data)
            id_col = self.id_column_
            if open_only and self.target_ in frame.columns:
                frame = frame[~_filled(frame[self.target_])]
        X = self._design_for(frame)
        p = self._proba_of_design(X)[:, 1]
        ids = (
            frame[id_col].astype(str).to_numpy()
            if id_col and id_col in frame
            else np.arange(len(frame)).astype(str)
        )
        reasons = top_reasons(X, self.reasons_, n=self.n_reasons)
        out = pd.DataFrame({"probability": p}, index=pd.Index(ids, name=id_col or "row"))
        for c in reasons.columns:
            out[c] = reasons[c].to_numpy()
        out = out.sort_values("probability", ascending=False, kind="stable")
        out.insert(1, "rank", np.arange(1, len(out) + 1))
        return out

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Save with skops (no pickle): the fitted pipeline and the report."""
        from funnel_models.models._model_io import save_scorer

        self._check_fitted()
        return save_scorer(self, path, _FORMAT, _FORMAT_VERSION)

    @classmethod
    def load(cls, path: str | Path) -> LeadScorer:
        """Load a scorer saved by :meth:`save`; only our own, known types are trusted."""
        from funnel_models.models._model_io import load_scorer

        return load_scorer(cls, path, _FORMAT, _FORMAT_VERSION)

    def _fit_description(self) -> str:
        text = f"fitted on {self.n_leads_:,} leads, {self.n_open_:,} still open"
        if self.chosen_model_ in self.summary_.index:
            auc = self.summary_.loc[self.chosen_model_, "roc_auc"]
            return f"{text}; validation ROC AUC {auc:.3f} ({self.chosen_model_})"
        return f"{text}; {self.validation_} ({self.chosen_model_})"


def _importance(model, X: pd.DataFrame, y: np.ndarray, held_out: np.ndarray, seed: int):
    """Permutation importance (ROC AUC drop) of a validated model on its held-out rows."""
    from sklearn.inspection import permutation_importance

    rng = np.random.default_rng(seed)
    sample = held_out if held_out.size <= 5000 else np.sort(rng.choice(held_out, 5000, False))
    ys = y[sample]
    if np.unique(ys).size < 2:
        return pd.DataFrame(
            {"importance": np.nan, "std": np.nan}, index=pd.Index(X.columns, name="feature")
        )
    imp = permutation_importance(
        model, X.iloc[sample], ys, scoring="roc_auc", n_repeats=5, random_state=seed
    )
    return pd.DataFrame(
        {"importance": imp.importances_mean, "std": imp.importances_std},
        index=pd.Index(X.columns, name="feature"),
    ).sort_values("importance", ascending=False, kind="stable")
