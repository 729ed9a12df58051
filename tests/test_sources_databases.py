"""The same generated dataset read from Parquet, CSV, SQLite, DuckDB and a real PostgreSQL
server gives identical results; database errors are one line and never echo a password.

The databases are filled here with the drivers' own tools (pandas.to_sql for SQLite,
DuckDB's read_parquet, psycopg COPY for PostgreSQL), not with the code under test.
The PostgreSQL server is started by tests/postgres_server.py (initdb + pg_ctl on
127.0.0.1, a free port, a temporary folder) and the tests skip when it cannot start.
"""

from __future__ import annotations

import sqlite3

import duckdb
import pandas as pd
import pytest

import funnel_models as fm
from funnel_models import FunnelDataError
from funnel_models.core.dataset import TABLES
from funnel_models.synthetic import generate

AS_OF = "2026-09-30"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("gen")
    generate(root / "parquet", n_leads=2000, seed=23, as_of=AS_OF)
    generate(root / "csv", n_leads=2000, seed=23, as_of=AS_OF, file_format="csv")
    frames = {t: pd.read_parquet(root / "parquet" / f"{t}.parquet") for t in TABLES}
    return root, frames


@pytest.fixture(scope="module")
def sqlite_url(generated):
    root, frames = generated
    path = root / "crm.db"
    with sqlite3.connect(path) as con:
        for name, frame in frames.items():
            frame.to_sql(name, con, index=False)
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def duckdb_url(generated):
    root, _ = generated
    path = root / "crm.duckdb"
    con = duckdb.connect(str(path))
    for name in TABLES:
        con.execute(
            f"create table {name} as select * from read_parquet('{root / 'parquet' / name}.parquet')"
        )
    con.close()
    return f"duckdb:///{path}"


_PG_TYPES = {"datetime64": "timestamptz", "float64": "double precision", "bool": "boolean"}


def _pg_type(dtype) -> str:
    text = str(dtype)
    for prefix, pg in _PG_TYPES.items():
        if text.startswith(prefix):
            return pg
    return "text"


@pytest.fixture(scope="module")
def postgres_url(generated):
    psycopg = pytest.importorskip("psycopg", reason="psycopg (v3) is not installed")
    from postgres_server import Unavailable, start

    try:
        server = start()
    except Unavailable as exc:
        pytest.skip(f"no PostgreSQL server can be started here: {exc}")
    _, frames = generated
    try:
        with psycopg.connect(server.url) as con:
            con.execute("create schema crm")
            for name, frame in frames.items():
                types = {c: _pg_type(frame[c].dtype) for c in frame.columns}
                if name == "opportunities":
                    types["won"] = "boolean"  # object column of True/False/None
                cols = ", ".join(f'"{c}" {t}' for c, t in types.items())
                con.execute(f'create table crm."{name}" ({cols})')
                with con.cursor().copy(f'copy crm."{name}" from stdin') as copy:
                    for row in (
                        frame.astype(object).where(frame.notna(), None).itertuples(index=False)
                    ):
                        copy.write_row(row)
        yield f"{server.url}?schema=crm"
    finally:
        server.stop()


def _analysis(ds):
    counts = fm.stage_counts(ds)
    spells = (
        fm.spells(ds, as_of=AS_OF)
        .sort_values(["lead_id", "entered_at", "stage"], kind="stable")
        .reset_index(drop=True)
    )
    keep = ["lead_id", "stage", "visit", "entered_at", "exited_at", "outcome", "days_in_stage"]
    return counts, spells[keep], ds.summary


def _assert_same(ds, reference, label):
    counts, spells, summary = _analysis(ds)
    ref_counts, ref_spells, ref_summary = reference
    pd.testing.assert_frame_equal(counts, ref_counts, obj=f"{label} stage_counts")
    pd.testing.assert_frame_equal(spells, ref_spells, check_dtype=False, obj=f"{label} spells")
    pd.testing.assert_frame_equal(summary, ref_summary, obj=f"{label} summary")


@pytest.fixture(scope="module")
def reference(generated):
    root, frames = generated
    ds = fm.load(root / "parquet")
    # sanity: the loader kept every row of the generator's Parquet files
    for name in TABLES:
        assert ds.summary.loc[name, "read"] == len(frames[name])
    return ds, _analysis(ds)


def test_csv_equals_parquet(generated, reference):
    root, _ = generated
    ds, ref = reference
    _assert_same(fm.load(root / "csv"), ref, "csv")


def test_sqlite_and_duckdb_equal_parquet(generated, reference, sqlite_url, duckdb_url):
    root, _ = generated
    ds, ref = reference
    funnel = root / "parquet" / "funnel.yaml"
    for url in (sqlite_url, duckdb_url):
        _assert_same(fm.load(url, funnel=funnel), ref, url.split(":")[0])


def test_postgresql_equals_parquet(generated, reference, postgres_url):
    root, _ = generated
    ds, ref = reference
    loaded = fm.load(postgres_url, funnel=root / "parquet" / "funnel.yaml")
    assert loaded.source.startswith("postgresql://funnel_test@127.0.0.1:")
    _assert_same(loaded, ref, "postgresql")
    # the typed columns arrive typed: ids as strings, timestamps in UTC, amounts as floats
    pd.testing.assert_series_equal(
        loaded.opportunities["amount"], ds.opportunities["amount"], check_names=False
    )
    assert str(loaded.leads["created_at"].dtype) == "datetime64[ns, UTC]"


def test_postgresql_through_the_cli(postgres_url, capsys):
    from funnel_models.cli import main

    code = main(["validate", postgres_url, "--format", "postgresql", "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert '"rows_rejected": 0' in out


def test_postgresql_missing_schema_and_table(postgres_url):
    base = postgres_url.split("?", 1)[0]
    with pytest.raises(FunnelDataError, match="schema 'nowhere' has no tables"):
        fm.load(f"{base}?schema=nowhere")
    with pytest.raises(FunnelDataError, match="no 'leads' table in schema 'public'"):
        import psycopg

        with psycopg.connect(base) as con:
            con.execute("create table if not exists public.stage_events (lead_id text)")
        fm.load(base)


def test_unreachable_database_names_host_never_password():
    with pytest.raises(FunnelDataError) as info:
        fm.load("postgresql://ann:pa55word@127.0.0.1:1/crm")
    message = str(info.value)
    assert "\n" not in message
    assert "host '127.0.0.1' port 1" in message
    assert "pa55word" not in message
    assert "postgresql://ann:***@127.0.0.1:1/crm" in message


def test_unreachable_database_through_the_cli(capsys):
    from funnel_models.cli import main

    code = main(["validate", "postgresql://ann:pa55word@127.0.0.1:1/crm"])
    err = capsys.readouterr().err
    assert code == 2
    assert "pa55word" not in err
    assert len(err.strip().splitlines()) == 1, err


def test_wrong_format_is_one_line(capsys, tmp_path):
    from funnel_models.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["validate", str(tmp_path), "--format", "hubspot"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'hubspot'" in capsys.readouterr().err
    with pytest.raises(FunnelDataError, match="unknown format 'hubspot-contact' .*did you mean"):
        fm.load(tmp_path, format="hubspot-contact")
