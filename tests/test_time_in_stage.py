"""Kaplan–Meier time in stage and SLA attainment: hand-computed golden values and
cross-checks against scikit-survival."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sksurv.nonparametric import kaplan_meier_estimator

import funnel_models as fm
from funnel_models.analysis._survival import kaplan_meier, km_quantile, wilson_interval


def make_dataset(events, extra=None):
    events = pd.DataFrame(events, columns=["lead_id", "stage", "entered_at"])
    if extra:
        for k, v in extra.items():
            events[k] = v
    first = events.groupby("lead_id")["entered_at"].min()
    leads = pd.DataFrame({"lead_id": first.index, "created_at": first.to_numpy()})
    return fm.FunnelDataset.from_frames(leads=leads, stage_events=events)


# Six MQL visits, as_of 2024-01-31.  Days in MQL (event = left MQL, + = censored):
#   a 2, b 4, c 4+, d 6, e 10+, f 12
# KM:  t=2: n=6 d=1 -> S = 5/6          = 0.8333
#      t=4: n=5 d=1 -> S = 5/6 * 4/5    = 0.6667   (c censored at 4 is still at risk at 4)
#      t=6: n=3 d=1 -> S = 0.6667 * 2/3 = 0.4444   <- first S <= 0.5: median = 6 days
#      t=12: n=1 d=1 -> S = 0                       <- first S <= 0.1: p90 = 12 days
# The naive median of the closed visits only (2, 4, 6, 12) would be 5 days.
SIX_MQL = [
    ("a", "MQL", "2024-01-01"), ("a", "SAL", "2024-01-03"),
    ("b", "MQL", "2024-01-01"), ("b", "SAL", "2024-01-05"),
    ("c", "MQL", "2024-01-27"),
    ("d", "MQL", "2024-01-01"), ("d", "Disqualified", "2024-01-07"),
    ("e", "MQL", "2024-01-21"),
    ("f", "MQL", "2024-01-01"), ("f", "SAL", "2024-01-13"),
]  # fmt: skip


def test_km_median_with_censored_leads_golden():
    ds = make_dataset(SIX_MQL)
    t = fm.time_in_stage(ds, as_of="2024-01-31", min_leads=1)
    mql = t.loc["MQL"]
    assert (mql["visits"], mql["exits"], mql["still_open"]) == (6, 4, 2)
    assert mql["median_days"] == 6.0
    assert mql["p90_days"] == 12.0
    km = kaplan_meier([2, 4, 4, 6, 10, 12], [1, 1, 0, 1, 0, 1])
    assert km["survival"].to_numpy() == pytest.approx([5 / 6, 2 / 3, 4 / 9, 4 / 9, 0.0])


def test_km_equals_scikit_survival_including_intervals():
    rng = np.random.default_rng(3)
    durations = np.round(rng.exponential(10, 300), 1)
    events = rng.random(300) < 0.7
    ours = kaplan_meier(durations, events)
    times, prob, ci = kaplan_meier_estimator(events, durations, conf_type="log-log")
    np.testing.assert_allclose(ours.index.to_numpy(), times)
    np.testing.assert_allclose(ours["survival"].to_numpy(), prob, rtol=1e-12)
    np.testing.assert_allclose(ours["ci_lower"].to_numpy(), ci[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours["ci_upper"].to_numpy(), ci[1], rtol=1e-10, atol=1e-12)


def test_km_median_interval_brackets_the_estimate():
    rng = np.random.default_rng(5)
    event_time, censor_time = rng.exponential(10, 400), rng.exponential(40, 400)
    km = kaplan_meier(np.minimum(event_time, censor_time), event_time <= censor_time)
    q = km_quantile(km, 0.5)
    assert q["ci_lower"] <= q["estimate"] <= q["ci_upper"]
    # exponential(10) has median 10 ln 2 = 6.93 days
    assert q["ci_lower"] < 6.93 < q["ci_upper"]


def test_median_not_reached_is_explained_not_silent():
    # 3 visits, only one exit: S never falls to 0.5
    ds = make_dataset(
        [("a", "MQL", "2024-01-01"), ("a", "SAL", "2024-01-02"),
         ("b", "MQL", "2024-01-01"), ("c", "MQL", "2024-01-01")]
    )  # fmt: skip
    t = fm.time_in_stage(ds, as_of="2024-01-11", min_leads=1)
    assert np.isnan(t.loc["MQL", "median_days"])
    assert "median and p90 not reached yet" in t.loc["MQL", "note"]
    assert "67% of visits are still in MQL" in t.loc["MQL", "note"]


def test_stage_nobody_reached_and_small_sample_guard():
    ds = make_dataset(SIX_MQL)
    t = fm.time_in_stage(ds, as_of="2024-01-31")  # default min_leads=30
    assert t.loc["Opportunity", "visits"] == 0
    assert t.loc["Opportunity", "note"] == "no visits of Opportunity"
    assert not t.loc["Opportunity", "enough_data"]
    assert t.loc["MQL", "note"].startswith("only 6 visits of MQL; at least 30 are needed")


def test_zero_length_stays_give_zero_median():
    ds = make_dataset(
        [("a", "MQL", "2024-01-01"), ("a", "SAL", "2024-01-01"),
         ("b", "MQL", "2024-01-01"), ("b", "SAL", "2024-01-01")]
    )  # fmt: skip
    t = fm.time_in_stage(ds, as_of="2024-01-05", min_leads=1)
    assert t.loc["MQL", "median_days"] == 0.0
    assert t.loc["MQL", "p90_days"] == 0.0


def test_breakdown_by_stage_event_column():
    ds = make_dataset(
        SIX_MQL,
        extra={"team": ["t1", "s", "t1", "s", "t2", "t2", "s", "t2", "t1", "s"]},
    )
    t = fm.time_in_stage(ds, as_of="2024-01-31", by="team", min_leads=1)
    # team t1 MQL visits: a (2 d), b (4 d), f (12 d): S = 2/3 after 2, 1/3 after 4 -> median 4
    assert t.loc[("t1", "MQL"), "median_days"] == 4.0
    # team t2: c (4+), d (6), e (10+): S = 1/2 at 6 -> median 6
    assert t.loc[("t2", "MQL"), "visits"] == 3
    assert t.loc[("t2", "MQL"), "median_days"] == 6.0


def test_sla_attainment_golden():
    # MQL->SAL SLA is 24 h.  Days in MQL: a 2, b 4, c 4+, d 6, e 10+, f 12 -> nobody
    # left within 1 day: attainment 0; plus g who left after 6 h and h open for 12 h.
    events = SIX_MQL + [
        ("g", "MQL", "2024-01-01T00:00Z"), ("g", "SAL", "2024-01-01T06:00Z"),
        ("h", "MQL", "2024-01-30T12:00Z"),
    ]  # fmt: skip
    ds = make_dataset(events)
    sla = fm.sla_attainment(ds, as_of="2024-01-31", min_leads=1)
    row = sla.loc["MQL->SAL"]
    # KM at 1 day: t=0.25 g exits, n=8 -> S = 7/8; h censored at 0.5 -> attainment 1/8
    assert row["attainment"] == pytest.approx(1 / 8)
    assert row["attainment_lower"] <= 1 / 8 <= row["attainment_upper"]
    assert row["to_within_sla"] == pytest.approx(1 / 8)
    assert row["open_past_sla"] == 2  # c (4 d) and e (10 d)
    assert row["sla_hours"] == 24.0 and row["owner"] == "sales"


def test_wilson_interval_golden():
    # 8/10 at 95%: z = 1.959964; centre = (0.8 + z²/20)/(1 + z²/10) = 0.7167;
    # half = z*sqrt(0.016 + z²/400)/(1 + z²/10) = 0.2266 -> (0.4902, 0.9433)
    low, high = wilson_interval(8, 10)
    assert float(low) == pytest.approx(0.4902, abs=1e-4)
    assert float(high) == pytest.approx(0.9433, abs=1e-4)
    low0, high0 = wilson_interval(0, 0)
    assert np.isnan(low0) and np.isnan(high0)
