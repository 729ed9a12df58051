"""Conversion, naive and censoring-aware: golden values by hand, scikit-survival
cross-checks, awkward inputs, recovery on generated data, and real Olist data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sksurv.nonparametric import cumulative_incidence_competing_risks

import funnel_models as fm
from funnel_models.analysis._survival import cumulative_incidence


def make_dataset(events, leads_extra=None):
    events = pd.DataFrame(events, columns=["lead_id", "stage", "entered_at"])
    first = events.groupby("lead_id")["entered_at"].min()
    leads = pd.DataFrame({"lead_id": first.index, "created_at": first.to_numpy()})
    if leads_extra:
        for k, v in leads_extra.items():
            leads[k] = leads["lead_id"].map(v)
    return fm.FunnelDataset.from_frames(leads=leads, stage_events=events)


# as_of 2024-01-31.  MQL visits (days in MQL; outcome):
#   a 2 advanced (SAL) | b 4 lost | c 6 recycled, then c re-enters MQL on the 9th: 22 open
#   d 6 open (entered the 25th) | e 8 skipped (straight to SQL)
FIVE = [
    ("a", "MQL", "2024-01-01"), ("a", "SAL", "2024-01-03"),
    ("b", "MQL", "2024-01-01"), ("b", "Lost", "2024-01-05"),
    ("c", "MQL", "2024-01-01"), ("c", "Recycled", "2024-01-07"), ("c", "MQL", "2024-01-09"),
    ("d", "MQL", "2024-01-25"),
    ("e", "MQL", "2024-01-01"), ("e", "SQL", "2024-01-09"),
]  # fmt: skip
AS_OF = "2024-01-31"


@pytest.fixture(scope="module")
def five():
    return make_dataset(FIVE, leads_extra={"source": dict(zip("abcde", "wwwpp", strict=True))})


def test_step_conversion_golden(five):
    t = fm.step_conversion(five, as_of=AS_OF, days=[7, 30], min_leads=1)
    mql = t.loc["MQL"]
    # 6 visits: advanced a, e (skipped counts as moving forward); lost b; recycled c; open c2, d
    assert [int(mql[c]) for c in ("entered", "advanced", "lost", "recycled", "still_open")] == [
        6, 2, 1, 1, 2,
    ]  # fmt: skip
    assert mql["naive_conversion"] == pytest.approx(2 / 6)
    # Aalen-Johansen for 'advanced':
    #  t=2 n=6 advance: CIF = 1/6, S = 5/6
    #  t=4 n=5 lost:    S = 4/6
    #  t=6 n=4 recycled (d censored at 6 still at risk): S = 4/6 * 3/4 = 1/2
    #  t=8 n=2 advance: CIF = 1/6 + 1/2 * 1/2 = 5/12
    assert mql["conversion_7d"] == pytest.approx(1 / 6)
    assert mql["conversion_30d"] == pytest.approx(5 / 12)
    assert mql["conversion_30d_lower"] < 5 / 12 < mql["conversion_30d_upper"]
    # from the top (MQL: nobody entered Lead): SAL or beyond a, e -> 2/5; SQL or beyond e -> 1/5
    assert t.loc["SAL", "conversion_from_top"] == pytest.approx(2 / 5)
    assert t.loc["SQL", "conversion_from_top"] == pytest.approx(1 / 5)
    assert np.isnan(t.loc["Lead", "conversion_from_top"])
    assert t.loc["Lead", "note"] == "no visits of Lead"


def test_reach_conversion_golden(five):
    r = fm.reach_conversion(five, "MQL", "SQL", as_of=AS_OF, days=[7, 30], min_leads=1)
    row = r.loc["all"]
    # per lead from first MQL: a censored 30 (SAL, still open), b lost 4, c censored 30
    # (back in MQL), d censored 6, e reached 8.
    assert [int(row[c]) for c in ("leads", "reached", "lost", "still_open")] == [5, 1, 1, 3]
    assert row["naive_30d"] == pytest.approx(1 / 5)
    # AJ: t=4 lost n=5 -> S=4/5; t=6 d censored; t=8 n=3 reached -> CIF = 4/5 * 1/3 = 4/15
    assert row["conversion_30d"] == pytest.approx(4 / 15)
    assert row["conversion_7d"] == 0.0
    assert row["maturing_30d"] and row["maturing_7d"]  # d has been followed only 6 days
    assert "still maturing" in row["note"]


def test_breakdown_by_lead_attribute_with_guard(five):
    t = fm.step_conversion(five, as_of=AS_OF, days=[30], by="source", min_leads=3)
    # source w: a, b, c -> MQL visits a, b, c1, c2 (4); p: d, e -> 2 visits
    assert t.loc[("w", "MQL"), "entered"] == 4
    assert t.loc[("p", "MQL"), "entered"] == 2
    assert not t.loc[("p", "MQL"), "enough_data"]
    assert t.loc[("p", "MQL"), "note"].startswith("only 2 visits of MQL; at least 3")
    assert t.loc[("w", "MQL"), "enough_data"]


def test_unknown_by_column_suggests_the_closest(five):
    with pytest.raises(fm.FunnelConfigError, match="did you mean 'source'"):
        fm.step_conversion(five, as_of=AS_OF, by="sourec")


def test_cumulative_incidence_equals_scikit_survival():
    rng = np.random.default_rng(11)
    n = 250
    durations = np.round(rng.exponential(20, n), 0)
    codes = rng.choice([0, 1, 2, 3], size=n, p=[0.3, 0.4, 0.2, 0.1])
    ours = cumulative_incidence(durations, codes, labels=["adv", "lost", "rec"])
    times, cum_inc, ci = cumulative_incidence_competing_risks(
        codes, durations, conf_type="log-log", var_type="Aalen"
    )
    np.testing.assert_allclose(ours.index.to_numpy(), times)
    np.testing.assert_allclose(ours["any_event"].to_numpy(), cum_inc[0], atol=1e-12)
    for k, label in enumerate(["adv", "lost", "rec"], start=1):
        np.testing.assert_allclose(ours[label].to_numpy(), cum_inc[k], atol=1e-12)
        np.testing.assert_allclose(ours[f"{label}_lower"].to_numpy(), ci[k, 0], atol=1e-9)
        np.testing.assert_allclose(ours[f"{label}_upper"].to_numpy(), ci[k, 1], atol=1e-9)


# ---------------------------------------------------------------------- awkward input
def test_every_lead_still_open_gives_zero_not_nan():
    ds = make_dataset([("a", "MQL", "2024-01-01"), ("b", "MQL", "2024-01-05")])
    t = fm.step_conversion(ds, as_of="2024-01-10", days=[30], min_leads=1)
    mql = t.loc["MQL"]
    assert mql["still_open"] == 2 and mql["naive_conversion"] == 0.0
    assert mql["conversion_30d"] == 0.0
    assert mql["conversion_30d_lower"] == 0.0 and mql["conversion_30d_upper"] == 0.0
    assert "followed up for at most 9 days" in mql["note"]
    tis = fm.time_in_stage(ds, as_of="2024-01-10", min_leads=1)
    assert "not reached yet" in tis.loc["MQL", "note"]


def test_single_lead():
    ds = make_dataset([("a", "MQL", "2024-01-01"), ("a", "SAL", "2024-01-04")])
    t = fm.step_conversion(ds, as_of="2024-01-10", days=[30], min_leads=1)
    assert t.loc["MQL", "conversion_30d"] == 1.0
    assert t.loc["MQL", "naive_conversion"] == 1.0
    r = fm.reach_conversion(ds, "MQL", "SAL", days=[30], min_leads=1)
    assert r.loc["all", "conversion_30d"] == 1.0
    assert r.attrs["as_of"] == pd.Timestamp("2024-01-04", tz="UTC")


def test_stage_nobody_reached_is_explained():
    ds = make_dataset([("a", "MQL", "2024-01-01"), ("a", "SAL", "2024-01-04")])
    t = fm.step_conversion(ds, as_of="2024-01-10", days=[30], min_leads=1)
    opp = t.loc["Opportunity"]
    assert opp["entered"] == 0 and not opp["enough_data"]
    assert opp["note"] == "no visits of Opportunity"
    r = fm.reach_conversion(ds, "SQL", "Opportunity", as_of="2024-01-10", days=[30])
    assert r.empty  # nobody entered SQL: no row rather than a row of NaN


def test_zero_length_stays_and_equal_timestamps():
    # MQL, SAL and SQL all at the same instant: ordered by rank, each stay 0 days
    ds = make_dataset(
        [("a", "MQL", "2024-01-01"), ("a", "SAL", "2024-01-01"), ("a", "SQL", "2024-01-01"),
         ("b", "MQL", "2024-01-01"), ("b", "Lost", "2024-01-01")]
    )  # fmt: skip
    t = fm.step_conversion(ds, as_of="2024-01-05", days=[30], min_leads=1)
    assert t.loc["MQL", "conversion_30d"] == pytest.approx(0.5)
    assert t.loc["SAL", "conversion_30d"] == 1.0
    assert t.loc["SAL", "advanced"] == 1


def test_lead_that_goes_backwards():
    # SAL -> MQL (backward) -> SAL -> SQL
    ds = make_dataset(
        [("a", "MQL", "2024-01-01"), ("a", "SAL", "2024-01-02"), ("a", "MQL", "2024-01-04"),
         ("a", "SAL", "2024-01-05"), ("a", "SQL", "2024-01-06")]
    )  # fmt: skip
    t = fm.step_conversion(ds, as_of="2024-01-10", days=[30], min_leads=1)
    sal = t.loc["SAL"]
    assert (sal["entered"], sal["advanced"], sal["backward"]) == (2, 1, 1)
    # SAL visits: 2 days backward, 1 day advanced: CIF_adv = 1/2 * 1 = 1/2 (t=1: n=2)
    assert sal["conversion_30d"] == pytest.approx(0.5)
    r = fm.reach_conversion(ds, "MQL", "SQL", days=[30], min_leads=1)
    assert r.loc["all", "reached"] == 1  # counted once, from the first MQL (5 days)
    assert r.loc["all", "conversion_30d"] == 1.0


def test_conversion_rates_lie_in_unit_interval(five):
    t = fm.step_conversion(five, as_of=AS_OF, min_leads=1)
    rates = t.filter(regex="conversion|naive_").select_dtypes("number").to_numpy().ravel()
    rates = rates[~np.isnan(rates)]
    assert ((rates >= 0) & (rates <= 1)).all()


# ---------------------------------------------------------------------- recovery
@pytest.fixture(scope="module")
def generated():
    synthetic = pytest.importorskip("funnel_models.synthetic")
    tables, truth = synthetic.generate_tables(20_000, seed=7)
    ds = fm.FunnelDataset.from_frames(**tables)
    return ds, truth


def test_recovery_censoring_aware_covers_true_conversion_naive_biased_low(generated):
    ds, truth = generated
    tc = truth["true_conversion"]
    assert (tc["from_stage"], tc["to_stage"], tc["window_days"]) == ("MQL", "SQL", 90)
    as_of = truth.get("as_of")
    r = fm.reach_conversion(ds, "MQL", "SQL", as_of=as_of, days=[90], cohort="month")
    cohorts = sorted(tc["cohorts"])
    maturing = [m for m in cohorts if m in r.index and r.loc[m, "maturing_90d"]]
    assert maturing == cohorts[-3:]  # as_of 2026-09-30: July, August, September
    for month in maturing:
        true_share = tc["cohorts"][month]["sql_within_90d"] / tc["cohorts"][month]["mqls"]
        row = r.loc[month]
        assert row["conversion_90d_lower"] <= true_share <= row["conversion_90d_upper"], (
            month,
            true_share,
            row[["conversion_90d", "conversion_90d_lower", "conversion_90d_upper"]].tolist(),
        )
    # The youngest cohort (entered 0-29 days before as_of) is where the naive rate is
    # biased low: most of its leads have not had 90 days yet.
    last = cohorts[-1]
    true_last = tc["cohorts"][last]["sql_within_90d"] / tc["cohorts"][last]["mqls"]
    assert r.loc[last, "naive_90d"] < true_last - 0.03
    assert r.loc[last, "naive_90d"] < r.loc[last, "conversion_90d_lower"]
    # Old, fully matured cohorts: naive and censoring-aware agree.
    for month in cohorts[2:-3]:
        assert not r.loc[month, "maturing_90d"]
        assert abs(r.loc[month, "naive_90d"] - r.loc[month, "conversion_90d"]) < 0.02


# ---------------------------------------------------------------------- real data
OLIST = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "olist_marketing_funnel"


@pytest.mark.realdata
def test_olist_mql_to_won_by_origin_and_month():
    if not OLIST.exists():
        pytest.skip(f"real data not present: {OLIST} (see /work/shared/datasets)")
    mql = pd.read_csv(OLIST / "olist_marketing_qualified_leads_dataset.csv")
    deals = pd.read_csv(OLIST / "olist_closed_deals_dataset.csv")
    leads = pd.DataFrame(
        {
            "lead_id": mql["mql_id"],
            "created_at": mql["first_contact_date"],
            "source": mql["origin"],
        }
    )
    events = pd.concat(
        [
            pd.DataFrame(
                {"lead_id": mql["mql_id"], "stage": "MQL", "entered_at": mql["first_contact_date"]}
            ),
            pd.DataFrame(
                {"lead_id": deals["mql_id"], "stage": "Won", "entered_at": deals["won_date"]}
            ),
        ],
        ignore_index=True,
    )
    ds = fm.FunnelDataset.from_frames(leads=leads, stage_events=events)
    assert len(ds.leads) == 8000
    won_events = int((ds.stage_events["stage"] == "Won").sum())
    assert won_events + int((ds.rejected["table"] == "stage_events").sum()) == len(deals)

    by_origin = fm.reach_conversion(ds, "MQL", "Won", days=[90, 180], by="source")
    assert by_origin["leads"].sum() == 8000
    assert by_origin["reached"].sum() == won_events
    # naive rates lie inside the Wilson interval, censoring-aware rates are at least naive
    assert (by_origin["naive_lower"] <= by_origin["naive_conversion"]).all()
    assert (by_origin["conversion_180d"] + 1e-12 >= by_origin["naive_180d"]).all()
    small = by_origin[by_origin["leads"] < 30]
    assert (~small["enough_data"]).all()

    by_month = fm.reach_conversion(ds, "MQL", "Won", days=[90, 180], cohort="month")
    as_of = by_month.attrs["as_of"]
    months = list(by_month.index)
    assert months[0] == "2017-06" and months[-1] == "2018-05"
    # cohorts younger than 180 days at as_of are marked as still maturing, older ones not
    for month, row in by_month.iterrows():
        start = pd.Period(month, "M").start_time.tz_localize("UTC")
        young = (as_of - start).days < 180
        if young:
            assert row["maturing_180d"], month
        if (as_of - (start + pd.offsets.MonthEnd(1))).days > 181:
            assert not row["maturing_180d"], month
    assert by_month["maturing_180d"].iloc[-1]
    assert "still maturing" in by_month["note"].iloc[-1]
