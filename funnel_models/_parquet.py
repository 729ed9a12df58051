"""The fast path of ``funnel-models stalls``: a folder of canonical Parquet, inside DuckDB.

:func:`open_parquet_folder` reads ``leads``, ``stage_events`` and
``opportunities`` straight from their Parquet files into DuckDB, applies the
row checks of :func:`funnel_models.load` there in SQL, and computes the stage
visits in the same statement, so no table is pulled into pandas. The visits are
kept compact: the lead is its row number, stages and segment values are small
integer codes (dictionaries kept here), so the one window over the log, the
aggregates and the act-now query move numbers, not strings.

:class:`CodedVisits` answers the four questions the stall analysis asks of the
visits — duration-grid counts per segment, transitions, first entry, and the
open visits past a threshold — with the same Ibis expressions for days in stage
and duration bins as :func:`funnel_models.engine.spell_expr` and
:func:`funnel_models.engine.stall_aggregate_expr`, so both paths give equal
numbers (tested).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from funnel_models.engine import connect, duration_bin
from funnel_models.stages import Funnel

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
_names = itertools.count()


@dataclass
class ParquetFolder:
    """A folder of canonical Parquet tables opened and checked inside DuckDB.

    ``rows`` counts rows read, accepted and rejected per table (accepted +
    rejected == read) and ``rejection_reasons`` counts rejected rows by rule, the
    first failing rule of a row in the same order as :func:`funnel_models.load`.
    """

    con: Any
    kinds: dict[str, type]  # segment column -> Python type of its values
    visits: CodedVisits
    opportunities: ir.Table | None  # accepted opportunities (amount, won when present)
    funnel: Funnel
    rows: pd.DataFrame
    rejection_reasons: pd.DataFrame
    source: str


@dataclass
class CodedVisits:
    """Stage visits in a DuckDB table with integer codes (see the module docstring).

    Table columns: ``lk`` (the lead's row in ``leads.parquet``), ``st`` / ``nx``
    (code of the stage and of the next one, NULL while open), ``rk`` (stage
    rank), ``entered_at``, ``exited_at``, ``_row`` (row in
    ``stage_events.parquet``), ``rule`` (code in :data:`EVENT_RULES`, NULL when
    accepted), ``ok`` (accepted and not after ``as_of``), ``keep`` (a visit of a
    progression stage or of the recycled stage) and one code column per segment
    column.
    """

    con: Any  # Ibis DuckDB backend
    table: str
    leads_table: str
    events_file: Path
    has_owner: bool
    stages: list[str]  # code -> canonical stage name
    codes: dict[str, str]  # segment column -> code column
    dictionaries: dict[str, list[str]]  # segment column -> its values by code
    as_of: pd.Timestamp
    _transitions: pd.DataFrame | None = None  # counted by the scan of :meth:`counts`

    # -------------------------------------------------------------- expressions
    def _valid(self) -> ir.Table:
        v = self.con.table(self.table)
        return v.filter(v.ok & v.keep)

    def _days(self, v: ir.Table) -> ir.FloatingValue:
        as_of = ibis.literal(self.as_of.to_pydatetime(), type=ibis.dtype("timestamp('UTC')"))
        end = ibis.coalesce(v.exited_at, as_of)
        return (end.epoch_seconds() - v.entered_at.epoch_seconds()).cast("float64") / 86400.0

    def _code(self, stage: str) -> int:
        return self.stages.index(stage)

    # -------------------------------------------------------------- questions
    def counts(self, columns, leak_stages, stages) -> pd.DataFrame:
        """Per (stage, segment column, value, duration bin): closed, leaking and open visits.

        The frame of :func:`funnel_models.engine.stall_aggregate_expr`, from one
        ``GROUPING SETS`` query over integer codes; the same scan counts the
        transitions (kept for :meth:`transitions`).
        """
        v = self._valid()
        closed = v.nx.notnull()
        leak = [self._code(s) for s in leak_stages] or [-1]
        names = [f"g{i}" for i in range(len(columns))]
        days = self._days(v)
        base = v.select(
            "st",
            "nx",
            *[v[self.codes[c]].name(n) for c, n in zip(columns, names, strict=True)],
            _bin=duration_bin(days * 86400.0),
            _days=days,
            _closed=closed.cast("int64"),
            _leak=(closed & v.nx.isin(leak)).cast("int64"),
            _open=(~closed).cast("int64"),
        )
        sets = ", ".join(["(st, nx)", "(st, _bin)", *[f"(st, {n}, _bin)" for n in names]])
        flags = "".join(f"GROUPING({n}) AS f{i}, " for i, n in enumerate(names))
        sql = (
            f"SELECT st, nx, _bin, {''.join(n + ', ' for n in names)}{flags}GROUPING(nx) AS fnx, "
            f"sum(_closed) AS closed, sum(_leak) AS leak, sum(_open) AS open, "
            f"sum(_days) AS days "
            f"FROM ({ibis.to_sql(base, dialect='duckdb')}) GROUP BY GROUPING SETS ({sets})"
        )
        raw = self.con.raw_sql(sql).fetchnumpy()
        st = np.asarray(raw["st"], dtype=np.int64)
        stage_names = np.asarray(self.stages, dtype=object)
        pair = np.asarray(raw["fnx"]) == 0
        nx = np.ma.getmaskarray(raw["nx"])
        trans = pair & ~nx  # (stage, next stage) of closed visits
        self._transitions = pd.DataFrame(
            {
                "stage": stage_names[st[trans]],
                "next_stage": stage_names[np.ma.getdata(raw["nx"]).astype(np.int64)[trans]],
                "count": np.asarray(raw["closed"], dtype=np.int64)[trans],
                "days": np.asarray(raw["days"], dtype=float)[trans],
            }
        )
        counted = ~pair & np.isin(st, [self._code(s) for s in stages])
        whole = counted.copy()
        for i in range(len(names)):
            whole &= np.asarray(raw[f"f{i}"]) == 1
        parts = []
        for col, i in [("", None), *[(c, i) for i, c in enumerate(columns)]]:
            mask = whole if i is None else counted & (np.asarray(raw[f"f{i}"]) == 0)
            if i is None:
                values = np.full(int(mask.sum()), None, dtype=object)
            else:
                values = _decode(raw[names[i]][mask], self.dictionaries[col])
            parts.append(
                pd.DataFrame(
                    {
                        "stage": stage_names[st[mask]],
                        "column": col,
                        "value": values,
                        "bin": np.asarray(raw["_bin"], dtype=np.int64)[mask],
                        "closed": np.asarray(raw["closed"], dtype=np.int64)[mask],
                        "leak": np.asarray(raw["leak"], dtype=np.int64)[mask],
                        "open": np.asarray(raw["open"], dtype=np.int64)[mask],
                    }
                )
            )
        return pd.concat(parts, ignore_index=True)

    def transitions(self) -> pd.DataFrame:
        """Closed visits per (stage, next_stage) with their summed days in stage."""
        if self._transitions is None:
            self.counts([], [], [])
        return self._transitions

    def first_entered(self) -> Any:
        return self.con.execute(self._valid().entered_at.min())

    def late(self, thresholds: dict[str, float], limit: int | None) -> tuple[pd.DataFrame, dict]:
        """Open visits longer than their stage's threshold (days), longest overdue first.

        Returns (lead_id, stage, entered_at, days_in_stage, owner_id) rows —
        all or the first ``limit`` — and the count per stage.
        """
        v = self._valid()
        days = self._days(v)
        over = ibis.cases(
            *[(v.st == self._code(s), days - float(t)) for s, t in thresholds.items()],
            else_=ibis.null("float64"),
        )
        late = v.filter(v.nx.isnull()).select(
            "lk", "st", "entered_at", "_row", days=days, over=over
        )
        late = late.filter(late.over > 0)
        per_stage = self.con.execute(late.group_by("st").aggregate(n=late.count()))
        counts = {
            self.stages[int(s)]: int(n)
            for s, n in zip(per_stage["st"], per_stage["n"], strict=True)
        }
        leads = self.con.table(self.leads_table).select(lk="_lk", lead_id="lead_id")
        rows = late.join(leads, "lk").order_by([ibis.desc("over"), "lead_id"])
        out = self.con.execute(rows.limit(limit) if limit is not None else rows)
        out["stage"] = np.asarray(self.stages, dtype=object)[out["st"].to_numpy(np.int64)]
        out["owner_id"] = self._owners(out["_row"].to_numpy(np.int64))
        out = out.rename(columns={"days": "days_in_stage"})
        return out[["lead_id", "stage", "entered_at", "days_in_stage", "owner_id"]], counts

    def lead_combos(self, columns: list[str]) -> pd.DataFrame:
        """Accepted leads counted per combination of the values of ``columns`` (``_n``)."""
        keys = ", ".join(self.codes[c] for c in columns)
        out = self.con.raw_sql(
            f"SELECT {keys}, count(*) AS _n FROM {self.leads_table} WHERE rule IS NULL GROUP BY ALL"
        ).fetchnumpy()
        frame = pd.DataFrame(
            {c: _decode(out[self.codes[c]], self.dictionaries[c]) for c in columns}
        )
        frame["_n"] = np.asarray(out["_n"], dtype=np.int64)
        return frame

    def _owners(self, rows: np.ndarray) -> list:
        """``owner_id`` of the stage events at these file rows (None when absent or blank)."""
        if not self.has_owner or len(rows) == 0:
            return [None] * len(rows)
        raw = self.con.con
        wanted = pd.DataFrame({"_row": rows})
        name = f"fm_owner_rows_{next(_names)}"
        raw.register(name, wanted)
        try:
            found = raw.execute(
                f"""
                SELECT e.file_row_number AS _row,
                       NULLIF(TRIM(CAST(e.owner_id AS VARCHAR)), '') AS owner_id
                FROM read_parquet('{_sql_str(self.events_file)}', file_row_number = true) e
                SEMI JOIN {name} w ON e.file_row_number = w._row
                """
            ).df()
        finally:
            raw.unregister(name)
        owner = dict(zip(found["_row"].to_numpy(np.int64), found["owner_id"], strict=True))
        return [owner.get(int(r)) for r in rows]


def _decode(codes, values: list[str]) -> np.ndarray:
    """Integer codes (a masked array where NULL) -> their values (None for NULL)."""
    lookup = np.asarray([*values, None], dtype=object)
    data = np.ma.getdata(codes).astype(np.int64)
    missing = np.ma.getmaskarray(codes)
    return lookup[np.where(missing, len(values), data)]


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

    Returns None when the folder does not qualify for this fast path (no
    ``leads.parquet`` / ``stage_events.parquet``, a CSV beside them, timestamps
    not stored as timestamps, naive timestamps with a ``timezone`` other than
    UTC, ids that are neither text nor integers): use
    :func:`funnel_models.load` then.

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
    con = con if con is not None else connect("duckdb")
    raw = con.con if hasattr(con, "con") else con

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
        or ("amount" in s_opps and s_opps["amount"] not in ("DOUBLE", "FLOAT", "BIGINT", "INTEGER"))
        or ("won" in s_opps and s_opps["won"] != "BOOLEAN")
    ):
        s_opps = None

    raw.execute("SET TimeZone = 'UTC'")
    tag = next(_names)
    # ---- leads
    attrs = [c for c in s_leads if c not in ("lead_id", "created_at")]
    flag = None
    if "target_account" not in s_leads and "account_id" in s_leads:
        acc = path / "accounts.parquet"
        if acc.exists():
            s_acc = schema(acc)
            if s_acc.get("target_account") == "BOOLEAN" and "account_id" in s_acc:
                flag = acc
    segments = attrs + (["target_account"] if flag is not None else [])
    if attributes is not None:
        keep = set(attributes(segments))
        segments = [c for c in segments if c in keep]
        if "target_account" not in keep:
            flag = None
    # Segment values become small integer codes: booleans 0/1, other values their
    # position in a DuckDB ENUM of the column's distinct values (the dictionary).
    codes = {c: f"_c{i}" for i, c in enumerate(segments)}
    dictionaries, code_sql = {}, []
    for c in segments:
        column = (
            "a.target_account" if c == "target_account" and flag is not None else f"l.{_ident(c)}"
        )
        if c == "target_account" or s_leads.get(c) == "BOOLEAN":
            dictionaries[c] = ["False", "True"]  # as Python spells them (the other path's values)
            code_sql.append(f"CAST({column} AS UTINYINT) AS {codes[c]}")
            continue
        enum, text = f"fm_enum_{tag}_{codes[c]}", f"CAST({_ident(c)} AS VARCHAR)"
        raw.execute(
            f"CREATE TYPE {enum} AS ENUM (SELECT DISTINCT {text} "
            f"FROM read_parquet('{_sql_str(files['leads'])}') WHERE {_ident(c)} IS NOT NULL)"
        )
        dictionaries[c] = [
            r[0] for r in raw.execute(f"SELECT unnest(enum_range(NULL::{enum}))").fetchall()
        ]
        code_sql.append(f"enum_code(CAST(CAST({column} AS VARCHAR) AS {enum})) AS {codes[c]}")
    join_flag = ""
    if flag is not None:
        join_flag = (
            f" LEFT JOIN (SELECT {_idv('account_id', kind=s_acc['account_id'])} AS _acc, "
            f"bool_or(target_account) AS target_account FROM read_parquet('{_sql_str(flag)}') "
            f"GROUP BY 1) a ON {_idv('account_id', 'l.', s_leads['account_id'])} = a._acc"
        )
    leads_table = f"fm_leads_{tag}"
    raw.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {leads_table} AS
        SELECT {_idv("lead_id", "l.", s_leads["lead_id"])} AS lead_id, {_ts("created_at", "l.")} AS created_at,
               {"".join(sql + ", " for sql in code_sql)} l.file_row_number AS _lk,
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
        if value is None or not str(value).strip():
            continue
        canonical = funnel.canonical_stage(str(value).strip())
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
    code_cols = "".join(f"l.{codes[c]}, " for c in segments)
    rule = "CASE " + " ".join(
        f"WHEN {cond} THEN {EVENT_RULES.index(name)}"
        for name, cond in (
            ("blank id", "r.lead_id IS NULL"),
            ("blank stage", "m.st IS NULL AND (r.raw_stage IS NULL OR TRIM(r.raw_stage) = '')"),
            ("unknown stage", "m.st IS NULL"),
            ("blank timestamp", "r.entered_at IS NULL"),
            ("bad timestamp", _bad_ts("r.entered_at")),
            ("orphan lead_id", "l._lk IS NULL"),
            ("before lead created", "r.entered_at < l.created_at"),
        )
    ) + " END"  # fmt: skip
    events_sql = f"""
        SELECT {_idv("lead_id", kind=s_events["lead_id"])} AS lead_id, CAST(stage AS VARCHAR) AS raw_stage,
               {_ts("entered_at")} AS entered_at, file_row_number AS _row
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
    dup = EVENT_RULES.index("duplicate")
    if raw.execute(f"SELECT count(*) FROM {visits_table} WHERE dup").fetchall()[0][0]:
        # later copies of an event: reject them, then recompute the window without them
        again = (
            f"SELECT * EXCLUDE (ok, dup, nx, exited_at) "
            f"REPLACE (CASE WHEN dup THEN {dup} ELSE rule END AS rule) FROM {visits_table}"
        )
        raw.execute(f"CREATE OR REPLACE TEMP TABLE {visits_table} AS {_window_sql(again, as_of)}")
    raw.unregister(lookup_name)
    if as_of is None:
        latest = raw.execute(
            f"SELECT max(entered_at) FROM {visits_table} WHERE rule IS NULL"
        ).fetchall()[0][0]
        as_of = None if latest is None else pd.Timestamp(latest)
    event_counts = raw.execute(
        f"SELECT 'stage_events' AS tbl, rule, count(*) AS n FROM {visits_table} GROUP BY ALL"
    ).df()
    event_counts["rule"] = [
        None if pd.isna(r) else EVENT_RULES[int(r)] for r in event_counts["rule"]
    ]
    # ---- opportunities (amount and outcome, for the average deal size)
    opp_table = None
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
                     {"".join(_ident(c) + ", " for c in o_cols)} file_row_number AS _row
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
        opp_table = con.table(opps_name).filter(ibis._.rule.isnull())
    # ---- the row accounting
    counts = pd.concat(counts, ignore_index=True)
    tables = ["leads", "stage_events"] + (["opportunities"] if opp_table is not None else [])
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
        codes=codes,
        dictionaries=dictionaries,
        as_of=as_of,
    )
    kinds = {c: bool if c == "target_account" else _python_kind(s_leads[c]) for c in segments}
    return ParquetFolder(
        con=con, kinds=kinds, visits=visits, opportunities=opp_table, funnel=funnel,
        rows=rows, rejection_reasons=reasons, source=str(folder),
    )  # fmt: skip


