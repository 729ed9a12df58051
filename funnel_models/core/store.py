"""The funnel store: one DuckDB file holding a validated funnel dataset.

:func:`write_store` reads the raw tables of a source, runs the row rules
(:mod:`funnel_models.core.rules`) in DuckDB and writes, in one file:

=================== ==========================================================================
``leads`` ...       the accepted rows of the five canonical tables (``leads``,
                    ``stage_events``, ``activities``, ``opportunities``, ``accounts``), typed,
                    in input order
``rejected``        every rejected row: table, source, row, column, value, rule, reason, record
``visits``          the stage visits at the snapshot
                    (:func:`funnel_models.core.visits.visits_expr`), computed once
``fm_store``        key/value metadata: the format marker and version, the snapshot ``as_of``,
                    the funnel definition (JSON), the source, the parsing options
``fm_tables``       rows read per canonical table (accepted + rejected = read)
``fm_inputs``       per input file: table, path, size in bytes, SHA-256, rows read
=================== ==========================================================================

A store file is written beside its destination and renamed into place once
complete (atomic on one file system), so a reader sees the old store or the new
one, never half of one; an existing file is replaced only if it is a funnel
store. :func:`open_store` opens one read-only, with DuckDB's access to other
files switched off (a store is data, never a program). Without a path the store
lives in memory: that is how a raw source is analysed directly.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from funnel_models._errors import FunnelDataError
from funnel_models.core.funnel import Funnel
from funnel_models.core.schema import (
    POS,
    PROBLEM_COLUMNS,
    REJECTED_COLUMNS,
    ROW,
    SCHEMA,
    SRC,
    TABLES,
    RawRelation,
    column_kinds,
)

__all__ = [
    "FORMAT",
    "VERSION",
    "Store",
    "arrow_batches",
    "arrow_table",
    "connect_readonly",
    "is_store",
    "open_store",
    "store_from_parts",
    "store_parts",
    "write_store",
]

FORMAT = "funnel_models store"
VERSION = 1
META, TABLE_ROWS, INPUTS = "fm_store", "fm_tables", "fm_inputs"
#: DuckDB's memory budget while ingesting (it spills to a temporary folder beyond).
MEMORY_LIMIT = "1500MB"

_ENGINE_TYPES = {
    "id": "VARCHAR",
    "text": "VARCHAR",
    "stage": "VARCHAR",
    "timestamp": "TIMESTAMPTZ",
    "number": "DOUBLE",
    "bool": "BOOLEAN",
}
# Validation order: leads before the tables that refer to them.
_ORDER = ("accounts", "leads", "stage_events", "activities", "opportunities")
_BATCH_ROWS = 100_000


@dataclass
class Store:
    """An open funnel store: its DuckDB connection (as an Ibis backend) and its metadata."""

    backend: Any
    funnel: Funnel
    as_of: pd.Timestamp | None
    source: str
    options: dict[str, Any]
    rows_read: dict[str, int]
    path: Path | None = None
    _visits_ready: bool = field(default=False, repr=False)

    @property
    def con(self):
        """The raw DuckDB connection."""
        return self.backend.con

    def visits(self):
        """The stored visits at the snapshot (computed on first use for a store in memory)."""
        if self.as_of is None:
            raise FunnelDataError("the stage_events table is empty: there is nothing to analyse")
        if not self._visits_ready and not _has_table(self.con, "visits"):
            _write_visits(self.backend, self.funnel, self.as_of)
        self._visits_ready = True
        return self.backend.table("visits")


# ---------------------------------------------------------------------- opening
def is_store(path: str | Path) -> bool:
    """Whether ``path`` is a funnel store file (a DuckDB file with the store's marker)."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError:
        return False
    if head[8:12] != b"DUCK":
        return False
    try:
        con = connect_readonly(path)
    except Exception:
        return False
    try:
        return _marker(con) is not None
    finally:
        con.close()


def connect_readonly(path: str | Path):
    """A DuckDB connection to a database file, read-only and without access to other files.

    The file is attached to a fresh in-memory database (never DuckDB's shared
    instance of that path, so a file replaced since is read anew and readers of
    the old one keep it); then file access is switched off for good, so a view
    in the file that reads another file fails instead.
    """
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"ATTACH {_literal(str(path))} AS store (READ_ONLY)")
    con.execute("USE store")
    con.execute("SET enable_external_access = false")
    return con


