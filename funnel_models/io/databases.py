"""Canonical tables stored in a database: SQLite and DuckDB files, PostgreSQL servers.

The tables carry the canonical names (``leads``, ``stage_events``, ...; matched
case-insensitively). Databases are opened read-only, always: a SQLite file by
its literal path (``#``, ``%`` and ``?`` in a name are part of the name), a
DuckDB file with its access to other files switched off (a view that reads a
file fails instead of reading it), its tables streamed into the engine as Arrow. PostgreSQL URLs follow libpq:
``postgresql://user[:password]@host[:port]/dbname[?schema=crm&sslmode=require]``
(``schema`` defaults to ``public``; a password may also come from ``PGPASSWORD``
or ``~/.pgpass``). PostgreSQL tables are streamed through a server-side cursor
in chunks of :data:`CHUNK_ROWS` rows, so the client never holds the raw result
set and the pandas frame at once. Errors name the host, never the password.
"""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from funnel_models._errors import FunnelDataError
from funnel_models.core.redaction import redact
from funnel_models.core.schema import (
    POS,
    TABLES,
    RawRelation,
    RawTable,
    engine_view,
    normalize_column,
)

CHUNK_ROWS = 50_000


def read_database(url: str | Path):
    """Read the canonical tables (same names) from ``sqlite:///file``, ``duckdb:///file``
    or ``postgresql://...``."""
    text = str(url)
    if text.split("://", 1)[0].lower().split("+")[0] in ("postgres", "postgresql"):
        return read_postgres(text)
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
        tables = {
            name: RawTable(df, f"{path} table {name}", path=path) for name, df in frames.items()
        }
    elif scheme == "duckdb":
        tables = _read_duckdb(path)
    else:
        raise FunnelDataError(f"{text}: unsupported database scheme {scheme!r}")
    for name in ("leads", "stage_events"):
        if name not in tables:
            raise FunnelDataError(
                f"{path}: no {name!r} table (tables found: {', '.join(tables) or 'none'})"
            )
    return tables, f"{scheme}:///{path}", None


def _read_sqlite(path: Path) -> dict[str, pd.DataFrame]:
    try:
        # A URI of the literal path: '#', '%' and '?' in a file name are part of it.
        con = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)
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


def _read_duckdb(path: Path) -> dict[str, RawRelation]:
    import duckdb

    from funnel_models.core.store import connect_readonly

    try:
        con = connect_readonly(path)
    except duckdb.Error as exc:
        raise FunnelDataError(
            f"{path}: not a readable DuckDB database ({_first_line(exc)})"
        ) from None
    names = {
        row[0].lower(): row[0]
        for row in con.execute(
            "select table_name from information_schema.tables "
            "where table_catalog = 'store' and table_schema = 'main'"
        ).fetchall()
    }
    return {t: DuckDBTable(con, path, names[t]) for t in TABLES if t in names}


class DuckDBTable(RawRelation):
    """A table of a user's DuckDB file, streamed into the engine as Arrow record batches."""

    def __init__(self, source_con, path: Path, table: str) -> None:
        self._source = source_con
        self._table = table
        self.path = path
        self.source = f"{path} table {table}"

    def relation(self, backend):
        import duckdb

        from funnel_models.core.store import arrow_batches

        name = self._copied(f"fm_db_{next(_names)}")
        try:
            reader = arrow_batches(
                self._source.sql(f"select * from {_ident(self._table)}"), 100_000
            )
            backend.con.register(f"{name}_in", reader)
            try:
                backend.con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {name}_in")
            finally:
                backend.con.unregister(f"{name}_in")
        except duckdb.Error as exc:
            raise FunnelDataError(f"{self.source}: cannot read it ({_first_line(exc)})") from None
        columns = [r[0] for r in backend.con.execute(f"DESCRIBE {name}").fetchall()]
        select = ", ".join(f"{_ident(c)} AS {_ident(normalize_column(c))}" for c in columns)
        return engine_view(
            backend,
            f"SELECT {select}, rowid + 1 AS {POS} FROM {name}",
        )


