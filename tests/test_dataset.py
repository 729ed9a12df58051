"""FunnelDataset: loading, validation rules, the rejected-row report, every source kind."""

import sqlite3

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import funnel_models as fm
from funnel_models import FunnelDataError, FunnelDataset

LEADS_CSV = """lead_id,created_at,source,industry
L1,2024-01-02 09:00,web_form,automotive
L2,2024-01-03 10:00,trade_fair,energy
L2,2024-01-04 10:00,trade_fair,energy
,2024-01-05 10:00,web_form,energy
L4,not a date,web_form,energy
L5,05.01.2024 12:00,linkedin,energy
"""

EVENTS_CSV = '''lead_id,stage,entered_at,reason
L1,Lead,2024-01-02 09:00,
L1,Marketing Qualified Lead,2024-01-03 09:00,
L1,SAL,2024-01-03 12:00,
L1,Qualifed,2024-01-05 12:00,
L2,Lead,2024-01-03 10:00,
L2,MQL,2024-01-01 10:00,
L4,Lead,2024-01-06 10:00,
L9,Lead,2024-01-06 10:00,
L1,SAL,2024-01-03 12:00,
L5,Lead,2024-01-05 12:00,
L5,Disqualified,2024-01-06 12:00,"not a fit,
said ""no"""
,MQL,2024-01-06 12:00,
L5,,2024-01-06 12:00,
'''

# What a person checking the two files above by eye expects: (table, row, column, rule)
EXPECTED_REJECTIONS = {
    ("leads", 3, "lead_id", "duplicate"),  # L2 again
    ("leads", 4, "lead_id", "blank id"),
    ("leads", 5, "created_at", "bad timestamp"),
    ("stage_events", 4, "stage", "unknown stage"),  # 'Qualifed'
    ("stage_events", 6, "entered_at", "before lead created"),  # MQL before L2 existed
    ("stage_events", 7, "lead_id", "orphan lead_id"),  # L4 was rejected
    ("stage_events", 8, "lead_id", "orphan lead_id"),  # L9 never existed
    ("stage_events", 9, "lead_id", "duplicate"),  # same as row 3
    ("stage_events", 12, "lead_id", "blank id"),
    ("stage_events", 13, "stage", "blank stage"),
}


@pytest.fixture
def messy_folder(tmp_path):
    (tmp_path / "leads.csv").write_text(LEADS_CSV)
    (tmp_path / "stage_events.csv").write_text(EVENTS_CSV)
    return tmp_path


def test_every_bad_row_is_rejected_with_its_reason(messy_folder):
    ds = fm.load(messy_folder)
    got = {
        tuple(r) for r in ds.rejected[["table", "row", "column", "rule"]].itertuples(index=False)
    }
    assert got == EXPECTED_REJECTIONS
    summary = ds.summary
    assert (summary["read"] == summary["accepted"] + summary["rejected"]).all()
    assert summary.loc["leads"].tolist() == [6, 3, 3]
    assert summary.loc["stage_events"].tolist() == [13, 6, 7]


def test_reasons_are_sentences_that_help(messy_folder):
    reasons = fm.load(messy_folder).rejected.set_index(["table", "row"])["reason"]
    assert reasons[("leads", 3)] == "duplicate lead_id (first at row 2)"
    assert (
        reasons[("stage_events", 4)]
        == "unknown stage 'Qualifed' (did you mean 'Qualified (→ SQL)'?)"
    )
    assert reasons[("stage_events", 6)] == (
        "entered_at 2024-01-01 10:00:00 is before the lead's created_at 2024-01-03 10:00:00"
    )
    assert reasons[("stage_events", 7)] == "lead_id 'L4' belongs to a rejected lead (leads row 5)"
    assert reasons[("stage_events", 8)] == "lead_id 'L9' is not in the leads table"


def test_accepted_rows_are_canonical(messy_folder):
    ds = fm.load(messy_folder)
    events = ds.stage_events
    assert events["stage"].tolist() == ["Lead", "MQL", "SAL", "Lead", "Lead", "Disqualified"]
    assert str(events["entered_at"].dtype) == "datetime64[ns, UTC]"
    # quoted text with an embedded newline survives
    assert events["reason"].iloc[-1] == 'not a fit,\nsaid "no"'
    # extra columns are kept as attributes
    assert ds.leads.set_index("lead_id").loc["L1", "industry"] == "automotive"
    # the dotted date is day-first: 5 January
    assert ds.leads.set_index("lead_id").loc["L5", "created_at"] == pd.Timestamp(
        "2024-01-05 12:00", tz="UTC"
    )


def test_rejected_record_keeps_the_original_values(messy_folder):
    rejected = fm.load(messy_folder).rejected
    row = rejected[(rejected["table"] == "leads") & (rejected["row"] == 5)].iloc[0]
    assert '"created_at": "not a date"' in row["record"]
    assert row["source"].endswith("leads.csv")


