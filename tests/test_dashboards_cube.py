"""The dashboards' cached aggregates (funnel_models.app._cube): golden values by hand on a 6-lead
log, the binned Aalen–Johansen against scikit-survival's exact estimator, and recovery of the
generator's planted effects and true cohort conversion (ground_truth.json)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import funnel_models as fm
from funnel_models.app._cube import EDGES_DAYS, FunnelCube, _binned_incidence, day_bin

AS_OF = "2026-06-15 00:00"


@pytest.fixture(scope="module")
def tiny():
    """Six leads you can follow on paper (times UTC; as_of 2026-06-15 00:00).

    a  web_form    North T1  Lead 01-05 → MQL 01-06 → SAL 01-06 12h → SQL 01-08 12h
                             → Opportunity 01-20 12h → Won 02-10 12h
    b  web_form    North T1  Lead 01-05 → MQL 01-07 → Disqualified 01-07 12h ("not a fit")
    c  paid_search South T2  Lead 02-01 → MQL 02-02 → SAL 02-05 12h, still open
    d  paid_search South T2  Lead 03-01 → MQL 03-07 12h, still open (99.5 days)
    e  web_form    South T2  Lead 03-02, still open
    f  webinar     North T1  Lead 02-10 → Disqualified 02-11 ("junk contact data")
    """
    leads = pd.DataFrame(
        {
            "lead_id": list("abcdef"),
            "created_at": [
                "2026-01-05",
                "2026-01-05",
                "2026-02-01",
                "2026-03-01",
                "2026-03-02",
                "2026-02-10",
            ],
            "source": ["web_form", "web_form", "paid_search", "paid_search", "web_form", "webinar"],
            "region": ["North", "North", "South", "South", "South", "North"],
            "sdr_team": ["T1", "T1", "T2", "T2", "T2", "T1"],
        }
    )
    events = [
        ("a", "Lead", "2026-01-05 00:00", None),
        ("a", "MQL", "2026-01-06 00:00", None),
        ("a", "SAL", "2026-01-06 12:00", None),
        ("a", "SQL", "2026-01-08 12:00", None),
        ("a", "Opportunity", "2026-01-20 12:00", None),
        ("a", "Won", "2026-02-10 12:00", None),
        ("b", "Lead", "2026-01-05 00:00", None),
        ("b", "MQL", "2026-01-07 00:00", None),
        ("b", "Disqualified", "2026-01-07 12:00", "not a fit"),
        ("c", "Lead", "2026-02-01 00:00", None),
        ("c", "MQL", "2026-02-02 00:00", None),
        ("c", "SAL", "2026-02-05 12:00", None),
        ("d", "Lead", "2026-03-01 00:00", None),
        ("d", "MQL", "2026-03-07 12:00", None),
        ("e", "Lead", "2026-03-02 00:00", None),
        ("f", "Lead", "2026-02-10 00:00", None),
        ("f", "Disqualified", "2026-02-11 00:00", "junk contact data"),
    ]
    stage_events = pd.DataFrame(events, columns=["lead_id", "stage", "entered_at", "reason"])
    activities = pd.DataFrame(
        {
            "lead_id": ["a", "b", "c", "c"],
            "occurred_at": [
                "2026-01-06 00:30",  # a: 0.5 h after MQL
                "2026-01-07 05:00",  # b: 5 h
                "2026-02-02 01:00",  # c: marketing, not a sales response
                "2026-02-04 00:00",  # c: 48 h
            ],
            "kind": ["call", "email", "email_open", "call"],
            "team": ["sales", "sales", "marketing", "sales"],
        }
    )
    opportunities = pd.DataFrame(
        {
            "opportunity_id": ["o1"],
            "lead_id": ["a"],
            "created_at": ["2026-01-20 12:00"],
            "closed_at": ["2026-02-10 12:00"],
            "amount": [50_000.0],
            "won": [True],
        }
    )
    ds = fm.FunnelDataset.from_frames(
        leads=leads, stage_events=stage_events, activities=activities, opportunities=opportunities
    )
    return FunnelCube.from_dataset(ds, as_of=AS_OF)


def test_day_bins_put_sla_edges_on_a_bin_boundary():
    assert {1 / 24, 1, 7, 30, 90, 180} <= set(EDGES_DAYS)
    # 0.5 d is in [1 h, 1 d); exactly 1 d starts the next bin; 99.5 d is in [90, 120)
    assert list(day_bin([0.5, 1.0, 99.5])) == [1, 2, 13]


def test_stage_table_by_hand(tiny):
    t = tiny.stage_table()
    assert t["entered"].to_dict() == {
        "Lead": 6,
        "MQL": 4,
        "SAL": 2,
        "SQL": 1,
        "Opportunity": 1,
        "Won": 1,
    }
    assert t.loc["Lead", "advanced"] == 4 and t.loc["Lead", "still_open"] == 1
    # Lead visits (days): a 1 adv, c 1 adv, f 1 disq, b 2 adv, d 6.5 adv, e 105 open.
    # bin [1,2): n=6, 2 advance, 1 leaves -> 2/6, S=1/2; bin [2,3): n=3, b -> +1/2*1/3;
    # bin [5,7): n=2, d -> +1/3*1/2.  Sum 1/3 + 1/6 + 1/6 = 2/3.
    assert t.loc["Lead", "conversion"] == pytest.approx(2 / 3)
    # MQL visits: a 0.5 adv, b 0.5 disq, c 3.5 adv, d open 99.5.
    # bin [1h,1d): n=4 -> 1/4, S=1/2; bin [3,5): n=2 -> +1/2*1/2.  = 1/2; naive 2/4.
    assert t.loc["MQL", "conversion"] == pytest.approx(0.5)
    assert t.loc["MQL", "naive_conversion"] == pytest.approx(0.5)
    # SAL: a 2 d adv, c open 129.5 d: bin [2,3): n=2 -> 1/2
    assert t.loc["SAL", "conversion"] == pytest.approx(0.5)
    # the funnel's step conversion is the previous stage's censoring-aware conversion
    assert t.loc["MQL", "step_conversion"] == pytest.approx(2 / 3)
    assert t.loc["Won", "conversion_from_top"] == pytest.approx(1 / 6)


def test_time_in_stage_and_sla_by_hand(tiny):
    t = tiny.time_in_stage()
    # MQL: within 24 h, a and b left (2 of 4 at risk; d waited 99.5 d, c 3.5 d) -> KM 1/2
    assert t.loc["MQL", "within_sla"] == pytest.approx(0.5)
    # the binned KM reaches 1/2 at the end of the [1 h, 1 d) bin
    assert t.loc["MQL", "median_days"] == pytest.approx(1.0)
    if ("SAL", "SQL") in tiny.sla_hours:  # SAL (168 h): a left after 2 d, c open -> 1/2
        assert t.loc["SAL", "within_sla"] == pytest.approx(0.5)
    else:  # the default funnel sets only the MQL -> SAL SLA
        assert np.isnan(t.loc["SAL", "within_sla"]) and np.isnan(t.loc["SAL", "sla_days"])
    assert np.isnan(t.loc["Lead", "within_sla"])
    s = tiny.sla_by("sdr_team")
    # T1: a and b both left the MQL stage within 12 h; T2: c after 3.5 d, d still waiting
    assert s.loc["T1", "within_sla"] == pytest.approx(1.0)
    assert s.loc["T2", "within_sla"] == pytest.approx(0.0)
    assert s["open_past_sla"].to_dict() == {"T1": 0, "T2": 1}
    assert tiny.in_limbo() == 1


def test_flows_reasons_and_responses_by_hand(tiny):
    flows = tiny.flows().set_index(["source", "target"])["leads"].to_dict()
    assert flows == {
        ("Lead", "MQL"): 4,
        ("Lead", "Disqualified"): 1,
        ("Lead", "(still open)"): 1,
        ("MQL", "SAL"): 2,
        ("MQL", "Disqualified"): 1,
        ("MQL", "(still open)"): 1,
        ("SAL", "SQL"): 1,
        ("SAL", "(still open)"): 1,
        ("SQL", "Opportunity"): 1,
        ("Opportunity", "Won"): 1,
    }
    # f's reason is a Lead-stage rejection: only b counts for MQL/SAL
    assert tiny.rejection_reasons().to_dict() == {"not a fit": 1}
    r = tiny.response_by("sdr_team")
    # T1: a within 1 h, b after 5 h; T2: c after 48 h (the marketing touch does not count),
    # d no sales touch
    assert r.loc["T1"].to_dict() == {
        "within 1 h": 0.5,
        "1–24 h": 0.5,
        "after 24 h": 0.0,
        "no sales touch yet": 0.0,
    }
    assert r.loc["T2", "after 24 h"] == 0.5 and r.loc["T2", "no sales touch yet"] == 0.5
    # sales touches within 7 days of the MQL: a, b and c one each (c's 48 h call is inside
    # the week, its marketing e-mail does not count), d none (MQL 99.5 days old, no touch)
    f = tiny.follow_up_by("sdr_team")
    assert f.loc["T1"].to_dict() == {
        "no touch": 0.0,
        "1 touch": 1.0,
        "2 touches": 0.0,
        "3+ touches": 0.0,
    }
    assert f.loc["T2", "no touch"] == 0.5 and f.loc["T2", "1 touch"] == 0.5


def test_cohorts_and_kpis_by_hand(tiny):
    c = tiny.cohorts()
    # 2026-01: a reaches SQL after 2.5 d, b disqualified after 0.5 d -> 1/2, mature
    # (31 Jan + 90 d = 1 May < 15 Jun); 2026-02: c still open -> 0, mature (28 Feb + 90 d);
    # 2026-03: d still open, maturing (31 Mar + 90 d = 29 Jun > 15 Jun)
    assert c["leads"].to_dict() == {"2026-01": 2, "2026-02": 1, "2026-03": 1}
    assert c.loc["2026-01", "conversion"] == pytest.approx(0.5)
    assert c["maturing"].to_dict() == {"2026-01": False, "2026-02": False, "2026-03": True}
    k = tiny.kpis(("2026-03", "2026-03"))
    # March: Leads d, e; MQL d; no SAL, no win.  February: Leads c, f; MQL c; SAL c; a won.
    assert k["value"].to_dict() == {
        "Leads": 2,
        "MQLs": 1,
        "Accepted by sales": 0,
        "Won deals": 0,
        "Revenue won": 0,
    }
    assert k["previous"].to_dict() == {
        "Leads": 2,
        "MQLs": 1,
        "Accepted by sales": 1,
        "Won deals": 1,
        "Revenue won": 50_000,
    }
    assert k.loc["Leads", "change"] == 0 and k.loc["Won deals", "change"] == -1
    assert k["previous"].isna().all() == False  # noqa: E712
    assert tiny.kpis(None)["previous"].isna().all()


def test_select_filters_every_table(tiny):
    paid = tiny.select(source="paid_search")
    assert paid.stage_table()["entered"].head(3).to_list() == [2, 2, 1]
    assert paid.in_limbo() == 1
    assert tiny.select(source="All").visits.equals(tiny.visits)
    assert (
        tiny.select(region="North", months=("2026-01", "2026-01"))
        .stage_table()
        .loc["Lead", "entered"]
        == 2
    )  # a and b
    assert set(tiny.filters) == {"source", "region", "sdr_team"}
    with pytest.raises(ValueError, match="choose from"):
        tiny.select(colour="red")


def test_binned_incidence_needs_a_bin_edge():
    counts = pd.DataFrame({"bin": [2], "event": [1], "n": [1]})
    assert _binned_incidence(counts, 30.0) == 1.0
    with pytest.raises(ValueError, match="bin edge"):
        _binned_incidence(counts, 29.0)


# ---- against scikit-survival, and against the generator's truth -----------------------------------
@pytest.fixture(scope="module")
def generated(small_dataset):
    ds = fm.load(small_dataset)
    spells = fm.spells(ds)
    truth = json.loads((small_dataset / "ground_truth.json").read_text())
    return ds, spells, FunnelCube.from_dataset(ds, spells=spells), truth


@pytest.mark.parametrize("horizon", [30.0, 90.0])
def test_binned_incidence_close_to_scikit_survival(generated, horizon):
    from sksurv.nonparametric import cumulative_incidence_competing_risks

    _ds, spells, cube, _truth = generated
    table = cube.stage_table()
    for stage in ("Lead", "MQL", "SAL", "SQL", "Opportunity"):
        s = spells[spells["stage"] == stage]
        event = np.where(
            s["censored"],
            0,
            np.where(s["outcome"].isin(["advanced", "skipped", "won"]), 1, 2),
        )
        time = np.maximum(s["days_in_stage"].to_numpy(float), 1e-9)
        times, cif = cumulative_incidence_competing_risks(event, time)
        exact = cif[1][np.searchsorted(times, horizon, side="right") - 1]
        binned = FunnelCube.select(cube).visits
        binned = binned[binned["stage"] == stage]
        assert _binned_incidence(binned, horizon) == pytest.approx(exact, abs=0.02), stage
        if horizon == 90.0:
            assert table.loc[stage, "conversion"] == pytest.approx(exact, abs=0.02), stage
        assert table.loc[stage, "entered"] == len(s)


def test_visit_counts_equal_plain_pandas(generated, small_dataset):
    _ds, _spells, cube, _truth = generated
    events = pd.read_parquet(small_dataset / "stage_events.parquet")
    expected = events["stage"].value_counts()
    table = cube.stage_table()
    for stage in ("Lead", "MQL", "SAL", "SQL", "Opportunity", "Won"):
        assert table.loc[stage, "entered"] == expected[stage], stage


def test_recovers_planted_effects(generated):
    _ds, _spells, cube, truth = generated
    effects = truth["effects"]
    leaky = effects["leaky_channel"]
    by_source = cube.by_source()
    (segment,) = leaky["segment"].values()
    assert by_source["acceptance"].idxmin() == segment
    assert by_source.loc[segment, "acceptance"] == pytest.approx(
        leaky["realised_acceptance_segment"], abs=0.05
    )
    breach = effects["sla_breach_team"]
    (team,) = breach["segment"].values()
    assert cube.sla_by("sdr_team")["within_sla"].idxmin() == team


def test_mature_cohorts_equal_the_true_conversion(generated):
    _ds, _spells, cube, truth = generated
    true = pd.DataFrame(truth["true_conversion"]["cohorts"]).T
    cohorts = cube.cohorts().join(true, how="inner")
    mature = cohorts[~cohorts["maturing"]]
    assert len(mature) >= 6
    # a cohort followed for 90 days has no censoring before 90 days: the estimate is the truth
    assert (mature["conversion"] - mature["share"].astype(float)).abs().max() < 0.01
    young = cohorts[cohorts["maturing"] & (cohorts["leads"] >= 20)]
    if len(young):  # censoring-aware is closer to the truth than the naive share
        err = (young["conversion"] - young["share"].astype(float)).abs().mean()
        naive = (young["naive"] - young["share"].astype(float)).abs().mean()
        assert err <= naive
