"""Paths: variant counts and skip/recycle/re-entry/backward counts on a 5-lead log checked by hand."""

from __future__ import annotations

import pandas as pd
import pytest

import funnel_models as fm


@pytest.fixture(scope="module")
def ds():
    seq = {
        "p": ["Lead", "MQL", "SAL", "Won"],
        "q": ["Lead", "MQL", "SAL", "Won"],
        "r": ["Lead", "SQL", "Lost"],  # skips MQL and SAL
        "s": ["Lead", "MQL", "Recycled", "MQL"],  # recycled, re-entered, open
        "t": ["Lead", "MQL", "Lead", "MQL"],  # backward, open
    }
    rows = [
        (lead, stage, pd.Timestamp("2024-01-01") + pd.Timedelta(days=i))
        for lead, stages in seq.items()
        for i, stage in enumerate(stages)
    ]
    events = pd.DataFrame(rows, columns=["lead_id", "stage", "entered_at"])
    leads = pd.DataFrame({"lead_id": list(seq), "created_at": ["2024-01-01"] * 5})
    return fm.FunnelDataset.from_frames(leads=leads, stage_events=events)


def test_variants_by_hand(ds):
    table = fm.paths(ds, as_of="2024-02-01")
    # 2 of 5 leads share Lead → MQL → SAL → Won; every other lead has a path of its own
    assert table.index[0] == "Lead → MQL → SAL → Won"
    assert table["leads"].tolist() == [2, 1, 1, 1]
    assert table["share"].tolist() == [0.4, 0.2, 0.2, 0.2]
    assert table["cumulative_share"].iloc[-1] == pytest.approx(1.0)
    assert table.loc["Lead → SQL → Lost", "skipped"] == 2
    assert table.loc["Lead → MQL → Recycled → MQL → (open)", "recycles"] == 1
    assert table.loc["Lead → MQL → Recycled → MQL → (open)", "reentries"] == 1
    assert table.loc["Lead → MQL → Lead → MQL → (open)", "backward"] == 1
    assert fm.paths(ds, as_of="2024-02-01", top=1).shape[0] == 1


def test_path_summary_by_hand(ds):
    s = fm.path_summary(ds, as_of="2024-02-01")["leads"]
    assert s["leads"] == 5 and s["variants"] == 4
    assert s["skipped a stage"] == 1 and s["skipped MQL"] == 1 and s["skipped SAL"] == 1
    assert s["recycled"] == 1 and s["re-entered"] == 1
    assert s["went backwards"] == 1 and s["still open"] == 2


def test_as_of_cuts_paths(ds):
    # on 2024-01-02 every lead has had its first two events at most: p is still in MQL
    per = fm.lead_paths(ds, as_of="2024-01-02")
    assert per.loc["p", "path"] == "Lead → MQL → (open)"
    assert per.loc["r", "path"] == "Lead → SQL → (open)"


def test_shuffling_rows_changes_nothing(ds):
    shuffled = fm.FunnelDataset.from_frames(
        leads=ds.leads.sample(frac=1, random_state=1),
        stage_events=ds.stage_events.sample(frac=1, random_state=2),
    )
    pd.testing.assert_frame_equal(
        fm.paths(ds, as_of="2024-02-01"), fm.paths(shuffled, as_of="2024-02-01")
    )
