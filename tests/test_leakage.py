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


# ----------------------------------------------------------------------------- one rule at a time
def _noise(n=2000, seed=3):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return rng, y


def test_missingness_rule_needs_nearly_all_converted_filled_and_a_gap():
    rng, y = _noise()
    n = y.size
    # filled for every converted lead, for ~70 % of the others: leaks through missingness
    leaky = pd.Series(rng.normal(size=n)).where((y == 1) | (rng.random(n) < 0.7))
    # filled for every converted lead, for ~90 % of the others: a 10-point gap is let through
    mild = pd.Series(rng.normal(size=n)).where((y == 1) | (rng.random(n) < 0.9))
    screen = fm.find_leakage(pd.DataFrame({"account_revenue": leaky, "score_x": mild}), y)
    share_others = leaky[y == 0].notna().mean()  # computed here, not by the guard
    assert screen.loc["account_revenue", "flagged"]
    assert screen.loc["account_revenue", "filled_others"] == pytest.approx(share_others)
    assert (
        f"filled for 100% of converted leads and only {share_others:.0%} of the others"
        in screen.loc["account_revenue", "reason"]
    )
    assert not screen.loc["score_x", "flagged"]


def test_values_that_name_an_outcome_are_flagged_when_they_tell_the_outcome():
    rng, y = _noise()
    n = y.size
    # a CRM status: converted leads mostly read "Closed - Converted"
    status = np.where(
        (y == 1) & (rng.random(n) < 0.6), "Closed - Converted", rng.choice(["Working", "New"], n)
    )
    # the same words, unrelated to the outcome
    unrelated = rng.choice(["Closed - Converted", "Working"], n)
    X = pd.DataFrame({"field_a": status, "field_b": unrelated})
    screen = fm.find_leakage(X, y)
    assert screen.loc["field_a", "flagged"]
    assert "its values name an outcome (Closed - Converted)" in screen.loc["field_a", "reason"]
    assert screen.loc["field_a", "single_auc"] < 0.9  # the AUC rule alone would miss it
    assert not screen.loc["field_b", "flagged"]
    # stage names of the funnel count too (a dataset passes them)
    stage = pd.Series(np.where(y == 1, "Proposal", rng.choice(["Proposal", "Nurture"], n)))
    plain = fm.find_leakage(pd.DataFrame({"x": stage}), y)
    told = fm.find_leakage(pd.DataFrame({"x": stage}), y, outcome_values=["Proposal"])
    assert not plain.loc["x", "flagged"] and told.loc["x", "flagged"]


def test_an_outcome_like_name_needs_an_association_and_a_neutral_name_a_strong_one():
    rng, y = _noise()
    n = y.size
    # alone ROC AUC about 0.75: an honest strong feature, or a field set after the outcome
    moderate = np.where(rng.random(n) < 0.5, y, rng.integers(0, 2, n)).astype(str)
    X = pd.DataFrame({"lead_status": moderate, "segment": moderate})
    screen = fm.find_leakage(X, y)
    auc = screen.loc["segment", "single_auc"]
    assert 0.7 <= auc < 0.9
    assert screen.loc["lead_status", "flagged"] and not screen.loc["segment", "flagged"]
    assert "its name reads like an outcome field ('status')" in screen.loc["lead_status", "reason"]
    # a neutral name with a near-perfect association is flagged by the AUC rule alone
    perfect = np.where(rng.random(n) < 0.95, y, 1 - y).astype(str)
    strong = fm.find_leakage(pd.DataFrame({"segment": perfect}), y)
    assert strong.loc["segment", "flagged"]
    assert strong.loc["segment", "reason"].startswith("alone it reaches ROC AUC")