def _marker(con) -> dict[str, str] | None:
    """The store's metadata, or None when the database holds no funnel store."""
    try:
        rows = con.execute(f"SELECT key, value FROM main.{META}").fetchall()
    except Exception:
        return None
    meta = {str(k): v for k, v in rows}
    return meta if meta.get("format") == FORMAT else None


def open_store(path: str | Path) -> Store:
    """Open a store file read-only (see the module docstring)."""
    import ibis

    path = Path(path)
    try:
        con = connect_readonly(path)
    except Exception as exc:
        raise FunnelDataError(
            f"{path}: cannot open the funnel store ({_first_line(exc)})"
        ) from None
    meta = _marker(con)
    if meta is None:
        con.close()
        raise FunnelDataError(f"{path}: not a funnel store (no {META} marker)")
    version = int(meta.get("version") or 0)
    if version != VERSION:
        con.close()
        raise FunnelDataError(
            f"{path}: funnel store version {version}; this funnel_models reads version "
            f"{VERSION}. Ingest the source again: funnel-models ingest SOURCE --store {path}"
        )
    rows = dict(con.execute(f"SELECT table_name, rows_read FROM {TABLE_ROWS}").fetchall())
    return Store(
        backend=ibis.duckdb.from_connection(con),
        funnel=Funnel.from_dict(json.loads(meta["funnel"])),
        as_of=pd.Timestamp(meta["as_of"]) if meta.get("as_of") else None,
        source=meta.get("source", str(path)),
        options=json.loads(meta.get("options") or "{}"),
        rows_read={t: int(rows.get(t, 0)) for t in TABLES},
        path=path,
        _visits_ready=True,
    )


def store_parts(store: Store) -> dict:
    """Everything a store holds, as pandas and plain values (to copy or pickle a store)."""
    con = store.con
    tables = {
        name: arrow_table(con, f"SELECT * FROM {_q(name)}")
        for name in (*TABLES, "rejected", TABLE_ROWS, INPUTS)
    }
    return {
        "tables": tables,
        "funnel": store.funnel.to_dict(),
        "as_of": store.as_of,
        "source": store.source,
        "options": dict(store.options),
        "rows_read": dict(store.rows_read),
    }


def store_from_parts(parts: dict) -> Store:
    """A store in memory holding :func:`store_parts` (no validation: the rows already passed)."""
    import duckdb
    import ibis

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    backend = ibis.duckdb.from_connection(con)
    con.execute("SET TimeZone = 'UTC'")
    for name, frame in parts["tables"].items():
        con.register("fm_part", frame)
        con.execute(f"CREATE TABLE {_q(name)} AS SELECT * FROM fm_part")
        con.unregister("fm_part")
    funnel = Funnel.from_dict(parts["funnel"])
    return Store(
        backend, funnel, parts["as_of"], parts["source"], parts["options"], parts["rows_read"]
    )


