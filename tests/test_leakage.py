"""The leakage guard names post-outcome and outcome-deciding columns and leaves them out."""

import warnings

import numpy as np
import pandas as pd
import pytest

import funnel_models as fm


def _table(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    t = pd.DataFrame(
        {
            "source": rng.choice(["fair", "web", "ads"], n),
            "employees": rng.integers(5, 500, n).astype(float),
            "crm_id": [f"X{i:05d}" for i in range(n)],  # an identifier: not leakage, just useless
        }
    )
    p = np.where(t["source"] == "fair", 0.55, 0.2)
    t["won"] = np.where(rng.random(n) < p, "won", "lost")
    # filled in by sales after the outcome: the disposition of the deal
    t["disposition"] = np.where(
        t["won"] == "won", "signed", rng.choice(["no budget", "competitor"], n)
    )
    # a date recorded only for converted leads
    t["contract_date"] = pd.Series(pd.NaT, index=t.index, dtype="datetime64[ns, UTC]")
    t.loc[t["won"] == "won", "contract_date"] = pd.Timestamp("2024-06-01", tz="UTC")
    return t


def test_guard_names_post_outcome_columns():
    t = _table()
    y = (t["won"] == "won").to_numpy(int)
    screen = fm.find_leakage(t.drop(columns="won"), y)
    assert screen.loc["disposition", "flagged"]
    assert "ROC AUC" in screen.loc["disposition", "reason"]
    assert screen.loc["contract_date", "flagged"]
    assert "filled for 100% of converted" in screen.loc["contract_date", "reason"]
    assert not screen.loc["source", "flagged"]
    assert not screen.loc["employees", "flagged"]
    # out-of-fold encoding keeps a unique identifier near chance instead of a memorised 1.0
    assert not screen.loc["crm_id", "flagged"]
    assert screen.loc["crm_id", "single_auc"] < 0.6


def test_scorer_leaves_leaky_columns_out_and_reports_both_scores():
    t = _table()
    with pytest.warns(fm.LeakageWarning, match="disposition"):
        scorer = fm.LeadScorer(target="won", random_state=0).fit(t)
    assert "disposition" not in scorer.features_
    assert "source" in scorer.features_
    assert set(scorer.report()["leakage_features"]) == {
        "disposition"
    }  # contract_date: no time column
    with_leaky = scorer.summary_.loc[f"{scorer.chosen_model_} with leaky features", "roc_auc"]
    without = scorer.summary_.loc[scorer.chosen_model_, "roc_auc"]
    assert with_leaky > 0.97 > without


def test_keep_leaky_keeps_them():
    t = _table().drop(columns="contract_date")
    with warnings.catch_warnings():
        warnings.simplefilter("error", fm.LeakageWarning)
        scorer = fm.LeadScorer(target="won", leakage="keep", model="logistic").fit(t)
    assert "disposition" in scorer.features_


def test_timestamp_after_snapshot_is_flagged():
    rng = np.random.default_rng(1)
    n = 400
    created = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(
        rng.integers(0, 300, n), unit="D"
    )
    X = pd.DataFrame({"last_call_at": created + pd.to_timedelta(rng.integers(1, 30, n), unit="D")})
    y = rng.integers(0, 2, n)
    screen = fm.find_leakage(X, y, times=pd.Series(created))
    assert screen.loc["last_call_at", "flagged"]
    assert "later than the snapshot" in screen.loc["last_call_at", "reason"]
