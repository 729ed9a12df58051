"""Every model is a scikit-learn estimator: clone, params, fitted check, refit, repr, no data kept.

LeadScorer on a flat table also runs scikit-learn's own estimator checks and works inside
cross_val_score and GridSearchCV; the expected values come from scikit-learn's metrics and a
plain loop over the same folds, not from the scorer.
"""

from __future__ import annotations

import pickle
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.utils.estimator_checks import check_estimator
from sklearn.utils.validation import check_is_fitted

import funnel_models as fm


@pytest.fixture(scope="module")
def dataset():
    from funnel_models.synthetic import generate_tables

    tables, _ = generate_tables(3000, seed=3)
    # distinctive ids, so a test can look for them in a pickled model
    for name in ("leads", "stage_events", "activities", "opportunities"):
        t = tables[name]
        if "lead_id" in t:
            t["lead_id"] = "secret-" + t["lead_id"].astype(str)
    return fm.FunnelDataset.from_frames(**tables)


def _flat(n=600, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "source": rng.choice(["fair", "web", "ads"], n),
            "size": rng.choice(["SMB", "Mid", "Ent"], n),
            "employees": rng.integers(5, 500, n).astype(float),
        }
    )
    y = np.where(rng.random(n) < np.where(X["source"] == "fair", 0.6, 0.15), "won", "lost")
    return X, y


# (a model with small settings, how to fit it)
def _models(dataset):
    X, y = _flat()
    return {
        "LeadScorer": (fm.LeadScorer(model="logistic", n_splits=3), lambda m: m.fit(X, y)),
        "FunnelMarkov": (fm.FunnelMarkov(n_bootstrap=5), lambda m: m.fit(dataset)),
        "ResponseTimeEffect": (
            fm.ResponseTimeEffect(n_bootstrap=5, confounders=["source"]),
            lambda m: m.fit(dataset),
        ),
        "TimeToConvert": (fm.TimeToConvert(by="industry"), lambda m: m.fit(dataset)),
    }


NAMES = ["LeadScorer", "FunnelMarkov", "ResponseTimeEffect", "TimeToConvert"]


@pytest.mark.parametrize("name", NAMES)
def test_clone_params_and_fitted_check(name, dataset):
    model, fit = _models(dataset)[name]
    assert isinstance(model, BaseEstimator)
    params = model.get_params(deep=True)
    assert params == model.get_params(deep=False)  # no nested estimators
    twin = clone(model)
    assert twin is not model and twin.get_params() == params
    key = "min_leads" if name == "TimeToConvert" else "random_state"  # no randomness there
    old = params[key]
    assert model.set_params(**{key: 3}) is model and model.get_params()[key] == 3
    model.set_params(**{key: old})
    with pytest.raises(SklearnNotFittedError):
        check_is_fitted(model)
    assert issubclass(fm.NotFittedError, SklearnNotFittedError)
    fit(model)
    check_is_fitted(model)
    # a clone of a fitted model is unfitted, with the same parameters
    with pytest.raises(SklearnNotFittedError):
        check_is_fitted(clone(model))
    assert isinstance(model.summary_, pd.DataFrame) and len(model.summary_)


#: scikit-learn's checks that need no flat X, y: they apply to every model
API_CHECKS = [
    "check_estimator_cloneable",
    "check_estimator_tags_renamed",
    "check_valid_tag_types",
    "check_estimator_repr",
    "check_no_attributes_set_in_init",
    "check_parameters_default_constructible",
    "check_get_params_invariance",
    "check_set_params",
    "check_do_not_raise_errors_in_init_or_set_params",
    "check_mixin_order",
]


@pytest.mark.parametrize("check", API_CHECKS)
@pytest.mark.parametrize("name", NAMES)
def test_scikit_learn_api_checks_that_need_no_data(name, check):
    from sklearn.utils import estimator_checks

    getattr(estimator_checks, check)(name, getattr(fm, name)())


