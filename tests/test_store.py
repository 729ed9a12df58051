"""The funnel store: what `ingest` writes, how it is opened, replaced and refused.

Expected values come from the input files themselves (hashlib, file sizes, plain
pandas counts) or from loading the same source without a store.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import funnel_models as fm
from funnel_models import FunnelDataError
from funnel_models.core.dataset import TABLES
from funnel_models.io import ingest
from funnel_models.synthetic import generate

AS_OF = "2026-09-30"
CLI = [sys.executable, "-m", "funnel_models.cli"]


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A generated Parquet folder with a few bad rows planted in stage_events."""
    root = tmp_path_factory.mktemp("store")
    folder = root / "crm"
    generate(folder, n_leads=600, seed=31, as_of=AS_OF)
    events = pd.read_parquet(folder / "stage_events.parquet")
    bad = events.head(2).copy()
    bad.loc[bad.index[0], "stage"] = "Qualifed"  # unknown stage
    bad.loc[bad.index[1], "lead_id"] = "L9999999"  # orphan
    events = pd.concat([events, bad, events.head(1)], ignore_index=True)  # + a copy of row 1
    events.to_parquet(folder / "stage_events.parquet", index=False)
    return folder


@pytest.fixture(scope="module")
def stored(source, tmp_path_factory):
    path = tmp_path_factory.mktemp("out") / "crm.fmstore"
    return ingest(source, path), path


def test_the_store_holds_what_loading_the_source_gives(source, stored):
    ds, path = stored
    direct = fm.load(source)
    again = fm.load(path)
    assert again.path == path and direct.path is None
    for table in TABLES:
        pd.testing.assert_frame_equal(again.table(table), direct.table(table), obj=table)
    pd.testing.assert_frame_equal(again.rejected, direct.rejected)
    pd.testing.assert_frame_equal(again.summary, direct.summary)
    assert again.funnel == direct.funnel
    assert again.source == str(source)
    # the three planted rows are rejected; nothing is lost
    assert again.summary.loc["stage_events", "rejected"] == 3
    summary = again.summary
    assert (summary["read"] == summary["accepted"] + summary["rejected"]).all()


def test_the_snapshot_and_the_input_files_are_recorded(source, stored):
    ds, path = stored
    events = pd.read_parquet(source / "stage_events.parquet")
    assert ds.as_of == pd.Timestamp(events["entered_at"].max()).tz_convert("UTC")
    con = duckdb.connect(str(path), read_only=True)
    inputs = con.execute("SELECT * FROM fm_inputs ORDER BY table_name").df()
    con.close()
    assert sorted(inputs["table_name"]) == sorted(TABLES)
    for row in inputs.itertuples():
        file = Path(row.path)
        assert file.parent == source
        assert row.size_bytes == file.stat().st_size
        assert row.sha256 == hashlib.sha256(file.read_bytes()).hexdigest()
        assert row.rows_read == len(pd.read_parquet(file))


def test_visits_at_the_snapshot_are_stored_and_equal_computed_ones(source, stored):
    ds, path = stored
    con = duckdb.connect(str(path), read_only=True)
    names = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    con.close()
    assert {"visits", "rejected", "fm_store", "fm_tables", "fm_inputs", *TABLES} <= names
    order = ["lead_id", "entered_at", "stage", "visit"]

    stored_visits = ds.backend.execute(ds.visits()).sort_values(order).reset_index(drop=True)
    computed = fm.load(source)
    fresh = computed.backend.execute(computed.visits(ds.as_of)).sort_values(order)
    pd.testing.assert_frame_equal(
        stored_visits, fresh.reset_index(drop=True)[stored_visits.columns], check_dtype=False
    )
    earlier = ds.backend.execute(ds.visits("2026-01-01"))
    assert len(earlier) < len(stored_visits)
    assert earlier["entered_at"].max() <= pd.Timestamp("2026-01-01", tz="UTC")


