"""Stage visits (spells): golden values on tiny logs checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funnel_models as fm
from funnel_models.analysis.visits import SPELL_COLUMNS


def make_dataset(events, leads=None):
    events = pd.DataFrame(events, columns=["lead_id", "stage", "entered_at"])
    if leads is None:
        first = events.groupby("lead_id")["entered_at"].min()
        leads = pd.DataFrame({"lead_id": first.index, "created_at": first.to_numpy()})
    return fm.FunnelDataset.from_frames(leads=leads, stage_events=events)


# A six-lead funnel that exercises every outcome (dates are days of January 2024).
SIX = [
    ("a", "Lead", "2024-01-01"),  # Lead->MQL advanced (2 d)
    ("a", "MQL", "2024-01-03"),  # MQL->SAL advanced (1 d)
    ("a", "SAL", "2024-01-04"),  # SAL->Opportunity skipped SQL (6 d)
    ("a", "Opportunity", "2024-01-10"),  # Opportunity->Won (5 d)
    ("a", "Won", "2024-01-15"),
    ("b", "Lead", "2024-01-02"),  # Lead->MQL (0 d: same timestamp, ordered by rank)
    ("b", "MQL", "2024-01-02"),  # MQL->Recycled (3 d)
    ("b", "Recycled", "2024-01-05"),  # Recycled->MQL reentered (5 d)
    ("b", "MQL", "2024-01-10"),  # second MQL visit, open: 20 - 10 = 10 d, censored
    ("c", "Lead", "2024-01-05"),  # Lead->Disqualified (1 d)
    ("c", "Disqualified", "2024-01-06"),
    ("d", "Lead", "2024-01-01"),  # Lead->MQL (1 d)
    ("d", "MQL", "2024-01-02"),  # MQL->SAL (2 d)
    ("d", "SAL", "2024-01-04"),  # SAL->MQL backward (3 d)
    ("d", "MQL", "2024-01-07"),  # MQL->Lost (1 d)
    ("d", "Lost", "2024-01-08"),
    ("e", "Lead", "2024-01-18"),  # open: 20 - 18 = 2 d
    ("f", "Lead", "2024-01-03"),  # Lead->MQL (1 d)
    ("f", "MQL", "2024-01-04"),  # open at as_of (20 - 4 = 16 d): the SAL on the 25th is later
    ("f", "SAL", "2024-01-25"),
]
AS_OF = "2024-01-20"


@pytest.fixture(scope="module")
def six():
    return make_dataset(SIX)


def test_spell_columns_and_types(six):
    s = fm.spells(six, as_of=AS_OF)
    assert list(s.columns[: len(SPELL_COLUMNS)]) == SPELL_COLUMNS
    assert s["visit"].dtype == "int64"
    assert s["censored"].dtype == bool
    assert str(s["entered_at"].dtype) == "datetime64[ns, UTC]"
    assert str(s["exited_at"].dtype) == "datetime64[ns, UTC]"
    assert s.attrs["as_of"] == pd.Timestamp(AS_OF, tz="UTC")


def test_six_lead_golden(six):
    s = fm.spells(six, as_of=AS_OF)
    got = s[["lead_id", "stage", "visit", "next_stage", "outcome", "days_in_stage", "censored"]]
    got = [
        (
            r.lead_id,
            r.stage,
            r.visit,
            None if pd.isna(r.next_stage) else r.next_stage,
            r.outcome,
            r.days_in_stage,
            r.censored,
        )
        for r in got.itertuples()
    ]
    expected = [
        ("a", "Lead", 1, "MQL", "advanced", 2.0, False),
        ("a", "MQL", 1, "SAL", "advanced", 1.0, False),
        ("a", "SAL", 1, "Opportunity", "skipped", 6.0, False),
        ("a", "Opportunity", 1, "Won", "won", 5.0, False),
        ("b", "Lead", 1, "MQL", "advanced", 0.0, False),
        ("b", "MQL", 1, "Recycled", "recycled", 3.0, False),
        ("b", "Recycled", 1, "MQL", "reentered", 5.0, False),
        ("b", "MQL", 2, None, "open", 10.0, True),
        ("c", "Lead", 1, "Disqualified", "disqualified", 1.0, False),
        ("d", "Lead", 1, "MQL", "advanced", 1.0, False),
        ("d", "MQL", 1, "SAL", "advanced", 2.0, False),
        ("d", "SAL", 1, "MQL", "backward", 3.0, False),
        ("d", "MQL", 2, "Lost", "lost", 1.0, False),
        ("e", "Lead", 1, None, "open", 2.0, True),
        ("f", "Lead", 1, "MQL", "advanced", 1.0, False),
        ("f", "MQL", 1, None, "open", 16.0, True),
    ]
    assert got == expected
    # open spells have no exit
    assert s.loc[s["censored"], "exited_at"].isna().all()
    assert s.loc[~s["censored"], "exited_at"].notna().all()


def test_default_as_of_is_latest_event(six):
    s = fm.spells(six)
    assert s.attrs["as_of"] == pd.Timestamp("2024-01-25", tz="UTC")
    # with the SAL of the 25th in view, f's MQL visit closes after 21 days
    f = s[s["lead_id"] == "f"].set_index("stage")
    assert f.loc["MQL", "outcome"] == "advanced"
    assert f.loc["MQL", "days_in_stage"] == 21.0
    assert f.loc["SAL", "outcome"] == "open"
    assert f.loc["SAL", "days_in_stage"] == 0.0


def test_same_stage_again_is_backward():
    ds = make_dataset(
        [("x", "MQL", "2024-01-01"), ("x", "MQL", "2024-01-03"), ("x", "SAL", "2024-01-04")]
    )
    s = fm.spells(ds, as_of="2024-01-05")
    assert s["outcome"].tolist() == ["backward", "advanced", "open"]
    assert s["visit"].tolist() == [1, 2, 1]


def test_ties_are_ordered_by_funnel_rank_not_input_order():
    # SQL listed before SAL, same timestamp: SAL comes first by rank.
    ds = make_dataset(
        [("x", "SQL", "2024-01-02"), ("x", "SAL", "2024-01-02"), ("x", "MQL", "2024-01-01")]
    )
    s = fm.spells(ds, as_of="2024-01-02")
    assert s["stage"].tolist() == ["MQL", "SAL", "SQL"]
    assert s["outcome"].tolist() == ["advanced", "advanced", "open"]
    assert s["days_in_stage"].tolist() == [1.0, 0.0, 0.0]


def test_timestamps_keep_hours():
    ds = make_dataset([("x", "MQL", "2024-01-01T08:00Z"), ("x", "SAL", "2024-01-01T14:00Z")])
    s = fm.spells(ds, as_of="2024-01-02")
    assert s["days_in_stage"].tolist() == [0.25, 10 / 24]  # 6 h; then 10 h open


def test_as_of_before_every_event_is_a_clear_error_free_empty_result(six):
    s = fm.spells(six, as_of="2023-06-01")
    assert s.empty and list(s.columns[: len(SPELL_COLUMNS)]) == SPELL_COLUMNS


def test_bad_as_of_is_a_config_error(six):
    with pytest.raises(fm.FunnelConfigError, match="not a date"):
        fm.spells(six, as_of="yesterday-ish")


def test_extra_event_columns_are_kept():
    events = pd.DataFrame(
        {
            "lead_id": ["x", "x"],
            "stage": ["MQL", "SAL"],
            "entered_at": ["2024-01-01", "2024-01-02"],
            "owner_id": ["m1", "s7"],
            "team": ["marketing", "sales"],
        }
    )
    leads = pd.DataFrame({"lead_id": ["x"], "created_at": ["2024-01-01"]})
    s = fm.spells(fm.FunnelDataset.from_frames(leads=leads, stage_events=events))
    assert s["owner_id"].tolist() == ["m1", "s7"]
    assert s["team"].tolist() == ["marketing", "sales"]


def test_transitions_golden(six):
    t = fm.transitions(six, as_of=AS_OF)
    # Lead->MQL: a 2, b 0, d 1, f 1 -> count 4, median of (0,1,1,2) = 1, p90 = 1 + 0.7*(2-1)
    row = t.loc[("Lead", "MQL")]
    assert row["count"] == 4
    assert row["p50_days"] == pytest.approx(1.0)
    assert row["p90_days"] == pytest.approx(1.7)
    assert row["mean_days"] == pytest.approx(1.0)
    # MQL->SAL: a 1, d 2
    assert t.loc[("MQL", "SAL"), "count"] == 2
    assert t.loc[("MQL", "SAL"), "p50_days"] == pytest.approx(1.5)
    assert t.loc[("SAL", "MQL"), "count"] == 1
    assert ("MQL", None) not in t.index
    assert t["count"].sum() == 13  # 16 spells, 3 open


def test_parquet_file_gives_the_same_spells(six, tmp_path):
    six.to_folder(tmp_path)
    from_files = fm.spells(tmp_path, as_of=AS_OF)
    in_memory = fm.spells(six, as_of=AS_OF)
    pd.testing.assert_frame_equal(
        from_files[SPELL_COLUMNS], in_memory[SPELL_COLUMNS], check_dtype=False
    )


def test_duckdb_database_gives_the_same_spells(six, tmp_path):
    import duckdb

    path = tmp_path / "crm.duckdb"
    con = duckdb.connect(str(path))
    frame = six.stage_events.copy()
    frame["stage"] = frame["stage"].replace({"MQL": "Marketing Qualified Lead"})  # an alias
    con.register("ev", frame)
    con.execute("CREATE TABLE stage_events AS SELECT * FROM ev")
    con.close()
    from_db = fm.spells(f"duckdb:///{path}", as_of=AS_OF)
    in_memory = fm.spells(six, as_of=AS_OF)
    pd.testing.assert_frame_equal(
        from_db[SPELL_COLUMNS], in_memory[SPELL_COLUMNS], check_dtype=False
    )


_STAGES = ["Lead", "MQL", "SAL", "SQL", "Opportunity", "Won", "Lost", "Recycled"]


@st.composite
def event_logs(draw):
    n = draw(st.integers(1, 25))
    rows = set()
    for _ in range(n):
        lead = draw(st.sampled_from("pqrs"))
        stage = draw(st.sampled_from(_STAGES))
        day = draw(st.integers(1, 9))
        rows.add((lead, stage, f"2024-01-0{day}"))
    return sorted(rows)


@settings(max_examples=8, deadline=None)
@given(event_logs(), st.randoms(use_true_random=False))
def test_shuffling_rows_changes_nothing(rows, rnd):
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    a = fm.spells(make_dataset(rows), as_of="2024-01-09")
    b = fm.spells(make_dataset(shuffled), as_of="2024-01-09")
    pd.testing.assert_frame_equal(a, b)
    # every spell either closed or open, never negative
    assert (a["days_in_stage"] >= 0).all()
    assert set(a["outcome"]) <= set(fm.spells.__globals__["OUTCOMES"])
    assert np.array_equal(a["censored"].to_numpy(), (a["outcome"] == "open").to_numpy())


def test_dataset_visits_relation_gives_the_hand_checked_visits():
    """ds.visits() is the relation every analysis reads; checked on paper here."""
    leads = pd.DataFrame({"lead_id": ["a", "b"], "created_at": ["2024-01-01"] * 2})
    events = pd.DataFrame(
        {
            "lead_id": ["a", "a", "a", "b"],
            "stage": ["Lead", "MQL", "Lost", "Lead"],
            "entered_at": ["2024-01-01", "2024-01-03", "2024-01-04", "2024-01-02"],
        }
    )
    ds = fm.FunnelDataset.from_frames(leads=leads, stage_events=events)
    got = ds.backend.execute(ds.visits("2024-01-10")).sort_values(["lead_id", "entered_at"])
    rows = got[["lead_id", "stage", "visit", "outcome", "days_in_stage", "censored"]]
    assert rows.values.tolist() == [
        ["a", "Lead", 1, "advanced", 2.0, False],
        ["a", "MQL", 1, "lost", 1.0, False],
        ["b", "Lead", 1, "open", 8.0, True],
    ]
    assert ds.backend.execute(ds.relation("leads").count()) == 2