def test_timezone_option_reads_naive_times_in_that_zone(messy_folder):
    ds = fm.load(messy_folder, timezone="Europe/Rome")
    created = ds.leads.set_index("lead_id").loc["L1", "created_at"]
    assert created == pd.Timestamp("2024-01-02 08:00", tz="UTC")


def test_missing_required_column_suggests_the_near_match(tmp_path):
    (tmp_path / "leads.csv").write_text("lead_id,created\nL1,2024-01-01\n")
    (tmp_path / "stage_events.csv").write_text("lead_id,stage,entered_at\n")
    with pytest.raises(
        FunnelDataError, match="missing required column 'created_at'; found 'created'"
    ):
        fm.load(tmp_path)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "no leads table"),
        (
            lambda p: (p / "leads.csv").write_bytes(b"\x00\x01\x02garbage\xff" * 50),
            "binary content",
        ),
        (lambda p: (p / "leads.csv").write_text(""), "the file is empty"),
        (lambda p: (p / "leads.parquet").write_bytes(b"PAR1 not really"), "cannot read it"),
    ],
)
def test_unusable_folders_raise_one_clear_error(tmp_path, setup, message):
    setup(tmp_path)
    if not (tmp_path / "stage_events.csv").exists():
        (tmp_path / "stage_events.csv").write_text("lead_id,stage,entered_at\n")
    with pytest.raises(FunnelDataError, match=message):
        fm.load(tmp_path)


def test_missing_path_and_unknown_kind(tmp_path):
    with pytest.raises(FunnelDataError, match="no such file or folder"):
        fm.load(tmp_path / "nope")
    odd = tmp_path / "export.bin"
    odd.write_bytes(b"\x00" * 10)
    with pytest.raises(FunnelDataError, match="cannot tell what kind of source"):
        fm.load(odd)


def test_opportunity_and_activity_rules():
    leads = pd.DataFrame({"lead_id": ["a"], "created_at": ["2024-01-01"]})
    events = pd.DataFrame({"lead_id": ["a"], "stage": ["Lead"], "entered_at": ["2024-01-01"]})
    opportunities = pd.DataFrame(
        {
            "opportunity_id": ["o1", "o2", "o3", "o1", "o4", "o5"],
            "lead_id": ["a", "zz", None, "a", "a", "a"],
            "created_at": ["2024-02-01"] * 6,
            "closed_at": ["2024-03-01", None, None, None, "2024-01-15", None],
            "amount": ["1.200,50", "10", "x", "5", "5", "-3"],
            "won": ["yes", None, None, None, "no", "maybe"],
        }
    )
    activities = pd.DataFrame(
        {
            "activity_id": ["x1", "x1", "x2"],
            "lead_id": ["a", "a", "b"],
            "occurred_at": ["2024-01-02", "2024-01-03", "2024-01-02"],
            "kind": ["call", "call", "email"],
        }
    )
    ds = FunnelDataset.from_frames(
        leads=leads, stage_events=events, opportunities=opportunities, activities=activities
    )
    got = {tuple(r) for r in ds.rejected[["table", "row", "rule"]].itertuples(index=False)}
    assert got == {
        ("opportunities", 2, "orphan lead_id"),
        ("opportunities", 3, "bad number"),
        ("opportunities", 4, "duplicate"),
        ("opportunities", 5, "closed before created"),
        ("opportunities", 6, "bad boolean"),
        ("activities", 2, "duplicate"),
        ("activities", 3, "orphan lead_id"),
    }
    opp = ds.opportunities.iloc[0]
    assert opp["amount"] == 1200.5 and bool(opp["won"]) is True


def _write_everywhere(ds_frames, tmp_path):
    """The same raw tables as CSV folder, Parquet folder, Excel workbook, SQLite and DuckDB."""
    sources = {}
    for kind in ("csv", "parquet"):
        folder = tmp_path / kind
        folder.mkdir()
        for name, frame in ds_frames.items():
            if kind == "csv":
                frame.to_csv(folder / f"{name}.csv", index=False)
            else:
                frame.to_parquet(folder / f"{name}.parquet", index=False)
        sources[kind] = folder
    workbook = tmp_path / "crm.xlsx"
    with pd.ExcelWriter(workbook) as writer:
        for name, frame in ds_frames.items():
            frame.to_excel(writer, sheet_name=name, index=False)
    sources["excel"] = workbook
    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as con:
        for name, frame in ds_frames.items():
            frame.to_sql(name, con, index=False)
    sources["sqlite"] = f"sqlite:///{db}"
    ddb = tmp_path / "crm.duckdb"
    con = duckdb.connect(str(ddb))
    for name, frame in ds_frames.items():
        con.register("tmp_frame", frame)
        con.execute(f"create table {name} as select * from tmp_frame")
        con.unregister("tmp_frame")
    con.close()
    sources["duckdb"] = f"duckdb:///{ddb}"
    return sources