# ---------------------------------------------------------------------- writing
def write_store(
    raw: Mapping[str, RawRelation],
    *,
    funnel: Funnel,
    source: str = "<memory>",
    path: str | Path | None = None,
    timezone: str = "UTC",
    dayfirst: bool = False,
    as_of: Any = None,
    memory_limit: str | None = None,
) -> Store:
    """Validate raw tables and write them as a funnel store.

    Parameters
    ----------
    raw
        Table name -> raw table (``leads`` and ``stage_events`` at least).
    funnel
        The funnel the stages are checked against.
    source
        How the source is named in messages and in the store.
    path
        The store file to write (atomically); None keeps the store in memory.
    timezone, dayfirst
        How naive and ambiguous text timestamps are read.
    as_of
        The snapshot; default: the latest accepted stage event.
    memory_limit
        DuckDB's memory budget (default :data:`MEMORY_LIMIT`); it spills to disk beyond.

    Returns
    -------
    Store
        The store, open: read-only from the file when ``path`` is given.
    """
    import duckdb
    import ibis

    from funnel_models.core._parsing import install
    from funnel_models.core._time import resolve_as_of

    destination = None if path is None else Path(path)
    if destination is not None:
        _check_destination(destination, raw)
    target = None
    try:
        if destination is None:
            con = duckdb.connect()
        else:
            fd, name = tempfile.mkstemp(
                prefix=f".{destination.name}.", suffix=".ingest", dir=destination.parent
            )
            os.close(fd)
            os.remove(name)  # DuckDB creates the file itself
            target = Path(name)
            con = duckdb.connect(str(target))
        con.execute("SET enable_progress_bar = false")
        con.execute(f"SET memory_limit = '{memory_limit or MEMORY_LIMIT}'")
        con.execute("SET temp_directory = ?", [str(_spill_folder())])
        backend = ibis.duckdb.from_connection(con)
        con.execute("SET TimeZone = ?", [timezone])  # naive text timestamps are read here
        install(con)
        checksums = _Checksums([t.path for t in raw.values() if t.path is not None])
        rows_read = _validate_into(backend, raw, funnel, dayfirst=dayfirst)
        snapshot = resolve_as_of(as_of)
        if snapshot is None:
            latest = con.execute("SELECT max(entered_at) FROM stage_events").fetchall()[0][0]
            snapshot = None if latest is None else resolve_as_of(pd.Timestamp(latest))
        options = {"timezone": timezone, "dayfirst": dayfirst}
        _write_metadata(con, funnel, snapshot, source, options, rows_read, raw, checksums)
        if destination is None:
            con.execute("SET TimeZone = 'UTC'")
            return Store(backend, funnel, snapshot, source, options, rows_read)
        if snapshot is not None:
            _write_visits(backend, funnel, snapshot)
        con.execute("CHECKPOINT")
        con.close()
        _replace(target, destination)
        target = None
        return open_store(destination)
    finally:
        if target is not None:
            for leftover in (target, target.with_name(target.name + ".wal")):
                with contextlib.suppress(OSError):
                    leftover.unlink()


_spill: Path | None = None


def _spill_folder() -> Path:
    """A private folder DuckDB spills to beyond its memory limit, removed at exit."""
    global _spill
    if _spill is None:
        import atexit

        _spill = Path(tempfile.mkdtemp(prefix="funnel_models_spill_"))
        atexit.register(shutil.rmtree, _spill, ignore_errors=True)
    return _spill


def _check_destination(destination: Path, raw: Mapping[str, RawRelation]) -> None:
    """Refuse to replace anything but a funnel store, or to write over an input."""
    if destination.is_dir():
        raise FunnelDataError(f"{destination}: is a folder; give the store a file name")
    if not destination.parent.is_dir():
        raise FunnelDataError(f"{destination.parent}: no such folder for the store")
    inputs = {p.resolve() for t in raw.values() if t.path is not None for p in [Path(t.path)]}
    if destination.resolve() in inputs:
        raise FunnelDataError(f"{destination}: is one of the inputs; write the store elsewhere")
    if destination.exists() and not is_store(destination):
        raise FunnelDataError(
            f"{destination}: exists and is not a funnel store; refusing to replace it "
            "(choose another path or remove the file)"
        )


