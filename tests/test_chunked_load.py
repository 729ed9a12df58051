"""fm.load reads CSV / Parquet files in the engine, with hand-checked rejections.

The files are written as CRM exports come (BOM, Windows-1252, ';', tab, gzip,
quoted line breaks; Parquet with several row groups and nulls far from row 1);
the hand-written rejections below pin the rows and reasons. (These files were
once read in chunks; the tests of the chunk machinery went with it.)
"""

import gzip
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import funnel_models as fm
from funnel_models import FunnelDataError
from funnel_models.synthetic import generate_tables

MULTILINE_REASON = 'not a fit,\nsaid "no"'


def planted_tables():
    """A small generated CRM with bad rows planted where chunk boundaries cut them.

    Returns the raw tables (text, as a CRM export would hold them) and the
    rejections a person expects: ``{(table, row): (rule, reason)}``.
    """
    tables, _ = generate_tables(120, seed=5)
    raw = {name: frame.astype(object).astype("str") for name, frame in tables.items()}
    raw = {name: frame.where(tables[name].notna(), None) for name, frame in raw.items()}
    leads, events = raw["leads"], raw["stage_events"]
    opportunities, activities, accounts = raw["opportunities"], raw["activities"], raw["accounts"]
    expected = {}

    # Leads: a bad timestamp, a blank id, and two copies of row 2 at the very end
    # (in one chunk, both duplicates of the row in the first chunk).
    leads.loc[4, "created_at"] = "not a date"
    expected["leads", 5] = ("bad timestamp", "unparsable or implausible timestamp 'not a date'")
    leads.loc[8, "lead_id"] = None
    expected["leads", 9] = ("blank id", "blank lead_id")
    leads = pd.concat([leads, leads.iloc[[1, 1]]], ignore_index=True)
    expected["leads", len(leads) - 1] = ("duplicate", "duplicate lead_id (first at row 2)")
    expected["leads", len(leads)] = ("duplicate", "duplicate lead_id (first at row 2)")
    # Attributes: integers with one blank late in the file; postcodes that look
    # like numbers up to a late one that does not.
    leads["employees"] = [str(10 * i) for i in range(len(leads))]
    leads.loc[len(leads) - 3, "employees"] = None
    leads["postcode"] = [f"{i:05d}" for i in range(len(leads))]
    leads.loc[len(leads) - 3, "postcode"] = "D-80331"

    # Stage events: quoted line breaks around chunk boundaries (rows 4-8), an
    # unknown stage, a copy of row 1 at the end, Windows-1252 text near the end.
    events.loc[[3, 5, 6, 7], "reason"] = MULTILINE_REASON
    events.loc[2, "stage"] = "Qualifed"
    expected["stage_events", 3] = (
        "unknown stage",
        "unknown stage 'Qualifed' (did you mean 'Qualified (→ SQL)'?)",
    )
    events = pd.concat([events, events.iloc[[0]]], ignore_index=True)
    expected["stage_events", len(events)] = ("duplicate", "duplicate event (first at row 1)")
    events.loc[len(events) - 3, "reason"] = "prezzo troppo alto (5.000 €)"

    # Opportunities: row 1 points to no lead, yet stays the first copy of its id:
    # the duplicate check comes before the orphan check.
    opportunities = pd.concat([opportunities, opportunities.iloc[[0]]], ignore_index=True)
    expected["opportunities", len(opportunities)] = (
        "duplicate",
        "duplicate opportunity_id (first at row 1)",
    )
    opportunities.loc[0, "lead_id"] = "L9999999"
    expected["opportunities", 1] = (
        "orphan lead_id",
        "lead_id 'L9999999' is not in the leads table",
    )

    # Activities: blank ids are never duplicates; a copy of row 3 at the end is.
    activities.loc[[1, 11], "activity_id"] = None
    activities = pd.concat([activities, activities.iloc[[2]]], ignore_index=True)
    expected["activities", len(activities)] = (
        "duplicate",
        "duplicate activity_id (first at row 3)",
    )

    accounts = pd.concat([accounts, accounts.iloc[[0]]], ignore_index=True)
    expected["accounts", len(accounts)] = ("duplicate", "duplicate account_id (first at row 1)")

    # The rows of the two leads rejected above are orphans in every other table.
    lost_leads = {
        tables["leads"]["lead_id"].iloc[4]: "belongs to a rejected lead (leads row 5)",
        tables["leads"]["lead_id"].iloc[8]: "is not in the leads table",
    }
    for name, frame in [
        ("stage_events", events),
        ("activities", activities),
        ("opportunities", opportunities),
    ]:
        for position, lead_id in enumerate(frame["lead_id"]):
            if lead_id in lost_leads:
                reason = f"lead_id {lead_id!r} {lost_leads[lead_id]}"
                expected[name, position + 1] = ("orphan lead_id", reason)

    raw = {
        "leads": leads,
        "stage_events": events,
        "opportunities": opportunities,
        "activities": activities,
        "accounts": accounts,
    }
    return raw, expected


