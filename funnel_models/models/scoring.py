"""Lead scoring: which leads should sales call first?

:class:`LeadScorer` fits a calibrated classifier of "does this lead convert?"
either on a canonical :class:`~funnel_models.core.dataset.FunnelDataset` (the target is
"reaches ``to_stage`` within ``within_days`` of entering ``from_stage``", the
features are what was known when the lead entered ``from_stage``) or on a flat
lead table with a target column (exports without history, e.g. Salvirt).

It validates honestly (time-ordered hold-out when a date exists, else stratified
cross-validation), guards against leakage (:func:`find_leakage`), compares a
gradient-boosting model with a logistic-regression baseline, and explains each
score with reasons a sales rep can read.

Examples
--------
>>> import numpy as np, pandas as pd
>>> import funnel_models as fm
>>> rng = np.random.default_rng(0)
>>> leads = pd.DataFrame({"source": rng.choice(["fair", "web", "ads"], 600),
...                       "employees": rng.integers(5, 500, 600)})
>>> p = np.where(leads["source"] == "fair", 0.6, 0.15)
>>> leads["won"] = np.where(rng.random(600) < p, "yes", "no")
>>> scorer = fm.LeadScorer(target="won", random_state=0).fit(leads)
>>> bool(scorer.metrics_.loc[scorer.chosen_model_, "roc_auc"] > 0.6)
True
>>> scorer.importance_.index[0]
'source'
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from funnel_models._errors import FunnelConfigError, FunnelDataError, NotFittedError
from funnel_models.analysis._features import TARGET, TIME, snapshot_table
from funnel_models.models._leakage import LeakageWarning, find_leakage

__all__ = ["LeadScorer", "LeakageWarning", "find_leakage"]

_POSITIVE_WORDS = {"1", "true", "yes", "y", "won", "win", "converted", "closed won", "success"}
_NEGATIVE_WORDS = {"0", "false", "no", "n", "lost", "loss", "not converted", "closed lost", "fail"}
_FORMAT = "funnel_models.LeadScorer"
_FORMAT_VERSION = 1
_MODELS = ("auto", "hgb", "logistic")


# ----------------------------------------------------------------------------- inputs
def _binary_target(values: pd.Series, positive: Any, name: str) -> tuple[pd.Series, Any]:
    """0/1 (NA = unknown / still open) and the value counted as positive."""
    filled = values.dropna()
    if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
        filled = filled[filled.astype(str).str.strip() != ""]
    distinct = pd.unique(filled)
    if len(distinct) == 0:
        raise FunnelDataError(f"target column {name!r} is empty; nothing to learn from")
    if len(distinct) == 1:
        raise FunnelDataError(
            f"target {name!r} has only one value ({distinct[0]!r}) in {len(filled):,} rows; "
            "a scorer needs both converted and not-converted leads"
        )
    if positive is None:
        if len(distinct) > 2:
            shown = ", ".join(repr(v) for v in distinct[:5])
            raise FunnelDataError(
                f"target {name!r} has {len(distinct)} values ({shown}, ...); it must have two "
                "(converted or not). Map it to two values first"
            )
        words = {v: str(v).strip().casefold() for v in distinct}
        pos = [v for v, w in words.items() if w in _POSITIVE_WORDS]
        neg = [v for v, w in words.items() if w in _NEGATIVE_WORDS]
        if len(pos) == 1 and len(neg) == 1:
            positive = pos[0]
        else:
            raise FunnelConfigError(
                f"cannot tell which value of target {name!r} means converted "
                f"({distinct[0]!r} or {distinct[1]!r}); pass positive=... (CLI: --positive)"
            )
    elif positive not in set(distinct) and str(positive) not in {str(v) for v in distinct}:
        raise FunnelConfigError(
            f"positive value {positive!r} does not occur in target {name!r} "
            f"(values: {', '.join(repr(v) for v in distinct[:5])})"
        )
    known = values.notna()
    if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
        known &= values.astype(str).str.strip() != ""
    is_pos = values.astype(str) == str(positive)
    y = pd.Series(pd.NA, index=values.index, dtype="Int8")
    y[known] = is_pos[known].astype("int8")
    return y, positive


def _as_category_values(values: pd.Series) -> pd.Series:
    """Text categories as Python str objects with np.nan for missing (what sklearn wants)."""
    out = values.astype(object)
    missing = values.isna().to_numpy()
    out = out.map(str)
    out[missing] = np.nan
    return out


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
        if isinstance(v.dtype, pd.DatetimeTZDtype) or v.dtype.kind == "M":
            kinds[col] = "datetime"
        elif v.dtype.kind in "iuf" and not isinstance(v.dtype, pd.BooleanDtype):
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
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    if method == "auto":
        method = "isotonic" if len(y_cal) >= 1000 else "sigmoid"
    if method == "none" or np.unique(y_cal).size < 2:
        return model
    return CalibratedClassifierCV(FrozenEstimator(model), method=method).fit(X_cal, y_cal)


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
    """The latest ``share`` of rows in time order, or a stratified random share."""
    mask = np.zeros(n, bool)
    k = max(int(round(share * n)), 2)
    if order is not None:
        mask[order[-k:]] = True
        if np.unique(y[mask]).size < 2:  # fall back to random when the tail is one class
            order = None
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
class LeadScorer:
    """A calibrated lead-conversion score with an honest validation report.

    Parameters
    ----------
    target : str, optional
        Target column of a flat lead table (two values, e.g. Won / Lost; empty =
        still open). Not used for a :class:`FunnelDataset`, whose target is built
        from ``from_stage`` / ``to_stage`` / ``within_days``.
    positive : optional
        The target value that means converted; guessed for yes/no, won/lost,
        true/false, 1/0.
    id_column, time_column : str, optional
        Lead id and the date each row's features were known (for time-ordered
        validation). For a dataset: ``lead_id`` and the entry into ``from_stage``.
    model : {"auto", "hgb", "logistic"}
        Histogram gradient boosting, the logistic-regression baseline, or the one
        with the better validation ROC AUC (both are always reported).
    leakage : {"exclude", "keep"}
        Leave flagged features out (with a :class:`LeakageWarning`) or keep them.
    leakage_auc : float
        Single-column ROC AUC from which a feature counts as deciding the outcome alone.
    from_stage, to_stage, within_days
        The dataset target: reaches ``to_stage`` within ``within_days`` of entering
        ``from_stage``.
    test_fraction, n_splits
        Time-ordered hold-out share (latest rows), or folds of stratified CV.
    calibration : {"auto", "isotonic", "sigmoid", "none"}
        Calibration on a held-out slice (the latest rows when dates exist).
    max_train_rows : int
        Boosting and calibration are fitted on at most this many rows (a random
        sample); metrics use the whole hold-out.
    n_reasons : int
        Reasons listed per scored lead.
    n_jobs : int, optional
        Threads for boosting; default one thread below 100,000 rows (OpenMP threads
        on a busy machine cost far more than they save on small data), else all.
    random_state : int, optional
        The only source of randomness.

    Attributes
    ----------
    model_ : fitted, calibrated scikit-learn estimator (the chosen model)
    chosen_model_ : str
    features_ : list of str
    excluded_ : DataFrame indexed by feature, with ``reason``
    leakage_ : DataFrame indexed by feature (the guard's screen)
    metrics_ : DataFrame indexed by model (validation metrics)
    calibration_ : DataFrame (mean predicted vs observed, by decile)
    importance_ : DataFrame indexed by feature (permutation importance, ROC AUC drop)
    validation_ : str
    """

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
        from_stage: str = "MQL",
        to_stage: str = "SQL",
        within_days: float = 90.0,
        test_fraction: float = 0.2,
        n_splits: int = 5,
        calibration: str = "auto",
        max_train_rows: int = 200_000,
        n_reasons: int = 3,
        n_jobs: int | None = None,
        random_state: int | None = 0,
    ):
        self.target = target
        self.positive = positive
        self.id_column = id_column
        self.time_column = time_column
        self.model = model
        self.leakage = leakage
        self.leakage_auc = leakage_auc
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

    # ------------------------------------------------------------------ helpers
    def get_params(self) -> dict[str, Any]:
        import inspect

        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {k: getattr(self, k) for k in names}

    def _flat(self, data, as_of=None) -> tuple[pd.DataFrame, str, str | None, str | None]:
        """A flat table, target column, id column and time column for ``data``."""
        from funnel_models.core.dataset import FunnelDataset

        if isinstance(data, FunnelDataset):
            table = snapshot_table(
                data,
                from_stage=self.from_stage,
                to_stage=self.to_stage,
                within_days=self.within_days,
                as_of=as_of,
            )
            return table.reset_index(), TARGET, "lead_id", TIME
        if not isinstance(data, pd.DataFrame):
            raise FunnelDataError(
                f"LeadScorer needs a pandas DataFrame or a FunnelDataset, not {type(data).__name__}"
            )
        return data, self.target, self.id_column, self.time_column

    def _check_params(self) -> None:
        if self.model not in _MODELS:
            raise FunnelConfigError(
                f"model must be one of {', '.join(_MODELS)}, not {self.model!r}"
            )
        if self.leakage not in ("exclude", "keep"):
            raise FunnelConfigError(f"leakage must be 'exclude' or 'keep', not {self.leakage!r}")
        if self.calibration not in ("auto", "isotonic", "sigmoid", "none"):
            raise FunnelConfigError(
                f"calibration must be auto, isotonic, sigmoid or none, not {self.calibration!r}"
            )

    # ------------------------------------------------------------------ fit
    def fit(self, data, *, as_of=None) -> LeadScorer:
        """Fit on a flat lead table or a :class:`FunnelDataset` (at ``as_of``); returns self."""
        from threadpoolctl import threadpool_limits

        n = len(data.leads) if hasattr(data, "leads") else len(data)
        with threadpool_limits(limits=self._threads(n)):
            return self._fit(data, as_of=as_of)

    def _threads(self, n_rows: int) -> int | None:
        if self.n_jobs is not None:
            return int(self.n_jobs)
        return 1 if n_rows < 100_000 else None

    def _fit(self, data, *, as_of=None) -> LeadScorer:
        from sklearn.calibration import calibration_curve
        from sklearn.inspection import permutation_importance
        from sklearn.model_selection import StratifiedKFold

        self._check_params()
        for attr in list(vars(self)):
            if attr.endswith("_") and not attr.startswith("_"):
                delattr(self, attr)  # a refit forgets the last fit
        frame, target, id_col, time_col = self._flat(data, as_of)
        if target is None:
            raise FunnelConfigError("no target column: pass target='<column>' (CLI: --target COL)")
        for role, col in (("target", target), ("id", id_col), ("time", time_col)):
            if col is not None and col not in frame.columns:
                from funnel_models.core.funnel import _did_you_mean

                raise FunnelDataError(
                    f"{role} column {col!r} is not in the table{_did_you_mean(col, frame.columns)}"
                )
        y_all, positive = _binary_target(frame[target], self.positive, target)
        labelled = y_all.notna().to_numpy()
        n_open = (
            int((~labelled).sum())
            if "status" not in frame
            else int((frame["status"] == "open").sum())
        )
        data_cols = [c for c in frame.columns if c not in {target, id_col, time_col, "status"}]
        X_raw = frame.loc[labelled, data_cols]
        y = y_all[labelled].to_numpy(dtype=int)
        times = _to_utc(frame.loc[labelled, time_col]) if time_col else None
        kinds, dropped = _feature_kinds(X_raw, time_col)
        if not kinds:
            shown = "; ".join(f"{c}: {r}" for c, r in list(dropped.items())[:4])
            raise FunnelDataError(
                f"no usable feature columns besides the target {target!r}"
                + (f" ({shown})" if shown else "")
                + "; add lead attributes such as source, industry or company size"
            )
        if np.unique(y).size < 2:
            raise FunnelDataError(
                f"target {target!r} has only one class among the {y.size:,} labelled rows; "
                "a scorer needs both converted and not-converted leads"
            )
        X_raw = X_raw.reset_index(drop=True)
        if times is not None:
            times = times.reset_index(drop=True)
        X = _design(X_raw, kinds, times)

        # leakage guard
        raw_for_screen = X_raw[list(kinds)]
        screen = find_leakage(
            raw_for_screen, y, auc_threshold=self.leakage_auc, times=times, seed=self._seed()
        )
        flagged = list(screen.index[screen["flagged"]])
        excluded = {c: r for c, r in dropped.items()}
        if flagged and self.leakage == "exclude":
            for c in flagged:
                excluded[c] = f"likely leakage: {screen.loc[c, 'reason']}"
            warnings.warn(
                f"left out {len(flagged)} feature(s) that look like leakage: "
                + "; ".join(f"{c} ({screen.loc[c, 'reason']})" for c in flagged)
                + ". Pass leakage='keep' (CLI: --keep-leaky) to use them anyway.",
                LeakageWarning,
                stacklevel=3,
            )
        use = [c for c in kinds if c not in flagged or self.leakage == "keep"]
        if not use:
            raise FunnelDataError(
                "every feature was flagged as leakage ("
                + ", ".join(flagged)
                + "); check them, or pass leakage='keep' (CLI: --keep-leaky)"
            )
        use_kinds = {c: kinds[c] for c in use}

        # validation
        order = np.argsort(times.to_numpy(), kind="stable") if times is not None else None
        candidates = ["hgb", "logistic"]
        preds: dict[str, np.ndarray] = {}
        fitted_val: dict[str, Any] = {}
        method = self.calibration
        if order is not None:
            n_test = max(int(round(self.test_fraction * y.size)), 1)
            test = order[-n_test:]
            train = order[:-n_test]
            if np.unique(y[test]).size < 2 or np.unique(y[train]).size < 2:
                raise FunnelDataError(
                    f"the latest {n_test:,} rows (the time-ordered hold-out) hold only one class; "
                    "use more data, a larger test_fraction, or no time column"
                )
            first, last = times.iloc[test].min(), times.iloc[test].max()
            self.validation_ = (
                f"time-ordered hold-out: trained on the {train.size:,} earliest rows, tested on the "
                f"{n_test:,} latest ({first:%Y-%m-%d} to {last:%Y-%m-%d})"
            )
            Xtr, ytr = X.iloc[train].reset_index(drop=True), y[train]
            cal = _calibration_mask(ytr.size, ytr, np.arange(ytr.size), 0.15, self._seed())
            for kind in candidates:
                m = _fit_calibrated(
                    kind, use_kinds, Xtr[use], ytr, cal, method, self._seed(), self.max_train_rows
                )
                fitted_val[kind] = m
                preds[kind] = m.predict_proba(X.iloc[test][use])[:, 1]
            y_eval = y[test]
        else:
            k = int(min(self.n_splits, np.bincount(y).min()))
            if k < 2:
                raise FunnelDataError(
                    f"target {target!r} has only {np.bincount(y).min()} row(s) in its smaller class; "
                    "cross-validation needs at least 2"
                )
            folds = StratifiedKFold(k, shuffle=True, random_state=self._seed())
            self.validation_ = f"stratified {k}-fold cross-validation on {y.size:,} rows"
            for kind in candidates:
                preds[kind] = np.empty(y.size)
            for tr, te in folds.split(np.zeros(y.size), y):
                Xtr, ytr = X.iloc[tr].reset_index(drop=True), y[tr]
                cal = _calibration_mask(ytr.size, ytr, None, 0.2, self._seed())
                for kind in candidates:
                    m = _fit_calibrated(
                        kind,
                        use_kinds,
                        Xtr[use],
                        ytr,
                        cal,
                        method,
                        self._seed(),
                        self.max_train_rows,
                    )
                    fitted_val[kind] = m
                    preds[kind][te] = m.predict_proba(X.iloc[te][use])[:, 1]
            y_eval = y
            test = te  # permutation importance: the last fold's model on its own hold-out
        rows = {kind: metrics(y_eval, preds[kind]) for kind in candidates}
        chosen = (
            self.model
            if self.model != "auto"
            else max(candidates, key=lambda c: rows[c]["roc_auc"])
        )
        self.chosen_model_ = chosen

        if (
            flagged and self.leakage == "exclude"
        ):  # the score with the leaky features, for the report
            lk = dict(kinds)
            if order is not None:
                m = _fit_calibrated(
                    chosen, lk, Xtr[list(lk)], ytr, cal, method, self._seed(), self.max_train_rows
                )
                p_leaky = m.predict_proba(X.iloc[test][list(lk)])[:, 1]
            else:
                p_leaky = np.empty(y.size)
                for tr, te in folds.split(np.zeros(y.size), y):
                    Xtr2, ytr2 = X.iloc[tr].reset_index(drop=True), y[tr]
                    cal2 = _calibration_mask(ytr2.size, ytr2, None, 0.2, self._seed())
                    m = _fit_calibrated(
                        chosen,
                        lk,
                        Xtr2[list(lk)],
                        ytr2,
                        cal2,
                        method,
                        self._seed(),
                        self.max_train_rows,
                    )
                    p_leaky[te] = m.predict_proba(X.iloc[te][list(lk)])[:, 1]
            rows[f"{chosen} with leaky features"] = metrics(y_eval, p_leaky)
        met = pd.DataFrame.from_dict(rows, orient="index")
        met.index.name = "model"
        met["chosen"] = met.index == chosen
        self.metrics_ = met

        prob, obs = calibration_curve(y_eval, preds[chosen], n_bins=10, strategy="quantile")
        self.calibration_ = pd.DataFrame(
            {"mean_predicted": prob, "observed": obs},
            index=pd.RangeIndex(1, len(prob) + 1, name="bin"),
        )
        # permutation importance of the validated model on held-out rows
        rng = np.random.default_rng(self._seed())
        sample = test if test.size <= 5000 else np.sort(rng.choice(test, 5000, replace=False))
        ys = y[sample]
        if np.unique(ys).size == 2:
            imp = permutation_importance(
                fitted_val[chosen],
                X.iloc[sample][use],
                ys,
                scoring="roc_auc",
                n_repeats=5,
                random_state=self._seed(),
            )
            self.importance_ = pd.DataFrame(
                {"importance": imp.importances_mean, "std": imp.importances_std},
                index=pd.Index(use, name="feature"),
            ).sort_values("importance", ascending=False, kind="stable")
        else:
            self.importance_ = pd.DataFrame(
                {"importance": np.nan, "std": np.nan}, index=pd.Index(use, name="feature")
            )

        # the final model: all labelled rows (latest slice for calibration)
        cal_all = _calibration_mask(
            y.size, y, order if order is not None else None, 0.15, self._seed()
        )
        self.model_ = _fit_calibrated(
            chosen, use_kinds, X[use], y, cal_all, method, self._seed(), self.max_train_rows
        )
        ref = X[use].sample(min(300, len(X)), random_state=self._seed())
        self.reasons_ = _reason_table(self.model_, ref, use_kinds)

        self.features_ = use
        self.feature_kinds_ = use_kinds
        self.excluded_ = pd.DataFrame(
            {"reason": list(excluded.values())}, index=pd.Index(list(excluded), name="feature")
        )
        self.leakage_ = screen
        self.target_ = target
        self.positive_ = positive
        self.id_column_ = id_col
        self.time_column_ = time_col
        self.n_leads_ = int(y.size)
        self.n_open_ = n_open
        self.converted_share_ = float(y.mean())
        self.dataset_target_ = (
            None
            if target != TARGET or time_col != TIME
            else {
                "from_stage": self.from_stage,
                "to_stage": self.to_stage,
                "within_days": self.within_days,
            }
        )
        return self

    def _seed(self) -> int:
        return 0 if self.random_state is None else int(self.random_state)

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError("this LeadScorer is not fitted yet; call .fit(data) first")

    # ------------------------------------------------------------------ use
    @property
    def summary(self) -> pd.DataFrame:
        """Validation metrics by model (the chosen one flagged)."""
        self._check_fitted()
        return self.metrics_

    def report(self) -> dict[str, Any]:
        """Everything a reader needs, JSON-ready: metrics, excluded features, importance, calibration."""
        self._check_fitted()

        def clean(v):
            return None if isinstance(v, float) and not np.isfinite(v) else v

        return {
            "target": self.target_,
            "positive": str(self.positive_),
            "model": self.chosen_model_,
            "validation": self.validation_,
            "n_leads": self.n_leads_,
            "n_open": self.n_open_,
            "converted_share": self.converted_share_,
            "metrics": {
                m: {k: clean(v.item() if hasattr(v, "item") else v) for k, v in row.items()}
                for m, row in self.metrics_.to_dict(orient="index").items()
            },
            "excluded_features": [
                {"feature": f, "reason": r} for f, r in self.excluded_["reason"].items()
            ],
            "leakage_features": [
                f for f, r in self.excluded_["reason"].items() if r.startswith("likely leakage")
            ],
            "features": list(self.features_),
            "importance": {f: clean(float(v)) for f, v in self.importance_["importance"].items()},
            "calibration": self.calibration_.to_dict(orient="list"),
        }

    def _design_for(self, frame: pd.DataFrame) -> pd.DataFrame:
        times = _to_utc(frame[self.time_column_]) if self.time_column_ in frame else None
        if times is None and any(k == "datetime" for k in self.feature_kinds_.values()):
            times = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
        return _design(frame, self.feature_kinds_, times)[self.features_]

    def predict_proba(self, data) -> np.ndarray:
        """Calibrated P(converted) for every row, as an (n, 2) array like scikit-learn."""
        from threadpoolctl import threadpool_limits

        self._check_fitted()
        frame, *_ = self._flat(data) if not isinstance(data, pd.DataFrame) else (data,)
        with threadpool_limits(limits=self._threads(len(frame))):
            return self.model_.predict_proba(self._design_for(frame))

    def score(self, data, *, as_of=None, open_only: bool = True) -> pd.DataFrame:
        """Rank leads: probability, rank and top reasons, indexed by lead id.

        For a dataset, the leads still open at ``as_of``; for a flat table, the rows
        whose target is empty (all rows if there is no target column or
        ``open_only=False``). Categories never seen at fit time are fine: they
        add nothing to the score's reasons.
        """
        from funnel_models.core.dataset import FunnelDataset

        self._check_fitted()
        if isinstance(data, FunnelDataset):
            if self.dataset_target_ is None:
                raise FunnelConfigError(
                    "this scorer was fitted on a flat table; score a flat table with its columns"
                )
            table = snapshot_table(data, as_of=as_of, **self.dataset_target_)
            frame = (
                table[table["status"] == "open"].reset_index() if open_only else table.reset_index()
            )
            id_col = "lead_id"
        else:
            frame = data
            id_col = self.id_column_
            if open_only and self.target_ in frame.columns:
                t = frame[self.target_]
                empty = t.isna()
                if t.dtype == object or isinstance(t.dtype, pd.StringDtype):
                    empty |= t.astype(str).str.strip() == ""
                frame = frame[empty.to_numpy()]
        missing = [c for c in self.features_ if c not in frame.columns]
        if len(missing) == len(self.features_) and len(frame):
            raise FunnelDataError(
                "none of the model's features are in this table ("
                + ", ".join(self.features_[:6])
                + ")"
            )
        from threadpoolctl import threadpool_limits

        X = self._design_for(frame)
        with threadpool_limits(limits=self._threads(len(X))):
            p = self.model_.predict_proba(X)[:, 1] if len(X) else np.empty(0)
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

    def __repr__(self) -> str:
        if not hasattr(self, "model_"):
            return "LeadScorer(not fitted)"
        auc = self.metrics_.loc[self.chosen_model_, "roc_auc"]
        return (
            f"<LeadScorer ({self.chosen_model_}) fitted on {self.n_leads_:,} leads, "
            f"{self.n_open_:,} still open; validation ROC AUC {auc:.3f}>"
        )