# ----------------------------------------------------------------------------- real data
@pytest.mark.realdata
def test_maven_deal_stage_and_account_missingness_are_caught(tmp_path, capsys):
    import json

    from _datasets import dataset
    from sklearn.metrics import roc_auc_score

    from funnel_models.cli import main

    maven = dataset("maven_crm_sales_opportunities")
    out = tmp_path / "m.skops"
    code = main(
        [
            "score", "fit", str(maven), "--format", "maven", "--from-stage", "Engaging",
            "--to-stage", "Won", "--out", str(out), "--json",
        ]
    )  # fmt: skip
    assert code == 0
    report = json.loads(capsys.readouterr().out)

    # independently, from the raw files: deals engaged by the snapshot with a whole 90-day window
    deals = pd.read_csv(maven / "sales_pipeline.csv", parse_dates=["engage_date", "close_date"])
    accounts = pd.read_csv(maven / "accounts.csv")
    as_of = pd.Timestamp("2017-12-31")
    assert report["as_of"].startswith("2017-12-31")
    engaged = deals[deals["engage_date"].notna()]
    done = engaged[engaged["engage_date"] + pd.Timedelta(days=90) <= as_of]
    won = (done["deal_stage"] == "Won") & (
        done["close_date"] <= done["engage_date"] + pd.Timedelta(days=90)
    )
    assert report["n_leads"] == len(done)
    known = done["account"].isin(accounts["account"])
    assert known[won].mean() == 1.0  # every converted deal has its account
    assert 0.75 < known[~won].mean() < 0.8  # 78 % of the others
    rate = won.groupby(done["deal_stage"]).transform("mean")  # deal_stage alone, in-sample
    assert roc_auc_score(won, rate) == pytest.approx(0.887, abs=0.01)

    leaky = set(report["leakage_features"])
    account_fields = {"account_industry", "account_year_established", "account_revenue",
                      "account_employees", "account_region"}  # fmt: skip
    assert {"deal_stage"} | account_fields <= leaky
    reasons = {e["feature"]: e["reason"] for e in report["excluded_features"]}
    assert "its values name an outcome (Won, Lost)" in reasons["deal_stage"]
    for col in account_fields:
        assert (
            f"filled for 100% of converted leads and only {known[~won].mean():.0%}" in reasons[col]
        )
    assert "deal_stage" not in report["features"]

    # the open deals no longer all score 0.0: they are scored on what was known before
    ranked = tmp_path / "ranked.csv"
    apply = ["score", "apply", str(out), str(maven), "--format", "maven", "--out", str(ranked)]
    assert main(apply) == 0
    scores = pd.read_csv(ranked)["probability"]
    assert len(scores) == (deals["deal_stage"] == "Engaging").sum() == 1589
    assert (scores > 0).all() and scores.nunique() > 1


@pytest.mark.realdata
def test_olist_eleven_closed_deal_fields_are_flagged():
    from _datasets import dataset

    olist = dataset("olist_marketing_funnel")
    mql = pd.read_csv(olist / "olist_marketing_qualified_leads_dataset.csv")
    deals = pd.read_csv(olist / "olist_closed_deals_dataset.csv")
    flat = mql.merge(deals, on="mql_id", how="left")
    y = flat["seller_id"].notna().to_numpy(int)
    X = flat.drop(columns=["mql_id", "seller_id", "won_date", "first_contact_date"])
    closed_deal_fields = set(deals.columns) - {"mql_id", "seller_id", "won_date"}
    assert len(closed_deal_fields) == 11
    screen = fm.find_leakage(X, y)
    assert set(screen.index[screen["flagged"]]) == closed_deal_fields
    for col in closed_deal_fields:  # each filled for converted leads only
        assert X.loc[y == 0, col].notna().sum() == 0
        assert "of the others" in screen.loc[col, "reason"]


@pytest.mark.realdata
def test_salvirt_keeps_every_feature_and_its_auc(tmp_path, capsys):
    import json

    from _datasets import dataset

    from funnel_models.cli import main

    src = dataset("salvirt_b2b_opportunities/B2B_dataset.csv")
    out = tmp_path / "m.skops"
    assert main(["score", "fit", str(src), "--target", "Status", "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    columns = set(pd.read_csv(src, nrows=1).columns) - {"Status"}
    assert report["excluded_features"] == []
    assert set(report["features"]) == columns
    assert report["metrics"][report["model"]]["roc_auc"] >= 0.83


def test_single_feature_auc_of_an_unrelated_column_is_chance():
    from sklearn.metrics import roc_auc_score

    from funnel_models.models._leakage import single_feature_auc

    aucs = []
    for seed in range(8):  # seed 0 draws y from the same stream as the guard's folds
        rng = np.random.default_rng(seed)
        y = rng.integers(0, 2, 400)
        aucs.append(single_feature_auc(pd.Series(rng.choice(["web", "fair"], 400)), y))
    assert max(abs(a - 0.5) for a in aucs) < 0.1
    assert abs(np.mean(aucs) - 0.5) < 0.03
    # a real two-value signal: close to the in-sample AUC of its values' conversion rates
    rng = np.random.default_rng(9)
    y = rng.integers(0, 2, 2000)
    signal = pd.Series(np.where(rng.random(2000) < 0.75, y, 1 - y)).map({0: "a", 1: "b"})
    rate = pd.Series(y).groupby(signal).transform("mean")
    assert single_feature_auc(signal, y) == pytest.approx(roc_auc_score(y, rate), abs=0.02)