_names = itertools.count(1)


def _ident(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


# ---------------------------------------------------------------------- PostgreSQL
def read_postgres(url: str):
    """Read the canonical tables from a PostgreSQL database (see the module docstring)."""
    shown = redact(url)
    conninfo, schema, host, port = _pg_conninfo(url)
    try:
        import psycopg
    except ImportError:
        raise FunnelDataError(
            f"{shown}: reading PostgreSQL needs psycopg; install it with "
            "pip install 'psycopg[binary]'"
        ) from None
    try:
        con = psycopg.connect(conninfo, connect_timeout=10)
    except psycopg.Error as exc:
        detail = _pg_error(exc, url)
        raise FunnelDataError(
            f"{shown}: cannot connect to PostgreSQL on host {host!r} port {port} ({detail})"
        ) from None
    try:
        with con.cursor() as cur:
            cur.execute(
                "select table_name from information_schema.tables where table_schema = %s",
                (schema,),
            )
            names = {row[0].lower(): row[0] for row in cur.fetchall()}
        if not names:
            raise FunnelDataError(
                f"{shown}: schema {schema!r} has no tables (add ?schema=NAME to the URL "
                "if the tables live in another schema)"
            )
        frames = {t: _pg_table(con, schema, names[t]) for t in TABLES if t in names}
    except psycopg.Error as exc:
        raise FunnelDataError(f"{shown}: query failed ({_pg_error(exc, url)})") from None
    finally:
        con.close()
    label = f"{shown.split('?', 1)[0]}"
    tables: dict[str, RawRelation] = {
        name: RawTable(df, f"{label} table {name}") for name, df in frames.items()
    }
    for name in ("leads", "stage_events"):
        if name not in tables:
            raise FunnelDataError(
                f"{shown}: no {name!r} table in schema {schema!r} "
                f"(tables found: {', '.join(sorted(names)) or 'none'})"
            )
    return tables, label, None


def _pg_conninfo(url: str) -> tuple[str, str, str, str]:
    """libpq URL without the driver suffix and our ``schema`` parameter; schema, host, port."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme == "postgres":
        scheme = "postgresql"
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), "public") or "public"
    query = [(k, v) for k, v in query if k != "schema"]
    conninfo = urlunsplit((scheme, parts.netloc, parts.path, urlencode(query), ""))
    host = parts.hostname or next((v for k, v in query if k == "host"), None) or "localhost"
    try:
        port = str(parts.port or 5432)
    except ValueError:
        raise FunnelDataError(f"{redact(url)}: the port is not a number") from None
    return conninfo, schema, host, port


def _pg_error(exc: Exception, url: str) -> str:
    """The first line of a driver error, with the password (if any) blanked out."""
    from urllib.parse import unquote, urlsplit

    message = _first_line(exc)
    password = urlsplit(url).password
    if password:
        message = message.replace(password, "***").replace(unquote(password), "***")
    return message


def _pg_table(con, schema: str, table: str) -> pd.DataFrame:
    """One table, streamed in chunks through a named (server-side) cursor."""
    from psycopg import sql

    query = sql.SQL("select * from {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
    parts = []
    with con.cursor(name=f"fm_read_{table}") as cur:
        cur.itersize = CHUNK_ROWS
        cur.execute(query)
        columns = None
        while True:
            rows = cur.fetchmany(CHUNK_ROWS)
            if columns is None:
                columns = [d.name for d in cur.description]
            if not rows:
                break
            parts.append(pd.DataFrame.from_records(rows, columns=columns))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns or []})
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = _tidy_object_column(frame[column])
    return frame


def _tidy_object_column(values: pd.Series) -> pd.Series:
    """numeric (Decimal) columns as floats; everything else as it came."""
    from decimal import Decimal

    sample = values.dropna()
    if len(sample) and isinstance(sample.iloc[0], Decimal):
        return values.astype("float64")
    return values