@pytest.mark.parametrize("name", NAMES)
def test_one_line_reprs(name, dataset):
    model, fit = _models(dataset)[name]
    before = repr(model)
    assert before.startswith(f"{name}(") and "\n" not in before  # scikit-learn's, params only
    fit(model)
    after = repr(model)
    assert "\n" not in after
    n_leads = model.n_leads_
    assert re.fullmatch(rf"<{name}: .*fitted on {n_leads:,} leads.*>", after), after
    assert model._repr_mimebundle_() == {"text/plain": after}  # what Jupyter shows
    if name != "ResponseTimeEffect":  # open leads are censored or unlabelled, not counted
        assert f"{model.n_open_:,} still open" in after


@pytest.mark.parametrize("name", NAMES)
def test_bad_parameter_is_a_config_error_naming_it(name, dataset):
    model, fit = _models(dataset)[name]
    bad = {
        "LeadScorer": {"model": "forest"},
        "FunnelMarkov": {"recycled": "sometimes"},
        "ResponseTimeEffect": {"method": "magic"},
        "TimeToConvert": {"min_leads": 0},
    }[name]
    model.set_params(**bad)  # scikit-learn checks parameters at fit, not before
    param = next(iter(bad))
    with pytest.raises(fm.FunnelConfigError, match=f"'{param}' parameter of {name}"):
        fit(model)


@pytest.mark.parametrize("name", NAMES)
def test_refit_forgets_the_last_fit(name, dataset):
    model, fit = _models(dataset)[name]
    fit(model)
    model.left_over_ = "from an earlier fit"  # any fitted attribute
    fit(model)
    assert not hasattr(model, "left_over_")


def test_refit_on_an_array_forgets_the_column_names():
    X, y = _flat()
    scorer = fm.LeadScorer(model="logistic", n_splits=2).fit(X, y)
    assert list(scorer.feature_names_in_) == ["source", "size", "employees"]
    scorer.fit(X[["employees"]].to_numpy(), y)
    assert not hasattr(scorer, "feature_names_in_") and scorer.n_features_in_ == 1


@pytest.mark.parametrize("name", NAMES)
def test_models_keep_no_reference_to_the_training_data(name, dataset):
    model, _ = _models(dataset)[name]
    if name == "LeadScorer":
        model.fit(dataset)
    else:
        model.fit(dataset)
    blob = pickle.dumps(model)
    ids = dataset.leads["lead_id"].astype(str)
    assert ids.str.startswith("secret-").all()
    assert b"secret-" not in blob  # not one lead id survives in the fitted model
    for value in vars(model).values():
        assert not isinstance(value, fm.FunnelDataset)
        if isinstance(value, pd.DataFrame | pd.Series | np.ndarray):
            assert len(value) < len(ids), "a per-lead table was kept"


# ----------------------------------------------------------------------------- LeadScorer
#: scikit-learn checks the default LeadScorer does not pass, and why. The same checks pass
#: with leakage="keep" (test below), so each failure is the leakage guard, not the API.
EXCLUDED = {
    "check_classifiers_train": (
        "the blobs' two features each separate the classes almost perfectly (ROC AUC ~1 alone), "
        "which the leakage guard flags as too good to be known before the outcome; without "
        "them the training accuracy cannot reach the check's 0.83"
    ),
    "check_pipeline_consistency": (
        "every feature of the check's blobs separates the classes alone: the guard leaves all "
        "out and fit refuses ('every feature was left out')"
    ),
    "check_estimators_pickle": "the same blobs: every feature left out as likely leakage",
    "check_fit2d_1feature": (
        "the one feature decides the target exactly (y = x > 1): left out as leakage, so no "
        "feature is left"
    ),
}


