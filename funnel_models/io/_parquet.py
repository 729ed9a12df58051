"""The fast path of ``funnel-models stalls``: a folder of canonical Parquet, inside DuckDB.

:func:`open_parquet_folder` reads ``leads``, ``stage_events`` and
``opportunities`` straight from their Parquet files into DuckDB, applies the
row checks of :func:`funnel_models.load` there in SQL, and computes the stage
visits in the same statement, so no table is pulled into pandas. The visits are
kept narrow: the lead is its row number, the stage a small integer, and the
lead's segment values small integer codes packed side by side into one or a few
64-bit words (:class:`Packing`; dictionaries kept here). The one window over the
log, the aggregates and the act-now query so move a few numbers, not strings.

:class:`CodedVisits` answers the four questions the stall analysis asks of the
visits — duration-grid counts per segment, transitions, first entry, and the
open visits past a threshold. Durations are whole microseconds and their grid
bins come from :func:`funnel_models.core.engine.duration_bin_sql`. The tests check
that every answer equals the portable Ibis path's
(:func:`funnel_models.core.engine.spell_expr`,
:func:`funnel_models.core.engine.stall_aggregate_expr`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from funnel_models.core._time import duration_bin_sql
from funnel_models.core.funnel import Funnel

#: Rules of the stage-event checks, in the order they are tried (code = position).
EVENT_RULES = (
    "blank id",
    "blank stage",
    "unknown stage",
    "blank timestamp",
    "bad timestamp",
    "orphan lead_id",
    "before lead created",
    "duplicate",
)
_TS_FROM, _TS_UNTIL = "1980-01-01 00:00:00+00", "2100-01-01 00:00:00+00"
#: What ``str.strip`` in :func:`funnel_models.load` removes: Unicode white space and the
#: four separator controls U+001C–U+001F (tested code point by code point).
_WHITESPACE = (
    "\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
_WS_SQL = "'" + _WHITESPACE + "'"
#: Lead columns :func:`funnel_models.load` strips and blanks (its ``id`` and ``text`` kinds);
#: other attributes stay as read (tested against ``dataset.SCHEMA``).
STRIPPED_LEAD_COLUMNS = ("account_id", "source")
_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                  "UINTEGER", "UBIGINT", "UHUGEINT")  # fmt: skip
#: Segment column types read here; others (dates, FLOAT, lists, ...) go through fm.load,
#: whose text forms of such values differ from DuckDB's.
_SEGMENT_TYPES = ("VARCHAR", "BOOLEAN", "DOUBLE", *_INTEGER_TYPES)
_names = itertools.count()


@dataclass
class ParquetFolder:
    """A folder of canonical Parquet tables opened and checked inside DuckDB.

    ``rows`` counts rows read, accepted and rejected per table (accepted +
    rejected == read) and ``rejection_reasons`` counts rejected rows by rule, the
    first failing rule of a row in the same order as :func:`funnel_models.load`.
    """

    kinds: dict[str, type]  # segment column -> Python type of its values
    visits: CodedVisits
    deal_size: float  # mean amount of accepted won opportunities (of all when none won); NaN
    funnel: Funnel
    rows: pd.DataFrame
    rejection_reasons: pd.DataFrame
    source: str


@dataclass(frozen=True)
class Packing:
    """Where each segment column's integer code sits in the packed words ``_p0``, ``_p1``, ….

    A column with ``n`` values takes ``n.bit_length()`` bits, so its all-ones
    value (:meth:`null_code`) is free to mean "no value". Columns fill a
    64-bit word before the next one starts.
    """

    fields: dict[str, tuple[str, int, int]]  # column -> (word, shift, bits)

    @classmethod
    def of(cls, sizes: dict[str, int]) -> Packing:
        fields, word, used = {}, 0, 0
        for column, n in sizes.items():
            bits = max(int(n).bit_length(), 1)
            if used + bits > 64:
                word, used = word + 1, 0
            fields[column] = (f"_p{word}", used, bits)
            used += bits
        return cls(fields)

    @property
    def words(self) -> list[str]:
        return list(dict.fromkeys(w for w, _, _ in self.fields.values()))

    def null_code(self, column: str) -> int:
        return (1 << self.fields[column][2]) - 1

    def pack_sql(self, codes: dict[str, str]) -> list[str]:
        """``word AS _pK`` SQL from each column's code expression (NULL when no value)."""
        parts: dict[str, list[str]] = {w: [] for w in self.words}
        for column, (word, shift, _) in self.fields.items():
            code = f"CAST(coalesce({codes[column]}, {self.null_code(column)}) AS UBIGINT)"
            parts[word].append(f"({code} << {shift})" if shift else code)
        return [" | ".join(p) + f" AS {w}" for w, p in parts.items()]

    def code_sql(self, column: str, prefix: str = "") -> str:
        """The column's code taken out of its word."""
        word, shift, bits = self.fields[column]
        return f"CAST(({prefix}{word} >> {shift}) & {(1 << bits) - 1} AS UINTEGER)"