def test_reingesting_replaces_the_store_and_open_readers_keep_the_old_one(source, tmp_path):
    path = tmp_path / "crm.fmstore"
    old = ingest(source, path, as_of="2026-06-30")
    old_events = len(old.stage_events)
    small = tmp_path / "small"
    generate(small, n_leads=50, seed=2, as_of=AS_OF)
    new = ingest(small, path)
    assert len(new.leads) == 50
    # the dataset opened before the re-ingest still reads its snapshot
    assert old.as_of == pd.Timestamp("2026-06-30", tz="UTC")
    assert len(old.relation("leads").execute()) == 600
    assert old_events == len(old.table("stage_events"))
    assert len(fm.load(path).leads) == 50
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".crm.fmstore")]


def test_a_path_that_is_not_a_store_is_refused_and_left_alone(source, tmp_path):
    victim = tmp_path / "notes.duckdb"
    con = duckdb.connect(str(victim))
    con.execute("CREATE TABLE notes AS SELECT 'keep me' AS text")
    con.close()
    before = victim.read_bytes()
    for path in (victim, source / "leads.parquet"):
        with pytest.raises(FunnelDataError, match="not a funnel store|one of the inputs"):
            ingest(source, path)
    assert victim.read_bytes() == before
    with pytest.raises(FunnelDataError, match="is a folder"):
        ingest(source, tmp_path)


def test_a_failed_ingest_leaves_the_old_store(source, tmp_path, monkeypatch):
    from funnel_models.core import store as store_module

    path = tmp_path / "crm.fmstore"
    ingest(source, path)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(store_module, "_write_visits", broken)
    with pytest.raises(OSError, match="disk full"):
        ingest(source, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crm.fmstore"]


@pytest.mark.slow
def test_an_ingest_killed_at_any_moment_leaves_a_whole_store(source, tmp_path):
    path = tmp_path / "crm.fmstore"
    ingest(source, path, as_of="2026-06-30")
    code = (
        f"import sys; from funnel_models.io import ingest; ingest({str(source)!r}, {str(path)!r})"
    )
    for delay in (0.5, 1.0, 1.5, 2.0, 3.0):
        child = subprocess.Popen([sys.executable, "-c", code])
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        ds = fm.load(path)  # the old store or the new one, never a broken one
        assert ds.as_of in (pd.Timestamp("2026-06-30", tz="UTC"), fm.load(source).as_of)
        assert ds.summary.loc["leads", "read"] == 600


def test_a_store_is_opened_read_only_without_file_access(stored, tmp_path):
    ds, path = stored
    with pytest.raises(duckdb.Error):
        ds.backend.con.execute("CREATE TABLE evil AS SELECT 1")
    with pytest.raises(duckdb.Error, match="disabled"):
        ds.backend.con.execute("SELECT * FROM read_text('/etc/hostname')").fetchall()


def test_a_duckdb_source_cannot_read_other_files(tmp_path):
    path = tmp_path / "crm.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE leads AS SELECT 'L1' AS lead_id, '2024-01-01' AS created_at")
    con.execute(
        "CREATE VIEW stage_events AS SELECT 'L1' AS lead_id, 'Lead' AS stage, "
        "'2024-01-02' AS entered_at, content AS reason FROM read_text('/etc/hostname')"
    )
    con.close()
    with pytest.raises(FunnelDataError, match="disabled|Permission") as info:
        fm.load(f"duckdb:///{path}")
    assert Path("/etc/hostname").read_text().strip() not in str(info.value)


def test_store_version_and_marker_are_checked(stored, tmp_path):
    _, path = stored
    copy = tmp_path / "old.fmstore"
    copy.write_bytes(path.read_bytes())
    con = duckdb.connect(str(copy))
    con.execute("UPDATE fm_store SET value = '0' WHERE key = 'version'")
    con.close()
    with pytest.raises(FunnelDataError, match="version 0.*ingest the source again|Ingest"):
        fm.load(copy)