def write_csv_folder(raw, folder):
    """Each table as a CRM export might come: BOM, cp1252, ';', tab, gzip."""
    folder.mkdir()
    raw["leads"].to_csv(folder / "leads.csv", index=False, encoding="utf-8-sig")
    raw["stage_events"].to_csv(folder / "stage_events.csv", index=False, encoding="cp1252")
    raw["activities"].to_csv(folder / "activities.csv", index=False, sep=";")
    raw["opportunities"].to_csv(folder / "opportunities.csv", index=False, sep="\t")
    with gzip.open(folder / "accounts.csv.gz", "wt", encoding="utf-8", newline="") as handle:
        raw["accounts"].to_csv(handle, index=False, sep=";")
    return folder


def write_parquet_folder(raw, folder):
    """Typed Parquet, several row groups; integers and booleans with nulls far from row 1."""
    folder.mkdir()
    for name, frame in raw.items():
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if name == "leads":
            employees = pd.to_numeric(frame["employees"]).astype("Int64")
            flags = frame["target_account"].map({"True": True, "False": False}).astype(object)
            flags.iloc[-3] = None
            for column, values, kind in [
                ("employees", employees, pa.int64()),
                ("target_account", flags, pa.bool_()),
            ]:
                at = table.schema.get_field_index(column)
                table = table.set_column(at, column, pa.array(values, kind, from_pandas=True))
            table = table.replace_schema_metadata()  # as a warehouse writes it: no pandas types
        # The leads file has no statistics: its null counts are read from the data.
        pq.write_table(
            table,
            folder / f"{name}.parquet",
            row_group_size=50,
            write_statistics=name != "leads",
        )
    return folder


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    raw, expected = planted_tables()
    base = tmp_path_factory.mktemp("chunked")
    return {
        "csv": write_csv_folder(raw, base / "csv"),
        "parquet": write_parquet_folder(raw, base / "parquet"),
        "expected": expected,
    }


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_whole_files_give_the_hand_checked_rejections(planted, file_format):
    ds = fm.load(planted[file_format])
    got = {
        (r.table, r.row): (r.rule, r.reason)
        for r in ds.rejected[["table", "row", "rule", "reason"]].itertuples(index=False)
    }
    assert got == planted["expected"]
    summary = ds.summary
    assert (summary["read"] == summary["accepted"] + summary["rejected"]).all()


def test_csv_text_survives_quotes_and_encodings(planted):
    ds = fm.load(planted["csv"])
    reasons = ds.stage_events["reason"]
    assert (reasons == MULTILINE_REASON).sum() == 4
    assert (reasons == "prezzo troppo alto (5.000 €)").sum() == 1
    # Attribute columns are typed once, on the whole column, as pandas reads a CSV.
    assert ds.leads["employees"].dtype == "float64"
    assert ds.leads["postcode"].iloc[0] == "00000"
    assert ds.leads["target_account"].dtype == bool


def test_parquet_columns_keep_the_types_pandas_gives_them(planted):
    ds = fm.load(planted["parquet"])
    # pandas reads a whole integer column holding a null as float64, booleans as object.
    assert ds.leads["employees"].dtype == "float64"
    assert ds.leads["target_account"].dtype == object
    record = ds.rejected.set_index(["table", "row"]).loc[("leads", 5), "record"]
    assert json.loads(record)["employees"] == 40.0


def test_a_malformed_row_names_the_file(tmp_path):
    rows = [f"L{i},2024-01-0{1 + i % 9}" for i in range(20)]
    rows[15] += ",extra,fields"
    (tmp_path / "leads.csv").write_text("lead_id,created_at\n" + "\n".join(rows) + "\n")
    (tmp_path / "stage_events.csv").write_text("lead_id,stage,entered_at\n")
    with pytest.raises(FunnelDataError, match=r"leads\.csv: malformed CSV"):
        fm.load(tmp_path)


def test_empty_parquet_table_is_an_empty_table(tmp_path):
    pd.DataFrame({"lead_id": ["L1"], "created_at": ["2024-01-01"]}).to_parquet(
        tmp_path / "leads.parquet"
    )
    pd.DataFrame({"lead_id": [], "stage": [], "entered_at": []}, dtype="str").to_parquet(
        tmp_path / "stage_events.parquet"
    )
    ds = fm.load(tmp_path)
    assert ds.summary["read"].tolist() == [1, 0, 0, 0, 0]
    assert list(ds.stage_events.columns[:3]) == ["lead_id", "stage", "entered_at"]


def test_activities_without_ids_are_duplicates_of_a_whole_earlier_row(tmp_path):
    (tmp_path / "leads.csv").write_text("lead_id,created_at\nL1,2024-01-01\nL2,2024-01-02\n")
    (tmp_path / "stage_events.csv").write_text("lead_id,stage,entered_at\nL1,Lead,2024-01-01\n")
    rows = [f"L{1 + i % 2},2024-02-{1 + i:02d},call,row {i}" for i in range(10)]
    rows.append(rows[1])  # row 11 repeats row 2, four chunks later
    rows.append(rows[2].replace("call", "email"))  # not a copy: one value differs
    (tmp_path / "activities.csv").write_text(
        "lead_id,occurred_at,kind,note\n" + "\n".join(rows) + "\n"
    )
    ds = fm.load(tmp_path)
    assert ds.rejected[["table", "row", "reason"]].values.tolist() == [
        ["activities", 11, "duplicate row (first at row 2)"]
    ]
    assert len(ds.activities) == 11