@dataclass
class CodedVisits:
    """Stage visits in a DuckDB table with integer codes (see the module docstring).

    Table columns: ``lk`` (the lead's row in ``leads.parquet``), ``st`` / ``nx``
    (code of the stage and of the next one, NULL while open), ``rk`` (stage
    rank), ``entered_at``, ``exited_at``, ``_row`` (row in
    ``stage_events.parquet``), ``rule`` (code in :data:`EVENT_RULES`, NULL when
    accepted), ``ok`` (accepted and not after ``as_of``), ``keep`` (a visit of a
    progression stage or of the recycled stage), ``copied`` (the next event
    repeats this one's stage and time) and the lead's packed segment codes
    (:class:`Packing`).
    """

    con: Any  # DuckDB connection
    table: str
    leads_table: str
    events_file: Path
    has_owner: bool
    stages: list[str]  # code -> canonical stage name
    packing: Packing
    dictionaries: dict[str, list[str]]  # segment column -> its values by code
    as_of: pd.Timestamp

    # -------------------------------------------------------------- helpers
    def _as_of(self) -> str:
        return f"TIMESTAMPTZ '{pd.Timestamp(self.as_of).isoformat()}'"

    def _code(self, stage: str) -> int:
        return self.stages.index(stage)

    def _codes(self, stages) -> str:
        return ", ".join(str(self._code(s)) for s in stages) or "NULL"

    def _sql(self, sql: str) -> dict[str, np.ndarray]:
        return self.con.execute(sql).fetchnumpy()

    # -------------------------------------------------------------- questions
    def counts(self, columns, leak_stages, stages) -> pd.DataFrame:
        """Per (stage, segment column, value, duration bin): closed, leaking and open visits.

        The frame of :func:`funnel_models.core.engine.stall_aggregate_expr`, from
        one ``GROUPING SETS`` query: each visit falls in one class (open,
        closed, leaked), counted per (stage, column value, bin, class); a small
        second aggregate turns the classes into the three counts. The
        whole-stage rows (``column == ""``) are the first column's rows summed.
        """
        names = [f"g{i}" for i in range(len(columns))]
        fields = "".join(
            f"{self.packing.code_sql(c)} AS {n}, " for c, n in zip(columns, names, strict=True)
        )
        sets = ", ".join([f"(st, {n}, _bin, cls)" for n in names] or ["(st, _bin, cls)"])
        flags = "".join(f"GROUPING({n}) AS f{i}, " for i, n in enumerate(names))
        keys = "".join(f"{n}, f{i}, " for i, n in enumerate(names))
        raw = self._sql(
            f"""
            WITH v AS (
              SELECT st, {fields}{duration_bin_sql("us")} AS _bin,
                     CASE WHEN nx IS NULL THEN 0 WHEN nx IN ({self._codes(leak_stages)}) THEN 2
                          ELSE 1 END AS cls
              FROM (SELECT *, epoch_us(coalesce(exited_at, {self._as_of()})) - epoch_us(entered_at) AS us
                    FROM {self.table}
                    WHERE ok AND keep AND st IN ({self._codes(stages)}))
            ), classes AS (
              SELECT st, _bin, cls, {"".join(n + ", " for n in names)}{flags}count(*) AS n
              FROM v GROUP BY GROUPING SETS ({sets})
            )
            SELECT st, _bin, {keys}
                   coalesce(sum(n) FILTER (WHERE cls > 0), 0) AS closed,
                   coalesce(sum(n) FILTER (WHERE cls = 2), 0) AS leak,
                   coalesce(sum(n) FILTER (WHERE cls = 0), 0) AS open
            FROM classes GROUP BY ALL
            """
        )
        stage_names = np.asarray(self.stages, dtype=object)
        st = np.asarray(raw["st"], dtype=np.int64)
        parts = []
        for i, col in enumerate(columns):
            mask = np.asarray(raw[f"f{i}"]) == 0
            values = _decode(raw[names[i]][mask], self.dictionaries[col])
            parts.append(_count_frame(raw, mask, stage_names[st[mask]], col, values))
        if not columns:
            mask = np.ones(len(st), dtype=bool)
            parts.append(_count_frame(raw, mask, stage_names[st], "", None))
        else:
            whole = (
                parts[0]
                .groupby(["stage", "bin"], sort=False, as_index=False)[["closed", "leak", "open"]]
                .sum()
            )
            parts.insert(0, whole.assign(column="", value=None))
        cols = ["stage", "column", "value", "bin", "closed", "leak", "open"]
        return pd.concat([p[cols] for p in parts], ignore_index=True)

    def transitions(self) -> pd.DataFrame:
        """Closed visits per (stage, next_stage) with their summed days in stage."""
        raw = self._sql(
            f"""
            SELECT st, nx, count(*) AS n,
                   CAST(sum(epoch_us(exited_at) - epoch_us(entered_at)) AS DOUBLE) / 86400e6 AS days
            FROM {self.table} WHERE ok AND keep AND nx IS NOT NULL GROUP BY ALL
            """
        )
        stage_names = np.asarray(self.stages, dtype=object)
        return pd.DataFrame(
            {
                "stage": stage_names[np.asarray(raw["st"], dtype=np.int64)],
                "next_stage": stage_names[np.asarray(raw["nx"], dtype=np.int64)],
                "count": np.asarray(raw["n"], dtype=np.int64),
                "days": np.asarray(raw["days"], dtype=float),
            }
        )

    def close(self) -> None:
        """Nothing to free: the tables go with the connection."""

    def first_entered(self) -> Any:
        (first,) = self.con.execute(
            f"SELECT min(entered_at) FROM {self.table} WHERE ok AND keep"
        ).fetchall()[0]
        return first

    def late(self, thresholds: dict[str, float], limit: int | None) -> tuple[pd.DataFrame, dict]:
        """Open visits longer than their stage's threshold (days), longest overdue first.

        Returns (lead_id, stage, entered_at, days_in_stage, owner_id) rows —
        all or the first ``limit`` — and the count per stage.
        """
        thresholds = {  # as in the Ibis path: no finite threshold, no late visit
            s: t for s, t in thresholds.items() if s in self.stages and np.isfinite(t)
        }
        if not thresholds:
            return pd.DataFrame(columns=["lead_id", "stage", "entered_at", "days_in_stage",
                                         "owner_id"]), {}  # fmt: skip
        over = " ".join(f"WHEN {self._code(s)} THEN {float(t)!r}" for s, t in thresholds.items())
        late = f"fm_late_{next(_names)}"
        self.con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {late} AS
            SELECT lk, st, entered_at, _row, days, days - (CASE st {over} END) AS over
            FROM (SELECT *, (epoch_us({self._as_of()}) - epoch_us(entered_at)) / 86400e6 AS days
                  FROM {self.table}
                  WHERE ok AND keep AND nx IS NULL AND st IN ({self._codes(thresholds)}))
            WHERE over > 0
            """
        )
        try:
            per_stage = self._sql(f"SELECT st, count(*) AS n FROM {late} GROUP BY st")
            out = self.con.execute(
                f"""
                SELECT l.lead_id, v.st, v.entered_at, v.days AS days_in_stage, v._row
                FROM {late} v JOIN {self.leads_table} l ON v.lk = l._lk
                ORDER BY v.over DESC, l.lead_id {"" if limit is None else f"LIMIT {int(limit)}"}
                """
            ).df()
        finally:
            self.con.execute(f"DROP TABLE {late}")
        counts = {
            self.stages[int(s)]: int(n)
            for s, n in zip(per_stage["st"], per_stage["n"], strict=True)
        }
        out["stage"] = np.asarray(self.stages, dtype=object)[out["st"].to_numpy(np.int64)]
        out["owner_id"] = self._owners(out["_row"].to_numpy(np.int64))
        return out[["lead_id", "stage", "entered_at", "days_in_stage", "owner_id"]], counts

    def lead_combos(self, columns: list[str]) -> pd.DataFrame:
        """Accepted leads counted per combination of the values of ``columns`` (``_n``)."""
        names = [f"g{i}" for i in range(len(columns))]
        fields = ", ".join(
            f"{self.packing.code_sql(c)} AS {n}" for c, n in zip(columns, names, strict=True)
        )
        out = self._sql(
            f"SELECT {fields}, count(*) AS _n FROM {self.leads_table} WHERE rule IS NULL GROUP BY ALL"
        )
        frame = pd.DataFrame(
            {c: _decode(out[n], self.dictionaries[c]) for c, n in zip(columns, names, strict=True)}
        )
        frame["_n"] = np.asarray(out["_n"], dtype=np.int64)
        return frame

    def _owners(self, rows: np.ndarray) -> list:
        """``owner_id`` of the stage events at these file rows (None when absent or blank)."""
        if not self.has_owner or len(rows) == 0:
            return [None] * len(rows)
        raw = self.con
        wanted = pd.DataFrame({"_row": rows})
        name = f"fm_owner_rows_{next(_names)}"
        raw.register(name, wanted)
        try:
            found = raw.execute(
                f"""
                SELECT e.file_row_number AS _row,
                       NULLIF(TRIM(CAST(e.owner_id AS VARCHAR), {_WS_SQL}), '') AS owner_id
                FROM read_parquet('{_sql_str(self.events_file)}', file_row_number = true) e
                SEMI JOIN {name} w ON e.file_row_number = w._row
                """
            ).df()
        finally:
            raw.unregister(name)
        owner = dict(zip(found["_row"].to_numpy(np.int64), found["owner_id"], strict=True))
        return [owner.get(int(r)) for r in rows]


def _decode(codes, values: list[str]) -> np.ndarray:
    """Integer codes -> their values (None for a code past the dictionary: no value)."""
    lookup = np.asarray([*values, None], dtype=object)
    return lookup[np.minimum(np.asarray(codes, dtype=np.int64), len(values))]


def _count_frame(raw: dict, mask: np.ndarray, stages, column: str, values) -> pd.DataFrame:
    """Rows ``mask`` of a fetched counts query as (stage, column, value, bin, counts)."""
    return pd.DataFrame(
        {
            "stage": stages,
            "column": column,
            "value": np.full(int(mask.sum()), None, dtype=object) if values is None else values,
            **{
                c: np.asarray(raw[c], dtype=np.int64)[mask]
                for c in ("_bin", "closed", "leak", "open")
            },
        }
    ).rename(columns={"_bin": "bin"})


def open_parquet_folder(
    folder: Any,
    *,
    funnel: Funnel | None = None,
    timezone: str = "UTC",
    con: Any = None,
    attributes: Any = None,
    as_of: pd.Timestamp | None = None,
) -> ParquetFolder | None:
    """Open a folder of canonical Parquet tables in DuckDB, check the rows, build the visits.

    Returns None when the folder does not qualify for this fast path, that is
    when some column would be read differently from :func:`funnel_models.load`:
    no ``leads.parquet`` / ``stage_events.parquet``, a CSV beside them,
    timestamps not stored as timestamps, naive timestamps with a ``timezone``
    other than UTC, ids (``owner_id`` included) that are neither text nor
    integers, a non-numeric ``amount``, a non-boolean ``won`` or accounts'
    ``target_account``, or a segment column that is not text, boolean, integer
    or DOUBLE. Use :func:`funnel_models.load` then. Segment values are kept as
    ``load`` keeps them: ``source`` and ``account_id`` stripped (blank = missing),
    NaN missing. Timestamps are read to the microsecond.

    The checks, per row, first failing rule wins: leads — blank id, bad or blank
    ``created_at`` (outside 1980–2100), duplicate ``lead_id`` (the first copy
    stays); stage events — :data:`EVENT_RULES` (stages through the funnel's
    aliases; orphan = not an accepted lead; duplicate = same lead_id, stage and
    entered_at); opportunities — blank ``opportunity_id``, bad or blank
    ``created_at``, duplicate id, orphan ``lead_id``, closed before created,
    negative amount. ``activities`` and ``accounts`` are not read (a
    ``target_account`` flag missing from ``leads`` is taken from
    ``accounts.parquet`` by ``account_id``).

    ``attributes``: a function of the list of lead attribute columns available
    returning those to keep (default: all). ``as_of``: the snapshot (default:
    the latest accepted ``entered_at``); events after it are accepted but left
    out of the visits.
    """
    path = Path(str(folder))
    if not path.is_dir():
        return None
    files = {t: path / f"{t}.parquet" for t in ("leads", "stage_events", "opportunities")}
    if not files["leads"].exists() or not files["stage_events"].exists():
        return None
    for t in ("leads", "stage_events", "opportunities"):
        if (path / f"{t}.csv").exists():
            return None  # ambiguous: let the general reader decide
    if funnel is None and (path / "funnel.yaml").exists():
        funnel = Funnel.from_yaml(path / "funnel.yaml")
    funnel = funnel or Funnel.default()
    if con is None:
        import duckdb

        con = duckdb.connect()
    raw = con

    def schema(file: Path) -> dict[str, str]:
        rows = raw.execute(f"DESCRIBE SELECT * FROM read_parquet('{_sql_str(file)}')").fetchall()
        return {r[0]: r[1] for r in rows}

    def ts_ok(kind: str) -> bool:
        return kind.startswith("TIMESTAMP WITH TIME ZONE") or (
            kind.startswith("TIMESTAMP") and timezone == "UTC"
        )

    def id_ok(kind: str) -> bool:
        return kind == "VARCHAR" or kind in ("BIGINT", "INTEGER", "SMALLINT", "UBIGINT", "UINTEGER")

    s_leads, s_events = schema(files["leads"]), schema(files["stage_events"])
    need = {"leads": ("lead_id", "created_at"), "stage_events": ("lead_id", "stage", "entered_at")}
    for name, sch in (("leads", s_leads), ("stage_events", s_events)):
        if any(c not in sch for c in need[name]):
            return None  # the general reader reports the missing column
    if not (
        id_ok(s_leads["lead_id"])
        and id_ok(s_events["lead_id"])
        and ts_ok(s_leads["created_at"])
        and ts_ok(s_events["entered_at"])
        and s_events["stage"] == "VARCHAR"
        and ("owner_id" not in s_events or id_ok(s_events["owner_id"]))
    ):
        return None
    s_opps = schema(files["opportunities"]) if files["opportunities"].exists() else None
    if s_opps is not None and (
        "opportunity_id" not in s_opps
        or "created_at" not in s_opps
        or not id_ok(s_opps["opportunity_id"])
        or not ts_ok(s_opps["created_at"])
        or ("closed_at" in s_opps and not ts_ok(s_opps["closed_at"]))
        or ("lead_id" in s_opps and not id_ok(s_opps["lead_id"]))
        or ("amount" in s_opps and not _numeric(s_opps["amount"]))
        or ("won" in s_opps and s_opps["won"] != "BOOLEAN")
    ):
        return None  # fm.load parses what this path cannot read as it is

    raw.execute("SET TimeZone = 'UTC'")
    tag = next(_names)
    # ---- leads
    attrs = [c for c in s_leads if c not in ("lead_id", "created_at")]
    flag = None
    if "target_account" not in s_leads and "account_id" in s_leads:
        acc = path / "accounts.parquet"
        if acc.exists():
            s_acc = schema(acc)
            if "target_account" in s_acc and "account_id" in s_acc:
                flag = acc
    segments = attrs + (["target_account"] if flag is not None else [])
    if attributes is not None:
        keep = set(attributes(segments))
        segments = [c for c in segments if c in keep]
        if "target_account" not in keep:
            flag = None
    if flag is not None and (
        s_acc["target_account"] != "BOOLEAN" or not id_ok(s_acc["account_id"])
    ):
        return None  # fm.load parses the flag
    if any(s_leads[c] not in _SEGMENT_TYPES for c in segments if c in s_leads):
        return None
    # Segment values become small integer codes: booleans 0/1, other values their
    # position in a DuckDB ENUM of the column's distinct values (the dictionary);
    # a lead's codes are packed into one or a few 64-bit words (Packing).
    dictionaries, code_sql = {}, {}
    for c in segments:
        from_accounts = c == "target_account" and flag is not None
        column = "a.target_account" if from_accounts else f"l.{_ident(c)}"
        if from_accounts or s_leads[c] == "BOOLEAN":
            dictionaries[c] = ["False", "True"]  # as Python spells them (the other path's values)
            code_sql[c] = f"CAST({column} AS UTINYINT)"
            continue
        enum, text = f"fm_enum_{tag}_{len(code_sql)}", f"CAST({_ident(c)} AS VARCHAR)"
        raw.execute(
            f"CREATE TYPE {enum} AS ENUM (SELECT DISTINCT {text} "
            f"FROM read_parquet('{_sql_str(files['leads'])}') WHERE {_ident(c)} IS NOT NULL)"
        )
        values = [r[0] for r in raw.execute(f"SELECT unnest(enum_range(NULL::{enum}))").fetchall()]
        code = f"enum_code(CAST(CAST({column} AS VARCHAR) AS {enum}))"
        # the values fm.load would keep: stripped ids and text, NaN as missing
        kept = [_as_loaded(v, c, s_leads[c]) for v in values]
        if kept == values:
            dictionaries[c], code_sql[c] = values, code
        else:  # raw code -> code of the kept value, through a list
            dictionaries[c] = list(dict.fromkeys(v for v in kept if v is not None))
            position = {v: i for i, v in enumerate(dictionaries[c])}
            lookup = ", ".join("NULL" if v is None else str(position[v]) for v in kept)
            code_sql[c] = f"CAST([{lookup}] AS INTEGER[])[{code} + 1]"
    packing = Packing.of({c: len(v) for c, v in dictionaries.items()})
    join_flag = ""
    if flag is not None:
        # the flag of an account's first row with an id, as fm.load keeps it
        join_flag = f"""
            LEFT JOIN (
              SELECT _acc, target_account FROM (
                SELECT {_idv("account_id", kind=s_acc["account_id"])} AS _acc, target_account,
                       file_row_number AS _r
                FROM read_parquet('{_sql_str(flag)}', file_row_number = true))
              WHERE _acc IS NOT NULL
              QUALIFY row_number() OVER (PARTITION BY _acc ORDER BY _r) = 1
            ) a ON {_idv("account_id", "l.", s_leads["account_id"])} = a._acc"""
    leads_table = f"fm_leads_{tag}"
    raw.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {leads_table} AS
        SELECT {_idv("lead_id", "l.", s_leads["lead_id"])} AS lead_id, {_ts("created_at", "l.")} AS created_at,
               {"".join(sql + ", " for sql in packing.pack_sql(code_sql))}
               CAST(l.file_row_number AS {_row_type(raw, files["leads"])}) AS _lk,
               CASE WHEN {_idv("lead_id", "l.", s_leads["lead_id"])} IS NULL THEN 'blank id'
                    WHEN l.created_at IS NULL THEN 'blank timestamp'
                    WHEN {_bad_ts(_ts("created_at", "l."))} THEN 'bad timestamp' END AS rule
        FROM read_parquet('{_sql_str(files["leads"])}', file_row_number = true) l{join_flag}
        """
    )
    # later copies of a lead_id are duplicates (the UPDATE runs only when there are any)
    (extra,) = raw.execute(
        f"SELECT count(*) - count(DISTINCT lead_id) FROM {leads_table} WHERE rule IS NULL"
    ).fetchall()[0]
    if extra:
        raw.execute(
            f"""
            UPDATE {leads_table} SET rule = 'duplicate'
            FROM (SELECT lead_id, min(_lk) AS first_row FROM {leads_table} WHERE rule IS NULL
                  GROUP BY lead_id HAVING count(*) > 1) d
            WHERE {leads_table}.rule IS NULL AND {leads_table}.lead_id = d.lead_id
              AND {leads_table}._lk > d.first_row
            """
        )
    lead_counts = raw.execute(
        f"SELECT 'leads' AS tbl, rule, count(*) AS n FROM {leads_table} GROUP BY ALL"
    ).df()
    accepted = f"(SELECT * FROM {leads_table} WHERE rule IS NULL)"
    # ---- stage events: checks and visits in one statement (one window over the log)
    distinct = raw.execute(
        f"SELECT DISTINCT CAST(stage AS VARCHAR) FROM read_parquet('{_sql_str(files['stage_events'])}')"
    ).fetchall()
    names = list(funnel.names)
    recycled = funnel.outcome_stage("recycled")
    lookup_rows = []
    for (value,) in distinct:
        if value is None or not str(value).strip(_WHITESPACE):
            continue
        canonical = funnel.canonical_stage(str(value).strip(_WHITESPACE))
        if canonical is not None:
            kind = funnel.stage(canonical).kind or "progression"
            lookup_rows.append(
                (value, names.index(canonical), funnel.rank(canonical),
                 kind == "progression" or canonical == recycled)
            )  # fmt: skip
    lookup = pd.DataFrame(lookup_rows, columns=["raw_stage", "st", "rk", "keep"])
    lookup = lookup.astype({"raw_stage": object, "st": "uint8", "rk": "int16", "keep": bool})
    lookup_name = f"fm_stage_lookup_{tag}"
    raw.register(lookup_name, lookup)
    visits_table = f"fm_visits_{tag}"
    code_cols = "".join(f"l.{w}, " for w in packing.words)
    rule = "CASE " + " ".join(
        f"WHEN {cond} THEN {EVENT_RULES.index(name)}"
        for name, cond in (
            ("blank id", "r.lead_id IS NULL"),
            ("blank stage", f"m.st IS NULL AND (r.raw_stage IS NULL OR TRIM(r.raw_stage, {_WS_SQL}) = '')"),
            ("unknown stage", "m.st IS NULL"),
            ("blank timestamp", "r.entered_at IS NULL"),
            ("bad timestamp", _bad_ts("r.entered_at")),
            ("orphan lead_id", "l._lk IS NULL"),
            ("before lead created", "r.entered_at < l.created_at"),
        )
    ) + " END"  # fmt: skip
    events_sql = f"""
        SELECT {_idv("lead_id", kind=s_events["lead_id"])} AS lead_id, CAST(stage AS VARCHAR) AS raw_stage,
               {_ts("entered_at")} AS entered_at,
               CAST(file_row_number AS {_row_type(raw, files["stage_events"])}) AS _row
        FROM read_parquet('{_sql_str(files["stage_events"])}', file_row_number = true)
    """
    checked_sql = f"""
        SELECT l._lk AS lk, m.st, m.rk, m.keep, r.entered_at, r._row, {code_cols}
               CAST({rule} AS UTINYINT) AS rule
        FROM ({events_sql}) r
        LEFT JOIN {lookup_name} m ON r.raw_stage = m.raw_stage
        LEFT JOIN {accepted} l ON r.lead_id = l.lead_id
    """
    raw.execute(f"CREATE OR REPLACE TEMP TABLE {visits_table} AS {_window_sql(checked_sql, as_of)}")
    stats = _event_stats(raw, visits_table)
    if stats["copies"].sum():
        # later copies of an event: reject them, then recompute the window without them
        again = _window_sql(_copies_rejected(visits_table), as_of)
        raw.execute(f"CREATE OR REPLACE TEMP TABLE {visits_table} AS {again}")
        stats = _event_stats(raw, visits_table)
    raw.unregister(lookup_name)
    if as_of is None:
        latest = stats.loc[stats["rule"].isna(), "latest"]
        as_of = None if latest.empty or pd.isna(latest.iloc[0]) else pd.Timestamp(latest.iloc[0])
    event_counts = stats[["tbl", "rule", "n"]].copy()
    event_counts["rule"] = [
        None if pd.isna(r) else EVENT_RULES[int(r)] for r in event_counts["rule"]
    ]
    # ---- opportunities (amount and outcome, for the average deal size)
    deal_size = float("nan")
    counts = [lead_counts, event_counts]
    if s_opps is not None:
        opps_name = f"fm_opps_checked_{tag}"
        o_cols = ["amount"] if "amount" in s_opps else []
        o_cols += ["won"] if "won" in s_opps else []
        lead_expr = (
            _idv("lead_id", kind=s_opps["lead_id"])
            if "lead_id" in s_opps
            else "CAST(NULL AS VARCHAR)"
        )
        closed = _ts("closed_at") if "closed_at" in s_opps else "CAST(NULL AS TIMESTAMPTZ)"
        raw.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {opps_name} AS
            WITH r AS (
              SELECT {_idv("opportunity_id", kind=s_opps["opportunity_id"])} AS opportunity_id, {_ts("created_at")} AS created_at,
                     {closed} AS closed_at, {lead_expr} AS lead_id,
                     {"".join(f"CAST({_ident(c)} AS DOUBLE) AS amount, " if c == "amount" else _ident(c) + ", " for c in o_cols)} file_row_number AS _row
              FROM read_parquet('{_sql_str(files["opportunities"])}', file_row_number = true)
            ), f AS (
              SELECT r.*, CASE
                WHEN opportunity_id IS NULL THEN 'blank id'
                WHEN created_at IS NULL THEN 'blank timestamp'
                WHEN {_bad_ts("created_at")} THEN 'bad timestamp'
                WHEN closed_at IS NOT NULL AND {_bad_ts("closed_at")} THEN 'bad timestamp'
              END AS rule FROM r
            ), d AS (
              SELECT * REPLACE (
                CASE WHEN rule IS NULL AND row_number() OVER (
                       PARTITION BY opportunity_id, rule IS NULL ORDER BY _row) > 1
                     THEN 'duplicate' ELSE rule END AS rule)
              FROM f
            )
            SELECT d.* REPLACE (CASE
                WHEN d.rule IS NOT NULL THEN d.rule
                WHEN d.lead_id IS NOT NULL AND l.lead_id IS NULL THEN 'orphan lead_id'
                WHEN d.closed_at < d.created_at THEN 'closed before created'
                {"WHEN d.amount < 0 THEN 'negative amount'" if "amount" in o_cols else ""}
              END AS rule)
            FROM d LEFT JOIN {accepted} l ON d.lead_id = l.lead_id
            """
        )
        counts.append(
            raw.execute(
                f"SELECT 'opportunities' AS tbl, rule, count(*) AS n FROM {opps_name} GROUP BY ALL"
            ).df()
        )
        deal_size = _deal_size(raw, opps_name, o_cols)
    # ---- the row accounting
    counts = pd.concat(counts, ignore_index=True)
    tables = ["leads", "stage_events"] + (["opportunities"] if s_opps is not None else [])
    rows = pd.DataFrame(
        {
            "read": [int(counts.loc[counts.tbl == t, "n"].sum()) for t in tables],
            "accepted": [int(counts.loc[(counts.tbl == t) & counts.rule.isna(), "n"].sum())
                         for t in tables],
        },
        index=pd.Index(tables, name="table"),
    )  # fmt: skip
    rows["rejected"] = rows["read"] - rows["accepted"]
    reasons = (
        counts.loc[counts.rule.notna()]
        .rename(columns={"tbl": "table", "n": "rows"})
        .sort_values(["table", "rows"], ascending=[True, False], kind="stable")
        .reset_index(drop=True)
    )
    reasons["rows"] = reasons["rows"].astype("int64")
    visits = CodedVisits(
        con=con,
        table=visits_table,
        leads_table=leads_table,
        events_file=files["stage_events"],
        has_owner="owner_id" in s_events,
        stages=names,
        packing=packing,
        dictionaries=dictionaries,
        as_of=as_of,
    )
    kinds = {  # as fm.load types them: its id and text columns are text whatever is stored
        c: bool
        if c == "target_account" and flag is not None
        else str
        if c in STRIPPED_LEAD_COLUMNS
        else _python_kind(s_leads[c])
        for c in segments
    }
    return ParquetFolder(
        kinds=kinds, visits=visits, deal_size=deal_size, funnel=funnel,
        rows=rows, rejection_reasons=reasons, source=str(folder),
    )  # fmt: skip


def _deal_size(raw, opps_table: str, columns: list[str]) -> float:
    """Mean amount of the accepted won opportunities (of all of them when none is won)."""
    if "amount" not in columns:
        return float("nan")
    valid = "amount IS NOT NULL AND NOT isnan(amount)"
    won = (
        f"avg(amount) FILTER (WHERE coalesce(won, false) AND {valid})"
        if "won" in columns
        else "NULL"
    )
    (won_mean, mean) = raw.execute(
        f"SELECT {won}, avg(amount) FILTER (WHERE {valid}) FROM {opps_table} WHERE rule IS NULL"
    ).fetchall()[0]
    value = won_mean if won_mean is not None else mean
    return float("nan") if value is None else float(value)


def _window_sql(checked_sql: str, as_of: pd.Timestamp | None) -> str:
    """The visits: next stage and exit time of each accepted event, and copies flagged.

    Accepted events of a lead sort by time, stage rank and file row. An event
    followed by one with the same stage and time is ``copied`` (the later one is
    a duplicate: see :func:`_copies_rejected`). Events after ``as_of`` are
    accepted but neither visits nor the exit of one.
    """
    if as_of is None:
        ok, nxt, ext = "rule IS NULL", "_nst", "_nat"
    else:
        lit = f"TIMESTAMPTZ '{pd.Timestamp(as_of).isoformat()}'"
        ok = f"rule IS NULL AND entered_at <= {lit}"
        nxt = f"CASE WHEN _nat <= {lit} THEN _nst END"
        ext = f"CASE WHEN _nat <= {lit} THEN _nat END"
    return f"""
        SELECT * EXCLUDE (_nst, _nat), {ok} AS ok,
               rule IS NULL AND _nst = st AND _nat = entered_at AS copied,
               {nxt} AS nx, {ext} AS exited_at
        FROM (SELECT *, lead(st) OVER w AS _nst, lead(entered_at) OVER w AS _nat
              FROM ({checked_sql})
              WINDOW w AS (PARTITION BY lk, rule IS NULL ORDER BY entered_at, rk, _row))
    """


def _copies_rejected(visits_table: str) -> str:
    """The checked events of ``visits_table`` with later copies of an event rejected."""
    dup = EVENT_RULES.index("duplicate")
    return f"""
        SELECT * EXCLUDE (ok, copied, nx, exited_at, _dup)
               REPLACE (CASE WHEN _dup THEN {dup} ELSE rule END AS rule)
        FROM (SELECT *, rule IS NULL AND lag(st) OVER w = st
                        AND lag(entered_at) OVER w = entered_at AS _dup
              FROM {visits_table}
              WINDOW w AS (PARTITION BY lk, rule IS NULL ORDER BY entered_at, rk, _row))
    """


def _event_stats(raw, visits_table: str) -> pd.DataFrame:
    """Per rule: events, copied events and the latest ``entered_at`` (one scan)."""
    return raw.execute(
        f"""
        SELECT 'stage_events' AS tbl, rule, count(*) AS n,
               count(*) FILTER (WHERE copied) AS copies, max(entered_at) AS latest
        FROM {visits_table} GROUP BY ALL
        """
    ).df()


def _row_type(raw, file: Path) -> str:
    """The narrowest unsigned type for a row number of this Parquet file (from its metadata)."""
    (n,) = raw.execute(f"SELECT count(*) FROM read_parquet('{_sql_str(file)}')").fetchall()[0]
    return "UINTEGER" if n < 2**32 else "UBIGINT"


def _as_loaded(text: str, column: str, duckdb_type: str) -> str | None:
    """A segment value's text as :func:`funnel_models.load` keeps it (None: missing)."""
    if column in STRIPPED_LEAD_COLUMNS and duckdb_type == "VARCHAR":
        return text.strip(_WHITESPACE) or None
    if duckdb_type == "DOUBLE" and text.lower() in ("nan", "-nan"):
        return None
    return text


