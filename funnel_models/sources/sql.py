"""Canonical tables stored in a database: SQLite and DuckDB files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd

from funnel_models._errors import FunnelDataError
from funnel_models.dataset import TABLES, RawTable


def read_database(url: str | Path):
    """Read the canonical tables (same names) from ``sqlite:///file`` or ``duckdb:///file``."""
    text = str(url)
    if "://" in text:
        # SQLAlchemy's convention: sqlite:///relative.db and sqlite:////absolute/path.db
        scheme, rest = text.split("://", 1)
        path = Path(rest[1:] if rest.startswith("/") else rest)
    else:
        path = Path(text)
        scheme = "duckdb" if path.suffix.lower() in (".duckdb", ".ddb") else "sqlite"
    scheme = scheme.lower()
    if not path.exists():
        raise FunnelDataError(f"{path}: database file not found")
    if scheme == "sqlite":
        frames = _read_sqlite(path)
    elif scheme == "duckdb":
        frames = _read_duckdb(path)
    else:
        raise FunnelDataError(f"{text}: unsupported database scheme {scheme!r}")
    tables = {name: RawTable(df, f"{path} table {name}") for name, df in frames.items()}
    for name in ("leads", "stage_events"):
        if name not in tables:
            raise FunnelDataError(
                f"{path}: no {name!r} table (tables found: {', '.join(frames) or 'none'})"
            )
    return tables, f"{scheme}:///{path}", None


def _read_sqlite(path: Path) -> dict[str, pd.DataFrame]:
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            names = {
                row[0].lower(): row[0]
                for row in con.execute(
                    "select name from sqlite_master where type in ('table','view')"
                )
            }
            return {
                t: pd.read_sql_query(f'select * from "{names[t]}"', con)
                for t in TABLES
                if t in names
            }
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise FunnelDataError(f"{path}: not a readable SQLite database ({exc})") from None


def _read_duckdb(path: Path) -> dict[str, pd.DataFrame]:
    import duckdb

    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise FunnelDataError(
            f"{path}: not a readable DuckDB database ({_first_line(exc)})"
        ) from None
    try:
        names = {
            row[0].lower(): row[0]
            for row in con.execute("select table_name from information_schema.tables").fetchall()
        }
        return {t: con.execute(f'select * from "{names[t]}"').df() for t in TABLES if t in names}
    finally:
        con.close()


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
