"""FunnelMarkov: golden values solved by hand on a 5-lead chain, what-if, awkward input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import funnel_models as fm
from funnel_models._errors import FunnelConfigError, NotFittedError

T0 = pd.Timestamp("2024-01-01", tz="UTC")
YEAR = pd.Timedelta(days=365.25)


def _spells(rows, as_of=T0 + YEAR):
    """rows: (lead, stage, next_stage or None, days, start offset days)."""
    frame = pd.DataFrame(rows, columns=["lead_id", "stage", "next_stage", "days_in_stage", "start"])
    frame["entered_at"] = T0 + pd.to_timedelta(frame.pop("start"), unit="D")
    frame["censored"] = frame["next_stage"].isna()
    frame.attrs["as_of"] = as_of
    return frame


# a: Lead→MQL→Won; b: Lead→MQL→Lost; c: Lead→MQL→Lead→Disqualified (backward);
# d: Lead→Disqualified; e: Lead, still open.
GOLDEN = _spells(
    [
        ("a", "Lead", "MQL", 1.0, 0), ("a", "MQL", "Won", 2.0, 1),
        ("b", "Lead", "MQL", 1.0, 0), ("b", "MQL", "Lost", 4.0, 1),
        ("c", "Lead", "MQL", 1.0, 0), ("c", "MQL", "Lead", 3.0, 1), ("c", "Lead", "Disqualified", 2.0, 4),
        ("d", "Lead", "Disqualified", 5.0, 0),
        ("e", "Lead", None, 10.0, 355.25),
    ]
)  # fmt: skip


def test_golden_win_probabilities_days_and_removal_effects():
    # Closed visits: Lead→MQL 3, Lead→DQ 2 (P 3/5, 2/5); MQL→Won, →Lost, →Lead 1 each (1/3).
    # b_M = 1/3 + 1/3 b_L and b_L = 3/5 b_M  =>  b_M = 1/3 + 1/5 b_M  =>  b_M = 5/12, b_L = 1/4.
    # Mean days: Lead (1+1+1+2+5)/5 = 2, MQL (2+4+3)/3 = 3.
    # t_L = 2 + 3/5 t_M, t_M = 3 + 1/3 t_L  =>  4/5 t_L = 19/5  =>  t_L = 19/4, t_M = 55/12.
    # N = (I-Q)^-1 = [[5/4, 3/4], [5/12, 5/4]]; E[T | win] from Lead
    #   = (5/4 * 2 * 1/4 + 3/4 * 3 * 5/12) / (1/4) = (5/8 + 15/16) * 4 = 25/4.
    # Reach MQL from Lead = N_LM / N_MM = 3/5.
    # Removing MQL→Lead: b_M = 1/3, b_L = 1/5  => removal effect 1 - (1/5)/(1/4) = 1/5.
    m = fm.FunnelMarkov(n_bootstrap=0).fit(GOLDEN)
    s = m.summary_
    assert s.loc["Lead", "win_probability"] == pytest.approx(1 / 4)
    assert s.loc["MQL", "win_probability"] == pytest.approx(5 / 12)
    assert s.loc["Lead", "expected_days_to_close"] == pytest.approx(19 / 4)
    assert s.loc["MQL", "expected_days_to_close"] == pytest.approx(55 / 12)
    assert s.loc["Lead", "expected_days_to_win"] == pytest.approx(25 / 4)
    assert s.loc["MQL", "reach_probability"] == pytest.approx(3 / 5)
    assert s.loc["Lead", "open"] == 1 and m.n_open_ == 1 and m.n_leads_ == 5
    eff = m.transitions_["removal_effect"]
    assert eff[("MQL", "Lead")] == pytest.approx(1 / 5)
    assert eff[("Lead", "MQL")] == pytest.approx(1.0)
    assert eff[("MQL", "Won")] == pytest.approx(1.0)
    assert m.transitions_.loc[("Lead", "MQL"), "count"] == 3
    assert repr(m) == "<FunnelMarkov: fitted on 5 leads, 1 still open>"
    # stages nobody reached are listed, with a note instead of a silent NaN
    assert s.loc["SQL", "visits"] == 0 and "no lead reached" in s.loc["SQL", "note"]


def test_golden_what_if():
    # P(MQL→Won) := 2/3, Lost and Lead rescaled to 1/6 each:
    # b_M = 2/3 + 1/6 * 3/5 b_M  =>  9/10 b_M = 2/3  =>  b_M = 20/27, b_L = 4/9.
    # 5 leads entered over exactly one year: won per year 5/4 -> 20/9, change 35/36.
    m = fm.FunnelMarkov(n_bootstrap=0, average_deal_size=1000.0).fit(GOLDEN)
    out = m.what_if({("MQL", "Won"): 2 / 3})
    assert out.loc["won_per_year", "baseline"] == pytest.approx(5 / 4)
    assert out.loc["won_per_year", "change"] == pytest.approx(35 / 36)
    assert out.loc["revenue_per_year", "change"] == pytest.approx(35000 / 36)
    assert np.isnan(out.loc["won_per_year", "change_low"])  # no bootstrap asked for
    # dwell only changes time: MQL mean 3 -> 0 days: t_L = 2 + 3/5 * (1/3 t_L) => t_L = 5/2
    out = m.what_if(dwell_days={"MQL": 0.0})
    assert out.loc["won_per_year", "change"] == pytest.approx(0.0)
    assert out.loc["days_to_close", "scenario"] == pytest.approx(5 / 2)


def test_what_if_bootstrap_interval_is_seeded_and_covers_the_change():
    a = fm.FunnelMarkov(n_bootstrap=50, random_state=7).fit(GOLDEN)
    b = fm.FunnelMarkov(n_bootstrap=50, random_state=7).fit(GOLDEN)
    ra, rb = a.what_if({("MQL", "Won"): 0.9}), b.what_if({("MQL", "Won"): 0.9})
    pd.testing.assert_frame_equal(ra, rb)
    row = ra.loc["won_per_year"]
    assert row["change_low"] <= row["change_high"]
    assert row["change_low"] > 0  # raising the win step can only add wins


def test_within_hours_uses_the_fast_visits():
    # MQL visits that closed within 48 h (2 days): only a's (→ Won, 2 days) -> P(MQL→Won)=1.
    m = fm.FunnelMarkov(n_bootstrap=0).fit(GOLDEN)
    out = m.what_if(within_hours={"MQL": 48})
    # b_M = 1, b_L = 3/5 -> won per year 5 * 3/5 = 3
    assert out.loc["won_per_year", "scenario"] == pytest.approx(3.0)


def test_refit_forgets_and_errors_suggest_the_fix():
    m = fm.FunnelMarkov(n_bootstrap=0)
    with pytest.raises(NotFittedError, match="fit"):
        _ = m.summary_
    m.fit(GOLDEN)
    with pytest.raises(FunnelConfigError, match="choose from"):
        m.what_if({("Nope", "Won"): 0.5})
    with pytest.raises(FunnelConfigError, match="describe a scenario"):
        m.what_if()
    m.fit(GOLDEN[GOLDEN["lead_id"] != "e"])
    assert m.n_open_ == 0


def test_every_lead_still_open_gives_notes_not_silent_nan():
    sp = _spells([("x", "Lead", None, 3.0, 0), ("y", "MQL", None, 1.0, 0)])
    m = fm.FunnelMarkov(n_bootstrap=0).fit(sp)
    s = m.summary_
    assert (s.loc[["Lead", "MQL"], "note"] != "").all()
    assert m.n_open_ == 2 and m.n_transitions_ == 0
    assert (s.loc[["Lead", "MQL"], "win_probability"] == 0).all()


def test_markov_on_a_dataset_single_lead_zero_length_and_equal_timestamps():
    leads = pd.DataFrame({"lead_id": ["a"], "created_at": ["2024-01-01"]})
    # Lead and MQL at the same instant (zero-length Lead visit), then Won
    events = pd.DataFrame(
        {
            "lead_id": ["a"] * 3,
            "stage": ["Lead", "MQL", "Won"],
            "entered_at": ["2024-01-01", "2024-01-01", "2024-01-03"],
        }
    )
    ds = fm.FunnelDataset.from_frames(leads=leads, stage_events=events)
    m = fm.FunnelMarkov(n_bootstrap=0).fit(ds)
    assert m.win_probability("Lead") == 1.0
    assert m.summary_.loc["Lead", "mean_days_in_stage"] == 0.0
    assert m.summary_.loc["MQL", "expected_days_to_close"] == pytest.approx(2.0)


def test_markov_counts_equal_a_plain_sql_query():
    duckdb = pytest.importorskip("duckdb")
    from funnel_models.synthetic import generate_tables

    tables, _ = generate_tables(1500, seed=21)
    ds = fm.FunnelDataset.from_frames(**tables)
    m = fm.FunnelMarkov(n_bootstrap=0).fit(ds)
    ev = ds.stage_events[["lead_id", "stage", "entered_at"]]
    rank = {s: i for i, s in enumerate(ds.funnel.names)}
    ev = ev.assign(r=ev["stage"].map(rank))
    sql = """
        select stage as from_stage, nxt as to_stage, count(*) as n from (
          select stage, lead(stage) over (partition by lead_id order by entered_at, r) as nxt
          from ev) where nxt is not null and stage in ('Lead','MQL','SAL','SQL','Opportunity')
        group by all
    """
    ref = duckdb.sql(sql).df().set_index(["from_stage", "to_stage"])["n"].sort_index()
    mine = m.transitions_["count"].sort_index()
    pd.testing.assert_series_equal(mine, ref, check_names=False, check_dtype=False)