def _python_kind(duckdb_type: str) -> type:
    if duckdb_type == "BOOLEAN":
        return bool
    if duckdb_type in _INTEGER_TYPES:
        return int
    return float if duckdb_type == "DOUBLE" else str  # (_SEGMENT_TYPES: nothing else)


def _ident(c: str) -> str:
    return '"' + c.replace('"', '""') + '"'


def _ts(c: str, prefix: str = "") -> str:
    return f"CAST({prefix}{_ident(c)} AS TIMESTAMPTZ)"


def _bad_ts(expr: str) -> str:
    """The timestamp SQL expression ``expr`` lies outside 1980–2100."""
    return f"({expr} < TIMESTAMPTZ '{_TS_FROM}' OR {expr} >= TIMESTAMPTZ '{_TS_UNTIL}')"


def _idv(c: str, prefix: str = "", kind: str = "VARCHAR") -> str:
    """An id as text, NULL when blank; white space around it trimmed.

    Text is trimmed only when its first or last character is not printable
    ASCII (``trim`` on every value of a 10 M-row column costs about a second;
    the test 0.05 s). Integers need neither.
    """
    x = f"{prefix}{_ident(c)}"
    if kind != "VARCHAR":
        return f"CAST({x} AS VARCHAR)"
    return (
        f"(CASE WHEN ascii({x}) NOT BETWEEN 33 AND 126 OR ascii(right({x}, 1)) NOT BETWEEN 33 AND 126 "
        f"THEN NULLIF(TRIM({x}, {_WS_SQL}), '') ELSE {x} END)"
    )


def _numeric(duckdb_type: str) -> bool:
    return duckdb_type in ("DOUBLE", "FLOAT", *_INTEGER_TYPES) or duckdb_type.startswith("DECIMAL")


def _sql_str(path: Any) -> str:
    return str(path).replace("'", "''")