# ---------------------------------------------------------------------- literal paths
def test_brackets_and_stars_in_a_path_are_part_of_the_name(tmp_path):
    for name, lead in (("crm[1]", "BRACKETS"), ("crm1", "PLAIN"), ("crm*", "STAR")):
        folder = tmp_path / name
        folder.mkdir()
        pd.DataFrame({"lead_id": [lead], "created_at": ["2024-01-01"]}).to_parquet(
            folder / "leads.parquet"
        )
        (folder / "stage_events.csv").write_text(
            f"lead_id,stage,entered_at\n{lead},Lead,2024-01-02\n"
        )
    assert fm.load(tmp_path / "crm[1]").leads["lead_id"].tolist() == ["BRACKETS"]
    assert fm.load(tmp_path / "crm*").stage_events["lead_id"].tolist() == ["STAR"]


def test_sqlite_paths_are_literal_and_never_created(tmp_path):
    path = tmp_path / "crm #2 %41.db"
    with sqlite3.connect(path) as con:
        con.execute("create table leads (lead_id text, created_at text)")
        con.execute("insert into leads values ('L1', '2024-01-01')")
        con.execute("create table stage_events (lead_id text, stage text, entered_at text)")
        con.execute("insert into stage_events values ('L1', 'Lead', '2024-01-02')")
    assert len(fm.load(f"sqlite:///{path}").stage_events) == 1
    missing = tmp_path / "nothing #1.db"
    with pytest.raises(FunnelDataError, match="not found"):
        fm.load(f"sqlite:///{missing}")
    assert not missing.exists()


# ---------------------------------------------------------------------- command line
def _run(*args, cwd=None):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env)


def test_ingest_then_every_command_reads_the_store(source, tmp_path):
    path = tmp_path / "crm.fmstore"
    result = _run("ingest", source, "--store", path, "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["store"] == str(path)
    assert payload["tables"]["stage_events"]["rejected"] == 3
    checked = _run("validate", path, "--json", "--rejected", tmp_path / "r.csv")
    assert checked.returncode == 1
    assert json.loads(checked.stdout)["rows_rejected"] == 3
    assert len(pd.read_csv(tmp_path / "r.csv")) == 3
    funnel = _run("funnel", path, "--json")
    assert funnel.returncode == 0, funnel.stderr
    assert json.loads(funnel.stdout)


def test_ingest_errors_are_one_line(tmp_path):
    result = _run("ingest", tmp_path / "nowhere", "--store", tmp_path / "s.fmstore")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "no such file or folder" in result.stderr
    spark = _run("ingest", tmp_path, "--store", tmp_path / "s", "--engine", "spark")
    assert spark.returncode == 2 and "not available yet" in spark.stderr


def test_a_dataset_pickles_and_comes_back_the_same(source, stored):
    import pickle

    ds, path = stored
    in_memory = fm.load(source)
    for original in (ds, in_memory):
        copy = pickle.loads(pickle.dumps(original))
        assert copy.path == original.path and copy.as_of == original.as_of
        for table in TABLES:
            pd.testing.assert_frame_equal(copy.table(table), original.table(table), obj=table)
        pd.testing.assert_frame_equal(copy.rejected, original.rejected)
        pd.testing.assert_frame_equal(copy.summary, original.summary)
        assert len(copy.backend.execute(copy.visits())) == len(
            original.backend.execute(original.visits())
        )


def test_each_source_names_its_own_rejected_rows(tmp_path):
    # two sources of the same shape, read in one process (the compiled rules are reused)
    for name in ("north", "south"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "leads.csv").write_text("lead_id,created_at\nL1,2024-01-01\nL2,soon\n")
        (folder / "stage_events.csv").write_text("lead_id,stage,entered_at\nL1,Lead,2024-01-02\n")
        rejected = fm.load(folder).rejected
        assert rejected["source"].tolist() == [str(folder / "leads.csv")]