def test_every_source_kind_gives_the_same_dataset(tmp_path):
    frames = {
        "leads": pd.DataFrame(
            {
                "lead_id": ["L1", "L2", "L3", "L3"],
                "created_at": [
                    "2024-01-02 09:00:00",
                    "2024-01-03 10:00:00",
                    "2024-01-04 11:00:00",
                    "2024-01-05 11:00:00",
                ],
                "source": ["web_form", "trade_fair", "webinar", "webinar"],
            }
        ),
        "stage_events": pd.DataFrame(
            {
                "lead_id": ["L1", "L1", "L2", "L3", "L4"],
                "stage": ["Lead", "MQL", "Lead", "Lead", "Lead"],
                "entered_at": [
                    "2024-01-02 09:00:00",
                    "2024-01-03 09:00:00",
                    "2024-01-03 10:00:00",
                    "2024-01-04 11:00:00",
                    "2024-01-04 11:00:00",
                ],
            }
        ),
    }
    sources = _write_everywhere(frames, tmp_path)
    reference = fm.load(sources["csv"])
    assert len(reference.rejected) == 2
    for kind, source in sources.items():
        ds = fm.load(source)
        for table in ("leads", "stage_events"):
            pd.testing.assert_frame_equal(
                ds.table(table)[reference.table(table).columns].reset_index(drop=True),
                reference.table(table),
                check_dtype=False,
                obj=f"{kind} {table}",
            )
        assert ds.rejected[["table", "row", "rule"]].values.tolist() == (
            reference.rejected[["table", "row", "rule"]].values.tolist()
        ), kind


def test_database_errors_are_one_line(tmp_path):
    with pytest.raises(FunnelDataError, match="database file not found"):
        fm.load(f"sqlite:///{tmp_path / 'missing.db'}")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(FunnelDataError, match="not a readable SQLite database"):
        fm.load(f"sqlite:///{junk}")
    with pytest.raises(FunnelDataError, match=r"postgresql://user:\*\*\*@db"):
        fm.load("postgresql://user:secret@db/crm")


def test_bad_timezone_is_a_clear_error(messy_folder):
    with pytest.raises(FunnelDataError, match="unknown time zone 'Mars/Olympus'"):
        fm.load(messy_folder, timezone="Mars/Olympus")


def test_to_folder_round_trips(messy_folder, tmp_path):
    ds = fm.load(messy_folder)
    out = ds.to_folder(tmp_path / "out")
    again = fm.load(out)
    assert again.rejected.empty
    pd.testing.assert_frame_equal(again.stage_events, ds.stage_events, check_dtype=False)
    assert again.funnel == ds.funnel


# ---------------------------------------------------------------------- properties
_stage = st.sampled_from(["Lead", "MQL", "sal", "Qualified", "Won", "bogus", ""])
_lead = st.sampled_from(["L1", "L2", "L3", "L4", "", "L1 "])
_time = st.sampled_from(["2024-01-01", "2024-01-02 10:00", "garbage", "", "2023-12-31"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    leads=st.lists(st.tuples(_lead, _time), min_size=1, max_size=12),
    events=st.lists(st.tuples(_lead, _stage, _time), min_size=0, max_size=25),
    seed=st.integers(0, 2**16),
)
def test_nothing_is_lost_and_row_order_does_not_matter(leads, events, seed):
    lead_frame = pd.DataFrame(leads, columns=["lead_id", "created_at"])
    event_frame = pd.DataFrame(events, columns=["lead_id", "stage", "entered_at"])
    ds = FunnelDataset.from_frames(leads=lead_frame, stage_events=event_frame)
    summary = ds.summary
    assert (summary["read"] == summary["accepted"] + summary["rejected"]).all()
    assert ds.rejected["reason"].notna().all()

    # Shuffling rows changes which copy of a duplicate is "first", but not the
    # accepted content when there are no duplicates; compare on duplicate-free input.
    lead_frame = lead_frame.assign(lead_id=lead_frame["lead_id"].str.strip())
    lead_frame = lead_frame.drop_duplicates("lead_id")
    event_frame = event_frame.assign(lead_id=event_frame["lead_id"].str.strip()).drop_duplicates()
    base = FunnelDataset.from_frames(leads=lead_frame, stage_events=event_frame)
    rng = np.random.default_rng(seed)
    shuffled = FunnelDataset.from_frames(
        leads=lead_frame.sample(frac=1, random_state=rng),
        stage_events=event_frame.sample(frac=1, random_state=rng),
    )

    def canon(frame):
        return frame.astype(str).sort_values(list(frame.columns)).reset_index(drop=True)

    pd.testing.assert_frame_equal(canon(base.leads), canon(shuffled.leads))
    pd.testing.assert_frame_equal(canon(base.stage_events), canon(shuffled.stage_events))
    assert sorted(base.rejected["rule"]) == sorted(shuffled.rejected["rule"])
