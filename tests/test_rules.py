"""The row rules: their order, odd values rejected (not fatal), sentences rendered once.

Expected rejections are read off the tiny inputs by hand.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import funnel_models as fm
from funnel_models import FunnelDataError, FunnelDataset
from funnel_models.core.funnel import Funnel
from funnel_models.core.rules import table_rules

LEADS = pd.DataFrame({"lead_id": ["a", "b"], "created_at": ["2024-01-01", "2024-01-01"]})
EVENTS = pd.DataFrame({"lead_id": ["a"], "stage": ["Lead"], "entered_at": ["2024-01-02"]})


def test_the_rules_of_each_table_in_the_order_they_are_tried():
    names = lambda table, cols: [r.name for r in table_rules(table, cols)]  # noqa: E731
    assert names("stage_events", ["lead_id", "stage", "entered_at", "owner_id"]) == [
        "blank id", "blank stage", "unknown stage", "bad timestamp", "blank timestamp",
        "orphan lead_id", "before lead created", "duplicate",
    ]  # fmt: skip
    assert names("opportunities", ["opportunity_id", "created_at", "lead_id", "closed_at",
                                   "amount", "won"]) == [
        "blank id", "bad timestamp", "blank timestamp", "bad timestamp", "bad number",
        "bad boolean", "duplicate", "orphan lead_id", "closed before created", "negative amount",
    ]  # fmt: skip
    assert names("activities", ["lead_id", "occurred_at", "kind"])[-1] == "duplicate"
    assert names("accounts", ["account_id"]) == ["blank id", "duplicate"]


@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01", "9999-12-31 23:59:59"])
def test_open_ended_dates_are_rejected_not_fatal(value):
    leads = pd.DataFrame({"lead_id": ["a", "b"], "created_at": ["2024-01-01", value]})
    ds = FunnelDataset.from_frames(leads=leads, stage_events=EVENTS)
    assert ds.rejected[["table", "row", "rule"]].values.tolist() == [["leads", 2, "bad timestamp"]]
    assert ds.rejected["reason"].iloc[0] == f"unparsable or implausible timestamp {value!r}"


def test_open_ended_dates_in_typed_parquet_are_rejected(tmp_path):
    created = pa.array([pd.Timestamp("2024-01-01"), pd.Timestamp("9999-12-31")],
                       pa.timestamp("us", tz="UTC"))  # fmt: skip
    pq.write_table(pa.table({"lead_id": ["a", "b"], "created_at": created}),
                   tmp_path / "leads.parquet")  # fmt: skip
    EVENTS.to_csv(tmp_path / "stage_events.csv", index=False)
    ds = fm.load(tmp_path)
    assert ds.rejected[["row", "rule"]].values.tolist() == [[2, "bad timestamp"]]
    assert ds.leads["lead_id"].tolist() == ["a"]


def test_infinite_and_huge_amounts_are_bad_numbers():
    opps = pd.DataFrame(
        {
            "opportunity_id": ["o1", "o2", "o3", "o4", "o5"],
            "created_at": ["2024-02-01"] * 5,
            "amount": ["inf", "1e309", "9" * 400, "-inf", "1200"],
        }
    )
    ds = FunnelDataset.from_frames(leads=LEADS, stage_events=EVENTS, opportunities=opps)
    rejected = ds.rejected.set_index("row")
    assert rejected["rule"].to_dict() == {1: "bad number", 2: "bad number", 3: "bad number",
                                          4: "bad number"}  # fmt: skip
    assert rejected.loc[2, "reason"] == "not a number: '1e309'"
    assert ds.opportunities["amount"].tolist() == [1200.0]
    typed = opps.assign(amount=[float("inf"), 1.0, 2.0, float("-inf"), float("nan")])
    ds = FunnelDataset.from_frames(leads=LEADS, stage_events=EVENTS, opportunities=typed)
    assert ds.rejected["row"].tolist() == [1, 4]  # NaN is a missing amount, not a bad one


def test_an_empty_parquet_file_is_one_clear_error(tmp_path):
    (tmp_path / "leads.parquet").write_bytes(b"")
    EVENTS.to_csv(tmp_path / "stage_events.csv", index=False)
    with pytest.raises(FunnelDataError, match=r"leads\.parquet: cannot read it") as info:
        fm.load(tmp_path)
    assert "\n" not in str(info.value)


def test_each_sentence_is_rendered_once_per_distinct_value(monkeypatch):
    calls = []
    real = Funnel.suggest

    def counted(self, value):
        calls.append(value)
        return real(self, value)

    monkeypatch.setattr(Funnel, "suggest", counted)
    events = pd.DataFrame(
        {"lead_id": ["a"] * 2000, "stage": ["Qualifed", "Lost-ish"] * 1000,
         "entered_at": [f"2024-01-{1 + i % 28:02d}" for i in range(2000)]}
    )  # fmt: skip
    ds = FunnelDataset.from_frames(leads=LEADS, stage_events=events)
    assert (ds.rejected["rule"] == "unknown stage").sum() == 2000
    assert sorted(calls) == ["Lost-ish", "Qualifed"]


def test_a_later_copy_names_the_first_copy_among_the_rows_left():
    # row 1 is rejected (bad time), so row 2 is the first copy of its key and row 3 the copy
    events = pd.DataFrame(
        {"lead_id": ["a", "a", "a"], "stage": ["MQL"] * 3,
         "entered_at": ["soon", "2024-01-05", "2024-01-05"]}
    )  # fmt: skip
    ds = FunnelDataset.from_frames(leads=LEADS, stage_events=events)
    assert ds.rejected[["row", "reason"]].values.tolist() == [
        [1, "unparsable or implausible timestamp 'soon'"],
        [3, "duplicate event (first at row 2)"],
    ]


def test_adapters_problems_come_first_with_their_own_words():
    from funnel_models.core.dataset import RawTable, validate

    problems = pd.DataFrame(
        {"column": [None, "created_at"], "rule": [None, "no date"],
         "reason": [None, "deal 'b' has no date"]}
    )  # fmt: skip
    raw = {
        "leads": RawTable(
            LEADS.assign(created_at=["2024-01-01", None]), "x.csv", problems=problems
        ),
        "stage_events": RawTable(EVENTS, "x.csv"),
    }
    ds = validate(raw)
    assert ds.rejected[["row", "column", "rule", "reason"]].values.tolist() == [
        [2, "created_at", "no date", "deal 'b' has no date"]
    ]