def _check(estimator, expected=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(estimator, expected_failed_checks=expected, on_fail=None)
    failed = [
        (r["check_name"], repr(r["exception"])[:300]) for r in results if r["status"] == "failed"
    ]
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    xfailed = {r["check_name"] for r in results if r["status"] == "xfail"}
    return failed, skipped, xfailed, len(results)


def test_check_estimator_with_documented_exclusions_only():
    failed, skipped, xfailed, n = _check(fm.LeadScorer(), EXCLUDED)
    assert not failed, failed
    assert xfailed == set(EXCLUDED)  # every exclusion is still needed
    # scikit-learn skips its array-API check unless SCIPY_ARRAY_API=1 is set before import
    assert skipped <= {"check_array_api_input"}
    assert n > 50


@pytest.mark.slow
def test_check_estimator_passes_whole_without_the_leakage_guard():
    failed, skipped, xfailed, _ = _check(fm.LeadScorer(leakage="keep"))
    assert not failed and not xfailed, failed
    assert skipped <= {"check_array_api_input"}


def test_score_is_roc_auc_and_predict_follows_predict_proba():
    X, y = _flat()
    scorer = fm.LeadScorer(model="logistic", n_splits=2).fit(X, y)
    assert scorer.classes_.tolist() == ["lost", "won"]
    proba = scorer.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert scorer.score(X, y) == pytest.approx(roc_auc_score(y == "won", proba[:, 1]))
    np.testing.assert_array_equal(scorer.predict(X), scorer.classes_[proba.argmax(axis=1)])
    # an array with the same columns gives the same scores, by position
    np.testing.assert_allclose(scorer.predict_proba(X.to_numpy()), proba)
    with pytest.raises(ValueError, match="X has 2 features, but LeadScorer is expecting 3"):
        scorer.predict_proba(X.to_numpy()[:, :2])


def test_positive_label_told_by_its_word_even_when_it_sorts_first():
    X, y = _flat()
    words = np.where(y == "won", "converted", "not converted")
    scorer = fm.LeadScorer(model="logistic", n_splits=2).fit(X, words)
    assert scorer.classes_.tolist() == ["not converted", "converted"]
    p = scorer.predict_proba(X)[:, 1]  # P(converted)
    fair = (X["source"] == "fair").to_numpy()
    assert p[fair].mean() > p[~fair].mean()


def test_cross_val_score_matches_a_plain_loop_over_the_same_folds():
    X, y = _flat()
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(fm.LeadScorer(model="logistic", n_splits=2), X, y, cv=cv)
    by_hand = []
    for train, test in cv.split(X, y):
        m = fm.LeadScorer(model="logistic", n_splits=2).fit(X.iloc[train], y[train])
        by_hand.append(roc_auc_score(y[test] == "won", m.predict_proba(X.iloc[test])[:, 1]))
    np.testing.assert_allclose(scores, by_hand)
    assert scores.mean() > 0.65  # the planted source effect is found out of sample


def test_grid_search_picks_by_cross_validated_roc_auc():
    X, y = _flat(400, seed=2)
    cv = StratifiedKFold(2, shuffle=True, random_state=1)
    base = fm.LeadScorer(n_splits=2)
    grid = GridSearchCV(base, {"model": ["hgb", "logistic"]}, cv=cv).fit(X, y)
    means = {
        kind: cross_val_score(
            clone(base).set_params(model=kind), X, y, cv=cv, scoring="roc_auc"
        ).mean()
        for kind in ("hgb", "logistic")
    }
    best = max(means, key=means.get)
    assert grid.best_params_ == {"model": best}
    assert grid.best_score_ == pytest.approx(means[best])
    assert isinstance(grid.best_estimator_, fm.LeadScorer)
    check_is_fitted(grid.best_estimator_)


def test_tiny_data_fits_without_validation_and_says_so():
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    y = np.array([0, 0, 0, 0, 0, 1])
    scorer = fm.LeadScorer(leakage="keep").fit(X, y)
    assert scorer.validation_.startswith("not validated: the smaller class has 1 row")
    assert scorer.summary_.empty
    assert "not validated" in repr(scorer)
    assert scorer.predict_proba(X).shape == (6, 2)


def test_dataset_fit_takes_no_y_and_a_table_needs_one(dataset):
    X, y = _flat()
    with pytest.raises(ValueError, match="requires y to be passed"):
        fm.LeadScorer().fit(X.to_numpy())
    with pytest.raises(fm.FunnelConfigError, match="takes no y"):
        fm.LeadScorer().fit(dataset, np.zeros(3))
    with pytest.raises(ValueError, match="Only binary classification is supported"):
        fm.LeadScorer().fit(X, np.arange(len(X)) % 3)
