"""Saving and loading fitted models with skops: no pickle is ever read from a file.

A saved scorer is a skops file holding a plain dict: a format marker, the
parameters, the fitted scikit-learn estimator and the report tables as lists.
Loading checks the file's types against an explicit allow-list first, so a
file that is not one of ours fails with a clear message instead of running code.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from funnel_models._errors import FunnelDataError

# The only non-default types a scorer file may contain (checked before loading).
TRUSTED_TYPES = [
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.frozen._frozen.FrozenEstimator",
    "sklearn.isotonic.IsotonicRegression",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.pipeline.Pipeline",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.impute._base.MissingIndicator",
    "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.preprocessing._encoders.OrdinalEncoder",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.Interval",
    "sklearn.utils._bunch.Bunch",
    "sklearn.compose._column_transformer._RemainderColsList",
    "builtins.slice",
    "numpy.float64",
    "numpy.int64",
    "numpy.dtype",
    "numpy.ndarray",
    "builtins.object",
    # HistGradientBoosting keeps functools.partial(check_array, ...) for its input checks
    "functools.partial",
    "sklearn.utils.validation.check_array",
]


def _frame_to_dict(frame: pd.DataFrame) -> dict:
    return {
        "index_name": frame.index.name,
        "index": [str(i) for i in frame.index],
        "columns": {c: [_plain(v) for v in frame[c].tolist()] for c in frame.columns},
    }


def _dict_to_frame(d: dict) -> pd.DataFrame:
    frame = pd.DataFrame(d["columns"], index=pd.Index(d["index"], name=d["index_name"]))
    return frame


def _plain(v):
    if isinstance(v, (np.floating, np.integer, np.bool_)):
        return v.item()
    if v is pd.NA:
        return None
    return v


def save_scorer(scorer, path, fmt: str, version: int) -> Path:
    import skops.io as sio

    path = Path(path)
    names = getattr(scorer, "feature_names_in_", None)
    payload = {
        "format": fmt,
        "version": version,
        "params": {k: _plain(v) for k, v in scorer.get_params(deep=False).items()},
        "model": scorer.model_,
        "classes": [_plain(v) for v in scorer.classes_.tolist()],
        "n_features_in": int(scorer.n_features_in_),
        "feature_names_in": None if names is None else [str(c) for c in names],
        "chosen_model": scorer.chosen_model_,
        "features": list(scorer.features_),
        "feature_kinds": dict(scorer.feature_kinds_),
        "reasons": scorer.reasons_,
        "summary": _frame_to_dict(scorer.summary_),
        "calibration": _frame_to_dict(scorer.calibration_),
        "importance": _frame_to_dict(scorer.importance_),
        "excluded": _frame_to_dict(scorer.excluded_),
        "leakage": _frame_to_dict(scorer.leakage_),
        "personal_data": _frame_to_dict(scorer.personal_data_),
        "validation": scorer.validation_,
        "target": scorer.target_,
        "id_column": scorer.id_column_,
        "time_column": scorer.time_column_,
        "n_leads": scorer.n_leads_,
        "n_open": scorer.n_open_,
        "converted_share": scorer.converted_share_,
        "dataset_target": scorer.dataset_target_,
    }
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    sio.dump(payload, path)
    return path


def load_scorer(cls, path, fmt: str, version: int):
    import skops.io as sio

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(2, "No such file or directory", str(path))
    hint = "; fit one with `funnel-models score fit ... --out MODEL` (or LeadScorer.save)"
    if not zipfile.is_zipfile(path):
        raise FunnelDataError(f"{path}: not a funnel_models model file (not a skops archive){hint}")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # a zip that is not a skops file
        raise FunnelDataError(f"{path}: not a funnel_models model file ({exc}){hint}") from None
    unknown = [t for t in untrusted if t not in TRUSTED_TYPES]
    if unknown:
        raise FunnelDataError(
            f"{path}: not a funnel_models model file; it holds types we do not trust "
            f"({', '.join(unknown[:3])}){hint}"
        )
    try:
        payload = sio.load(path, trusted=[t for t in untrusted if t in TRUSTED_TYPES])
    except Exception as exc:
        raise FunnelDataError(f"{path}: cannot read this model file ({exc}){hint}") from None
    if not isinstance(payload, dict) or payload.get("format") != fmt:
        raise FunnelDataError(f"{path}: a skops file, but not a funnel_models lead scorer{hint}")
    if payload.get("version") != version:
        raise FunnelDataError(
            f"{path}: lead scorer format version {payload.get('version')}, this funnel_models "
            f"reads version {version}; refit the model with this version"
        )
    try:
        scorer = cls(**payload["params"])
        scorer.model_ = payload["model"]
        scorer.classes_ = np.asarray(payload["classes"])
        scorer.n_features_in_ = int(payload["n_features_in"])
        if payload["feature_names_in"] is not None:
            scorer.feature_names_in_ = np.asarray(payload["feature_names_in"], dtype=object)
        scorer.chosen_model_ = payload["chosen_model"]
        scorer.features_ = list(payload["features"])
        scorer.feature_kinds_ = dict(payload["feature_kinds"])
        scorer.reasons_ = payload["reasons"]
        scorer.summary_ = _dict_to_frame(payload["summary"])
        scorer.calibration_ = _dict_to_frame(payload["calibration"])
        scorer.importance_ = _dict_to_frame(payload["importance"])
        scorer.excluded_ = _dict_to_frame(payload["excluded"])
        scorer.leakage_ = _dict_to_frame(payload["leakage"])
        scorer.personal_data_ = _dict_to_frame(payload["personal_data"])
        scorer.validation_ = payload["validation"]
        scorer.target_ = payload["target"]
        scorer.id_column_ = payload["id_column"]
        scorer.time_column_ = payload["time_column"]
        scorer.n_leads_ = int(payload["n_leads"])
        scorer.n_open_ = int(payload["n_open"])
        scorer.converted_share_ = float(payload["converted_share"])
        scorer.dataset_target_ = payload["dataset_target"]
    except (KeyError, TypeError, ValueError) as exc:
        raise FunnelDataError(
            f"{path}: a funnel_models lead scorer file with missing or wrong fields ({exc}); "
            "refit the model"
        ) from None
    return scorer
