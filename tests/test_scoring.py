"""LeadScorer: hand-computed metrics, bad input, persistence, recovery and real data."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from _datasets import dataset

import funnel_models as fm
from funnel_models.models.scoring import metrics


def test_metrics_by_hand():
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 1])
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
    m = metrics(y, p)
    # pairs (pos, neg): 3 positives x 7 negatives = 21; positive above negative:
    # 0.9 beats 7, 0.7 beats 6, 0.05 beats 0 -> 13/21
    assert m["roc_auc"] == pytest.approx(13 / 21)
    # top 10 % = 1 lead (0.9, converted): lift = 1 / 0.3, capture 1/3
    assert m["lift_top10"] == pytest.approx(1 / 0.3)
    assert m["capture_top10"] == pytest.approx(1 / 3)
    # top 20 % = 2 leads, 1 converted: lift = 0.5 / 0.3
    assert m["lift_top20"] == pytest.approx(0.5 / 0.3)
    brier = np.mean((p - y) ** 2)
    assert m["brier"] == pytest.approx(brier)


def _flat(n=1200, seed=0):
    rng = np.random.default_rng(seed)
    t = pd.DataFrame(
        {
            "lead": [f"L{i}" for i in range(n)],
            "source": rng.choice(["fair", "web", "ads"], n),
            "size": rng.choice(["SMB", "Mid", "Ent"], n),
            "employees": rng.integers(5, 500, n).astype(float),
        }
    )
    p = np.where(t["source"] == "fair", 0.6, 0.15)
    t["won"] = np.where(rng.random(n) < p, "Won", "Lost")
    return t


def test_one_class_target_is_a_clear_error():
    t = _flat()
    t["won"] = "Won"
    with pytest.raises(fm.FunnelDataError, match="only one class"):
        fm.LeadScorer(target="won").fit(t)


def test_all_missing_features_are_a_clear_error():
    t = _flat()[["won"]].assign(a=np.nan, b=None)
    with pytest.raises(fm.FunnelDataError, match="no usable feature columns.*all values missing"):
        fm.LeadScorer(target="won").fit(t)


def test_an_all_missing_column_is_left_out_with_its_reason():
    t = _flat().assign(empty=np.nan)
    s = fm.LeadScorer(target="won", id_column="lead", model="logistic").fit(t)
    assert s.excluded_.loc["empty", "reason"] == "all values missing"


def test_unseen_categories_and_missing_columns_at_apply_time(tmp_path):
    t = _flat()
    s = fm.LeadScorer(target="won", id_column="lead", random_state=0).fit(t)
    new = pd.DataFrame(
        {"lead": ["N1", "N2"], "source": ["fair", "carrier pigeon"], "size": ["SMB", None]}
    )
    ranked = s.rank_open_leads(new, open_only=False)
    assert list(ranked.index) == ["N1", "N2"]  # fair ranks first; the unseen source is no error
    assert ranked["probability"].between(0, 1).all()
    assert "source = fair raises the score" in ranked.loc["N1", "reasons"]


def test_save_load_round_trip_and_not_a_model(tmp_path):
    t = _flat()
    s = fm.LeadScorer(target="won", id_column="lead", random_state=0).fit(t)
    path = s.save(tmp_path / "m.skops")
    back = fm.LeadScorer.load(path)
    np.testing.assert_allclose(back.predict_proba(t), s.predict_proba(t))
    assert back.features_ == s.features_
    (tmp_path / "junk.skops").write_text("hello")
    with pytest.raises(fm.FunnelDataError, match="not a funnel_models model file"):
        fm.LeadScorer.load(tmp_path / "junk.skops")
    import skops.io as sio

    sio.dump({"format": "something else"}, tmp_path / "other.skops")
    with pytest.raises(fm.FunnelDataError, match="not a funnel_models lead scorer"):
        fm.LeadScorer.load(tmp_path / "other.skops")


def test_refit_forgets_and_repr():
    t = _flat()
    s = fm.LeadScorer(target="won", model="logistic")
    assert repr(s) == "LeadScorer(model='logistic', target='won')"  # scikit-learn's, before fit
    with pytest.raises(fm.NotFittedError):
        s.rank_open_leads(t)
    s.fit(t)
    assert repr(s).startswith("<LeadScorer: fitted on 1,200 leads, 0 still open; validation")


def test_recovery_planted_driver_tops_importance(tmp_path):
    from funnel_models.synthetic import generate_tables

    tables, truth = generate_tables(20_000, seed=7)
    ds = fm.FunnelDataset.from_frames(**tables)
    s = fm.LeadScorer(from_stage="MQL", to_stage="SQL", within_days=90, random_state=0).fit(ds)
    # planted drivers of MQL->SQL: the leaky paid_search channel and the SQL rate by source
    assert truth["effects"]["leaky_channel"]["segment"] == {"source": "paid_search"}
    assert s.importance_.index[0] == "source"
    assert s.validation_.startswith("time-ordered")
    ranked = s.rank_open_leads(ds)
    assert len(ranked) == s.n_open_ > 0


@pytest.mark.realdata
def test_salvirt_cross_validated_auc():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    t = pd.read_csv(dataset("salvirt_b2b_opportunities/B2B_dataset.csv"))
    y = (t["Status"] == "Won").astype(int)
    ref = cross_val_score(
        make_pipeline(OneHotEncoder(handle_unknown="ignore"), LogisticRegression(max_iter=2000)),
        t.drop(columns="Status"),
        y,
        cv=StratifiedKFold(10, shuffle=True, random_state=0),
        scoring="roc_auc",
    ).mean()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fm.LeakageWarning)
        s = fm.LeadScorer(target="Status", random_state=0).fit(t)
    auc = s.summary_.loc[s.chosen_model_, "roc_auc"]
    assert ref > 0.8
    assert auc >= 0.80, (auc, ref)
    assert auc >= ref - 0.03


@pytest.mark.realdata
def test_olist_mql_to_won_time_ordered():
    olist = dataset("olist_marketing_funnel")
    mql = pd.read_csv(olist / "olist_marketing_qualified_leads_dataset.csv")
    deals = pd.read_csv(olist / "olist_closed_deals_dataset.csv")
    flat = mql.merge(deals, on="mql_id", how="left")
    flat["won"] = flat["seller_id"].notna().map({True: "won", False: "lost"})
    flat["first_contact_date"] = pd.to_datetime(flat["first_contact_date"], utc=True)
    flat = flat.drop(columns=["seller_id", "won_date"])
    with pytest.warns(fm.LeakageWarning):
        s = fm.LeadScorer(target="won", id_column="mql_id", time_column="first_contact_date").fit(
            flat
        )
    assert s.validation_.startswith("time-ordered")
    leaky = set(s.report()["leakage_features"])
    # the closed-deal fields exist only for sellers that signed: the guard must name them
    assert {"sdr_id", "sr_id", "business_segment", "lead_type"} <= leaky
    auc = s.summary_.loc[s.chosen_model_, "roc_auc"]
    # reference: plain one-hot logistic regression on origin, same time split
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import OneHotEncoder

    order = flat.sort_values("first_contact_date", kind="stable")
    k = int(round(0.2 * len(order)))
    tr, te = order.iloc[:-k], order.iloc[-k:]
    enc = OneHotEncoder(handle_unknown="ignore").fit(tr[["origin"]].fillna("?"))
    lr = LogisticRegression(max_iter=1000).fit(
        enc.transform(tr[["origin"]].fillna("?")), tr["won"] == "won"
    )
    ref = roc_auc_score(
        te["won"] == "won", lr.predict_proba(enc.transform(te[["origin"]].fillna("?")))[:, 1]
    )
    assert auc > 0.6 and auc >= ref - 0.02, (auc, ref)
    json.dumps(s.report())  # the report is JSON-ready


def test_a_model_file_with_our_marker_but_wrong_fields_is_a_clear_error(tmp_path):
    import skops.io as sio

    from funnel_models.models.scoring import _FORMAT, _FORMAT_VERSION

    path = tmp_path / "odd.skops"
    sio.dump({"format": _FORMAT, "version": _FORMAT_VERSION, "params": {"nonsense": 1}}, path)
    with pytest.raises(fm.FunnelDataError, match="missing or wrong fields"):
        fm.LeadScorer.load(path)