def _window_sql(checked_sql: str, as_of: pd.Timestamp | None) -> str:
    """The visits: next stage and exit time of each accepted event, and later copies flagged.

    Accepted events of a lead sort by time, stage rank and file row; a row with
    the stage and time of the one before is a later copy (``dup``). Events
    after ``as_of`` are accepted but neither visits nor the exit of one.
    """
    if as_of is None:
        ok, nxt, ext = "rule IS NULL", "lead(st) OVER w", "lead(entered_at) OVER w"
    else:
        lit = f"TIMESTAMPTZ '{pd.Timestamp(as_of).isoformat()}'"
        ok = f"rule IS NULL AND entered_at <= {lit}"
        nxt = f"CASE WHEN lead(entered_at) OVER w <= {lit} THEN lead(st) OVER w END"
        ext = f"CASE WHEN lead(entered_at) OVER w <= {lit} THEN lead(entered_at) OVER w END"
    return f"""
        SELECT *, {ok} AS ok,
               rule IS NULL AND lag(st) OVER w = st AND lag(entered_at) OVER w = entered_at AS dup,
               {nxt} AS nx, {ext} AS exited_at
        FROM ({checked_sql})
        WINDOW w AS (PARTITION BY lk, rule IS NULL ORDER BY entered_at, rk, _row)
    """


