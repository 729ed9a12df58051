"""Response-time effect: hand-computed standardisation, and recovery of the planted effect."""

import json

import pandas as pd
import pytest

import funnel_models as fm


def _rows():
    # source A: fast 4 leads (3 converted), slow 2 (1);  source B: fast 2 (1), slow 4 (1)
    rows = []
    rows += [("<=1h", "A", c) for c in (1, 1, 1, 0)] + [(">24h", "A", c) for c in (1, 0)]
    rows += [("<=1h", "B", c) for c in (1, 0)] + [(">24h", "B", c) for c in (1, 0, 0, 0)]
    t = pd.DataFrame(rows, columns=["bucket", "source", "converted"])
    t["bucket"] = pd.Categorical(t["bucket"], categories=["<=1h", ">24h"])
    return t


@pytest.mark.parametrize("method", ["stratify", "ipw"])
def test_adjusted_ratio_by_hand(method):
    # standardised to the source mix (6 A, 6 B): fast = .5*3/4 + .5*1/2 = 0.625,
    # slow = .5*1/2 + .5*1/4 = 0.375, ratio 5/3.  Naive: fast 4/6, slow 2/6 -> 2.0.
    # IPW with a saturated propensity model equals standardisation.
    eff = fm.ResponseTimeEffect(confounders=["source"], method=method, n_bootstrap=0, C=1e6).fit(
        _rows()
    )
    assert eff.summary_.loc["<=1h", "adjusted_rate"] == pytest.approx(0.625, abs=1e-3)
    assert eff.summary_.loc[">24h", "adjusted_rate"] == pytest.approx(0.375, abs=1e-3)
    assert eff.ratio_ == pytest.approx(5 / 3, abs=2e-3)
    assert eff.naive_ratio_ == pytest.approx(2.0)


def test_response_table_by_hand():
    leads = pd.DataFrame(
        {"lead_id": ["1", "2"], "created_at": ["2024-01-01"] * 2, "source": ["a", "b"]}
    )
    events = pd.DataFrame(
        {
            "lead_id": ["1", "1", "1", "2", "2", "2"],
            "stage": ["Lead", "MQL", "SAL", "Lead", "MQL", "SAL"],
            "entered_at": [
                "2024-01-01 08:00", "2024-01-02 09:00", "2024-01-02 12:00",
                "2024-01-01 08:00", "2024-01-02 09:00", "2024-01-05 09:00",
            ],
        }
    )  # fmt: skip
    events.loc[len(events)] = ["1", "SQL", "2024-01-10 09:00"]
    acts = pd.DataFrame(
        {
            "lead_id": ["1", "1", "2"],
            "occurred_at": ["2024-01-02 09:30", "2024-01-02 11:00", "2024-01-04 09:00"],
            "kind": ["call", "call", "email"],
            "team": ["sales", "sales", "sales"],
        }
    )
    ds = fm.FunnelDataset.from_frames(leads=leads, stage_events=events, activities=acts)
    t = fm.response_time_table(ds, as_of="2024-12-31").set_index("lead_id")
    assert t.loc["1", "response_hours"] == pytest.approx(0.5)  # 09:00 -> 09:30
    assert t.loc["2", "response_hours"] == pytest.approx(48.0)  # 2 Jan 09:00 -> 4 Jan 09:00
    assert t.loc["1", "bucket"] == "<=1h" and t.loc["2", "bucket"] == ">24h"
    assert t["converted"].to_dict() == {"1": 1, "2": 0}


def test_recovers_planted_response_time_effect(tmp_path):
    from funnel_models.synthetic import generate

    out = tmp_path / "d"
    generate(out, n_leads=20_000, seed=5)
    truth = json.loads((tmp_path / "d" / "ground_truth.json").read_text())
    true_ratio = truth["effects"]["response_time_effect"]["true_ratio_fast_vs_slow"]
    ds = fm.load(out)
    eff = fm.ResponseTimeEffect(confounders=["source"], n_bootstrap=100, random_state=1).fit(ds)
    lo, hi = eff.ratio_ci_
    assert lo <= true_ratio <= hi, eff.headline_
    assert "as often" in eff.headline_ and "95 % CI" in eff.headline_