def _replace(new: Path, destination: Path) -> None:
    """Move the finished store into place atomically (and durably)."""
    with open(new, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(new, destination)
    with contextlib.suppress(OSError):  # not every file system syncs folders
        fd = os.open(destination.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _validate_into(backend, raw: Mapping[str, RawRelation], funnel, *, dayfirst) -> dict:
    """Check each table and write its accepted rows and its rejected rows; rows read per table."""
    from funnel_models.core.rules import Context

    con = backend.con
    con.execute(
        'CREATE TABLE rejected ("table" VARCHAR, source VARCHAR, "row" BIGINT, "column" VARCHAR, '
        "value VARCHAR, rule VARCHAR, reason VARCHAR, record VARCHAR)"
    )
    ctx = Context(backend=backend, funnel=funnel, dayfirst=dayfirst)
    rows_read = {}
    for name in _ORDER:
        table = raw.get(name)
        if table is None:
            _create_empty(con, name)
            rows_read[name] = 0
            continue
        try:
            rows_read[name] = _validate_table(backend, name, table, ctx)
        finally:
            con.execute(f"DROP VIEW IF EXISTS fm_raw_{name}")
            table.release(backend)
        if name == "leads":
            ctx.leads = backend.table("leads").select("lead_id", "created_at")
            if _has_table(con, "fm_rejected_lead_ids"):
                ctx.rejected_leads = backend.table("fm_rejected_lead_ids")
    return {t: rows_read.get(t, 0) for t in TABLES}


#: Compiled SQL per table shape (table, column types, options): the Ibis expressions of
#: the rules compile once per process, not once per dataset.
_COMPILED: dict[tuple, str] = {}


def _compiled(key: tuple, build) -> str:
    sql = _COMPILED.get(key)
    if sql is None:
        sql = _COMPILED[key] = build()
    return sql


def _validate_table(backend, name: str, table: RawRelation, ctx) -> int:
    """Check one raw table; write its accepted rows as ``name`` and its rejected rows.

    One pass parses the raw rows into the final table, in input order, with the
    bookkeeping columns and the flags the rules read (blank, unparsable); the
    rules then run on that typed table (joins, windows) and give the rejected
    positions, which are deleted from it before the extra columns are dropped.
    """
    import ibis

    from funnel_models.core.rules import CODE, DETAIL, VALUE, check, define_stage_names, parse

    con = backend.con
    source = table.relation(backend)
    raw = f"fm_raw_{name}"
    con.execute(f"CREATE TEMP VIEW {raw} AS {_sql(backend, source)}")
    relation = backend.table(raw)
    if name == "stage_events" and "stage" in relation.columns:
        values = con.execute(
            f"SELECT DISTINCT fm_strip(CAST(stage AS VARCHAR)) FROM {raw}"
        ).fetchall()
        define_stage_names(con, ctx.funnel, [v for (v,) in values])
    data = [c for c in relation.columns if not c.startswith("__fm_")]
    if any(c not in relation.columns for c in SCHEMA[name]["required"]):
        parse(relation, name, ctx, source=table.source)  # raises the one-line error
    types = _text_types(backend, relation, name, data) if getattr(table, "text_only", False) else {}
    shape = (
        name,
        tuple((c, str(t)) for c, t in relation.schema().items()),
        ctx.dayfirst,
        tuple(types.items()),
    )

    def typed_sql() -> str:
        parsed = parse(relation, name, ctx, source=table.source)
        columns = {c: parsed[c] for c in data}
        for column, kind in types.items():
            if kind != "string":
                columns[column] = parsed[column].strip().cast(kind)
        # Kept for the rules (dropped after them): the row numbers and sources when they
        # are not the position and the table's source, the adapter's problems, and the
        # flags a typed NULL cannot tell (unparsable values; blank vs unknown stages).
        flags = [c for c in parsed.columns if c.startswith("__fm_bad_")]
        flags += [f"__fm_blank_{c}" for c, k in column_kinds(name).items() if k == "stage"]
        keep = [c for c in relation.columns if c.startswith("__fm_") and c != POS]
        keep += [c for c in flags if c in parsed.columns]
        return ibis.to_sql(
            parsed.select(**columns, **{c: parsed[c] for c in keep}), dialect="duckdb"
        )

    con.execute(f"CREATE TABLE {name} AS {_compiled(('typed', *shape), typed_sql)}")
    n_read = con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
    extra = [r[0] for r in con.execute(f"DESCRIBE {name}").fetchall() if r[0].startswith("__fm_")]
    # the table was written in input order: its rowid is the position
    con.execute(f"CREATE TEMP VIEW fm_typed_{name} AS SELECT *, rowid + 1 AS {POS} FROM {name}")
    typed = backend.table(f"fm_typed_{name}")

    def rejected_sql() -> str:
        # Narrow: a duplicate rule's window carries the codes so far and the keys only.
        checked, _ = check(typed, name, ctx)
        problems = [checked[c] for c in PROBLEM_COLUMNS if c in checked.columns]
        row = checked[ROW] if ROW in checked.columns else checked[POS]
        sources = [checked[SRC]] if SRC in checked.columns else []  # else the table's source
        rejected = checked.filter(checked[CODE].notnull()).select(
            checked[POS], checked[CODE], checked[VALUE], checked[DETAIL], *problems, *sources,
            **{ROW: row.cast("int64")},
            **({"lead_id": checked["lead_id"]} if name == "leads" else {}),
        )  # fmt: skip
        return ibis.to_sql(rejected, dialect="duckdb")

    rules_shape = (*shape, ctx.leads is not None, ctx.rejected_leads is not None)
    temp = f"fm_rejected_{name}"
    con.execute(f"CREATE TEMP TABLE {temp} AS {_compiled(('rules', *rules_shape), rejected_sql)}")
    n_rejected = con.execute(f"SELECT count(*) FROM {temp}").fetchall()[0][0]
    if n_rejected:
        from funnel_models.core.rules import table_rules

        con.execute(f"DELETE FROM {name} WHERE rowid IN (SELECT {POS} - 1 FROM {temp})")
        rules = table_rules(name, typed.columns, ctx.funnel)
        _write_rejected(con, name, temp, rules, data, table.source)
    else:
        con.execute(f"DROP TABLE {temp}")
    con.execute(f"DROP VIEW fm_typed_{name}")
    for column in extra:
        con.execute(f"ALTER TABLE {name} DROP COLUMN {_q(column)}")
    return int(n_read)


def _text_types(backend, relation, name: str, data: list[str]) -> dict[str, str]:
    """Types for the attributes of a text-only source (CSV), as pandas' CSV reader gives them.

    int64 when every value read is an integer, float64 when every value is a
    number, boolean when every value is True/False (as pandas spells them),
    else text.
    """
    kinds = column_kinds(name)
    out = {}
    attributes = []
    for c in (c for c in data if c not in kinds):
        # As pandas decides: a column whose first value is neither a number nor True/False
        # is text, without a pass over the column.
        first = backend.con.execute(
            f"SELECT trim({_q(c)}) FROM fm_raw_{name} WHERE {_q(c)} IS NOT NULL LIMIT 1"
        ).fetchall()
        if first and not _number_or_flag(first[0][0]):
            out[c] = "string"
        else:
            attributes.append(c)
    if not attributes:
        return out
    checks = []
    for c in attributes:
        v = f"trim({_q(c)})"
        checks += [
            f"bool_and({v} IS NULL OR (regexp_full_match({v}, '[+-]?[0-9]+') "
            f"AND TRY_CAST({v} AS BIGINT) IS NOT NULL))",
            f"bool_and({v} IS NULL OR TRY_CAST({v} AS DOUBLE) IS NOT NULL)",
            f"bool_and({v} IS NULL OR {v} IN ('True', 'TRUE', 'true', 'False', 'FALSE', 'false'))",
            f"count({v})",
        ]
    row = backend.con.execute(f"SELECT {', '.join(checks)} FROM fm_raw_{name}").fetchall()[0]
    for i, c in enumerate(attributes):
        integer, number, boolean, present = row[4 * i : 4 * i + 4]
        if not present:
            out[c] = "string"
        elif integer:
            out[c] = "int64"
        elif number:
            out[c] = "float64"
        elif boolean:
            out[c] = "boolean"
        else:
            out[c] = "string"
    return out


def _number_or_flag(text: str) -> bool:
    if text in ("True", "TRUE", "true", "False", "FALSE", "false"):
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def _write_rejected(con, name: str, temp: str, rules, data: list[str], source: str) -> None:
    """Render the sentences and records of a table's rejected rows into ``rejected``.

    The records (every column as read) come from one pass over the raw table,
    for the rejected positions only.
    """
    from funnel_models.core.rules import render_reasons

    if name == "leads":
        con.execute(
            f'CREATE TEMP TABLE fm_rejected_lead_ids AS SELECT lead_id, min({ROW}) AS "row" '
            f"FROM {temp} WHERE lead_id IS NOT NULL GROUP BY lead_id"
        )
    columns = ", ".join(f"r.{_q(c)} AS __fm_record_{i}" for i, c in enumerate(data))
    con.execute(
        f"CREATE TEMP TABLE fm_records AS SELECT r.{POS}, {columns} FROM fm_raw_{name} r "
        f"SEMI JOIN {temp} USING ({POS})"
    )
    last = 0
    while True:
        frame = con.execute(
            f"SELECT * FROM {temp} JOIN fm_records USING ({POS}) WHERE {POS} > ? "
            f"ORDER BY {POS} LIMIT {_BATCH_ROWS}",
            [last],
        ).df()
        if frame.empty:
            break
        last = int(frame[POS].iloc[-1])
        records = frame[[f"__fm_record_{i}" for i in range(len(data))]].astype(object)
        records = records.where(records.notna(), None)
        records.columns = data
        records = records.to_dict(orient="records")
        rendered = render_reasons(frame, rules, records)
        out = pd.DataFrame(
            {
                "table": name,
                "source": frame[SRC].astype(object) if SRC in frame.columns else source,
                "row": frame[ROW].astype("int64"),
                "column": rendered["column"].astype(object),
                "value": rendered["value"],
                "rule": rendered["rule"].astype(object),
                "reason": rendered["reason"].astype(object),
                "record": [json.dumps(rec, default=str, ensure_ascii=False) for rec in records],
            }
        )
        con.register("fm_rejected_batch", out)
        columns_out = ", ".join(_q(c) for c in REJECTED_COLUMNS)
        con.execute(f"INSERT INTO rejected SELECT {columns_out} FROM fm_rejected_batch")
        con.unregister("fm_rejected_batch")
    con.execute(f"DROP TABLE {temp}")
    con.execute("DROP TABLE fm_records")


def arrow_table(con, sql: str):
    """A query's result as an Arrow table (DuckDB's relation API, old and new spellings)."""
    relation = con.sql(sql)
    return relation.to_arrow_table() if hasattr(relation, "to_arrow_table") else relation.arrow()


def arrow_batches(relation, rows: int):
    """A DuckDB relation (``con.sql(...)``) as an Arrow record batch reader of ``rows`` rows."""
    reader = getattr(relation, "to_arrow_reader", None) or relation.fetch_arrow_reader
    return reader(rows)


def _create_empty(con, name: str) -> None:
    spec = SCHEMA[name]
    columns = {**spec["required"], **spec["optional"]}
    body = ", ".join(f"{_q(c)} {_ENGINE_TYPES[k]}" for c, k in columns.items())
    con.execute(f"CREATE TABLE {name} ({body})")


def _write_visits(backend, funnel: Funnel, as_of: pd.Timestamp) -> None:
    import ibis

    from funnel_models.core.visits import visits_expr

    expr = visits_expr(backend.table("stage_events"), funnel, as_of)
    backend.con.execute(f"CREATE TABLE visits AS {ibis.to_sql(expr, dialect='duckdb')}")


def _write_metadata(con, funnel, as_of, source, options, rows_read, raw, checksums) -> None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        written_by = f"funnel_models {version('funnel_models')}"
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        written_by = "funnel_models"
    meta = {
        "format": FORMAT,
        "version": str(VERSION),
        "as_of": None if as_of is None else as_of.isoformat(),
        "funnel": json.dumps(funnel.to_dict()),
        "source": source,
        "options": json.dumps(options),
        "written_by": written_by,
    }
    con.execute(f"CREATE TABLE {META} (key VARCHAR, value VARCHAR)")
    con.executemany(f"INSERT INTO {META} VALUES (?, ?)", list(meta.items()))
    con.execute(f"CREATE TABLE {TABLE_ROWS} (table_name VARCHAR, rows_read BIGINT)")
    con.executemany(f"INSERT INTO {TABLE_ROWS} VALUES (?, ?)", list(rows_read.items()))
    con.execute(
        f"CREATE TABLE {INPUTS} (table_name VARCHAR, path VARCHAR, size_bytes BIGINT, "
        "sha256 VARCHAR, rows_read BIGINT)"
    )
    digests = checksums.result()
    rows = []
    for name, table in raw.items():
        if table.path is None:
            continue
        file = Path(table.path)
        size, digest = digests.get(file, (None, None))
        rows.append((name, str(file.resolve()), size, digest, rows_read.get(name, 0)))
    if rows:
        con.executemany(f"INSERT INTO {INPUTS} VALUES (?, ?, ?, ?, ?)", rows)


class _Checksums:
    """SHA-256 and size of the input files, computed in a thread while DuckDB works."""

    def __init__(self, paths) -> None:
        self._paths = list(dict.fromkeys(Path(p) for p in paths))
        self._out: dict[Path, tuple[int, str]] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for path in self._paths:
            try:
                with open(path, "rb") as handle:
                    digest = hashlib.file_digest(handle, "sha256").hexdigest()
                self._out[path] = (path.stat().st_size, digest)
            except OSError:
                self._out[path] = (None, None)

    def result(self) -> dict[Path, tuple[int, str]]:
        self._thread.join()
        return self._out


def _has_table(con, name: str) -> bool:
    """Whether the connection sees a table (or temporary table) of that name."""
    found = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name])
    return bool(found.fetchall()[0][0])


def _sql(backend, relation) -> str:
    import ibis

    return ibis.to_sql(relation, dialect="duckdb")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _q(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