def _python_kind(duckdb_type: str) -> type:
    if duckdb_type == "BOOLEAN":
        return bool
    if duckdb_type in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT") or (
        duckdb_type.startswith("U") and duckdb_type.endswith("INT")
    ):
        return int
    if duckdb_type in ("FLOAT", "DOUBLE") or duckdb_type.startswith("DECIMAL"):
        return float
    return str


def _ident(c: str) -> str:
    return '"' + c.replace('"', '""') + '"'


def _ts(c: str, prefix: str = "") -> str:
    return f"CAST({prefix}{_ident(c)} AS TIMESTAMPTZ)"


def _bad_ts(expr: str) -> str:
    """The timestamp SQL expression ``expr`` lies outside 1980–2100."""
    return f"({expr} < TIMESTAMPTZ '{_TS_FROM}' OR {expr} >= TIMESTAMPTZ '{_TS_UNTIL}')"


def _idv(c: str, prefix: str = "", kind: str = "VARCHAR") -> str:
    """An id as text, NULL when blank; spaces around it trimmed.

    Text is trimmed only when it starts or ends with a space (``trim`` on every
    value of a 10 M-row column costs about a second; the test does not).
    Integers need neither.
    """
    x = f"{prefix}{_ident(c)}"
    if kind != "VARCHAR":
        return f"CAST({x} AS VARCHAR)"
    return (
        f"(CASE WHEN {x} = '' OR starts_with({x}, ' ') OR ends_with({x}, ' ') "
        f"THEN NULLIF(TRIM({x}), '') ELSE {x} END)"
    )


def _sql_str(path: Any) -> str:
    return str(path).replace("'", "''")
