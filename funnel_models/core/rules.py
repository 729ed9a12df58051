"""Every row rule, written once, as a relational expression the engine runs.

A source is read into raw tables (:mod:`funnel_models.core.schema`); each
column the canonical model knows is parsed into its type at the edge
(:mod:`funnel_models.core._parsing`); then the rules of the table are tried in
order and **the first failing rule rejects a row**. Per table:

================ ===========================================================================
every table      a problem the CRM adapter found while reshaping the export (its own reason)
every column     ids: *blank id* (required ids); timestamps: *bad timestamp* (present but
                 unparsable, or outside 1980–2100), *blank timestamp* (required); numbers:
                 *bad number*; booleans: *bad boolean*; stages: *blank stage*, *unknown
                 stage* (with the closest alias); required text: *blank value*
accounts         *duplicate* account_id
leads            *duplicate* lead_id
stage_events     *orphan lead_id* (not an accepted lead), *before lead created*,
                 *duplicate* event (same lead, stage and time)
activities       *orphan lead_id*, *duplicate* activity_id (blank ids are never copies) or,
                 without an activity_id column, *duplicate* row (every column equal)
opportunities    *duplicate* opportunity_id, *orphan lead_id* (when a lead is named),
                 *closed before created*, *negative amount*
================ ===========================================================================

Columns are checked in schema order (required, then optional). A duplicate is a
later copy among the rows no earlier rule rejected; its reason names the first
copy's row. Each rule is a predicate on the parsed relation (a window for
duplicates, a join with the accepted leads for orphans), so the same definitions
run on any engine Ibis compiles to; the sentences ("unknown stage 'Qualifed'
(did you mean 'Qualified (→ SQL)'?)") are rendered in Python over the distinct
rejected values only (:func:`render_reasons`).

What is DuckDB's own, for the Spark and PostgreSQL wave: the text parsers of
:mod:`funnel_models.core._parsing` (macros; typed columns need only casts),
the stage lookup ``fm_stage_name`` (:func:`define_stage_names`; elsewhere an
inline ``substitute``) and the UTC wall-time text of the "before lead created"
sentence (``timezone('UTC', ts)``). Every predicate, join and window is plain Ibis.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pandas as pd

from funnel_models._errors import FunnelDataError
from funnel_models.core._parsing import bad_name, blank_name, parse_columns
from funnel_models.core.funnel import Funnel
from funnel_models.core.schema import (
    BOOKKEEPING,
    POS,
    PROBLEM_COLUMNS,
    ROW,
    SCHEMA,
    column_kinds,
)

__all__ = [
    "Context",
    "Rule",
    "check",
    "define_stage_names",
    "parse",
    "render_reasons",
    "table_rules",
]

CODE = "__fm_code"  # index of the first failing rule (NULL: accepted)
VALUE = "__fm_value"  # the offending value as text
DETAIL = "__fm_detail"  # what else the sentence needs (the first copy's row, ...)
_LEAD_CREATED = "__fm_lead_created"  # created_at of the accepted lead the row names
_LEAD_KNOWN = "__fm_lead_known"
_REJECTED_LEAD_ROW = "__fm_rejected_lead_row"
_TS_TEXT = "%Y-%m-%d %H:%M:%S"


_bad, _blank = bad_name, blank_name

#: A rule's ``value``: the offending value as read (taken from the rejected row's record).
AS_READ = "as read"


@ibis.udf.scalar.builtin(
    name="timezone", signature=((dt.string, dt.Timestamp("UTC")), dt.timestamp)
)
def _wall_time(zone, timestamp): ...


def _utc_text(value: ir.Value) -> ir.StringValue:
    """A timestamp as ``YYYY-MM-DD HH:MM:SS`` in UTC (whatever the session's zone)."""
    return _wall_time("UTC", value).strftime(_TS_TEXT)


@dataclass(frozen=True)
class Rule:
    """One row rule: a name, the column it reports, a predicate and a sentence.

    ``when(t)`` is a boolean expression on the parsed relation ``t`` (NULL
    counts as false). A rule with ``keys`` instead rejects later copies of
    those keys among the rows still accepted (``skip_blank``: a row with a blank
    key is never a copy). ``reason`` is the sentence, or a function of the
    offending value and the detail (both text or None) returning it;
    ``value`` is the offending value: :data:`AS_READ` (the column as read,
    from the rejected row's record), an expression ``value(t)`` on the parsed
    relation, or None; ``detail(t)`` is anything else the sentence needs.
    """

    name: str
    column: str
    reason: str | Callable[[Any, Any], str]
    when: Callable[[ir.Table], ir.BooleanValue] | None = None
    value: Callable[[ir.Table], ir.Value] | str | None = None
    detail: Callable[[ir.Table], ir.Value] | None = None
    keys: tuple[str, ...] = ()
    skip_blank: bool = False

    def sentence(self, value: Any, detail: Any) -> str:
        return self.reason if isinstance(self.reason, str) else self.reason(value, detail)


@dataclass
class Context:
    """What the rules of a table need besides its own rows.

    ``leads``: the accepted leads (``lead_id``, ``created_at``);
    ``rejected_leads``: the first rejected row of each rejected lead_id
    (``lead_id``, ``row``), for the orphan sentence.
    """

    backend: Any
    funnel: Funnel
    dayfirst: bool = False
    leads: ir.Table | None = None
    rejected_leads: ir.Table | None = None


# ---------------------------------------------------------------------- the rules
def _column_rules(column: str, kind: str, required: bool, funnel: Funnel) -> list[Rule]:
    """The rules that a column of ``kind`` brings."""
    if kind == "id":
        if not required:
            return []
        return [Rule("blank id", column, f"blank {column}", when=lambda t: t[column].isnull())]
    if kind == "timestamp":
        rules = [
            Rule(
                "bad timestamp",
                column,
                lambda v, _: f"unparsable or implausible timestamp {v!r}",
                when=lambda t: t[_bad(column)],
                value=AS_READ,
            )
        ]
        if required:
            rules.append(
                Rule(
                    "blank timestamp",
                    column,
                    f"blank {column}",
                    when=lambda t: t[column].isnull() & ~t[_bad(column)],
                )
            )
        return rules
    if kind == "number":
        return [
            Rule(
                "bad number",
                column,
                lambda v, _: f"not a number: {v!r}",
                when=lambda t: t[_bad(column)],
                value=AS_READ,
            )
        ]
    if kind == "bool":
        return [
            Rule(
                "bad boolean",
                column,
                lambda v, _: f"not true/false: {v!r}",
                when=lambda t: t[_bad(column)],
                value=AS_READ,
            )
        ]
    if kind == "stage":

        def unknown(v: Any, _: Any) -> str:
            hint = funnel.suggest(v)
            known = ", ".join(funnel.names)
            return f"unknown stage {v!r}" + (
                f" (did you mean {hint!r}?)" if hint else f" (stages: {known})"
            )

        return [
            Rule("blank stage", column, f"blank {column}", when=lambda t: t[_blank(column)]),
            Rule(
                "unknown stage",
                column,
                unknown,
                when=lambda t: t[column].isnull(),
                value=AS_READ,
            ),
        ]
    # text
    if not required:
        return []
    return [Rule("blank value", column, f"blank {column}", when=lambda t: t[column].isnull())]


def _orphan(column: str = "lead_id") -> Rule:
    def reason(value: Any, rejected_row: Any) -> str:
        if rejected_row is not None:
            return f"lead_id {value!r} belongs to a rejected lead (leads row {rejected_row})"
        return f"lead_id {value!r} is not in the leads table"

    return Rule(
        "orphan lead_id",
        column,
        reason,
        when=lambda t: t[column].notnull() & ~t[_LEAD_KNOWN],
        value=lambda t: t[column],
        detail=lambda t: t[_REJECTED_LEAD_ROW].cast("string"),
    )


def _before_lead(column: str) -> Rule:
    return Rule(
        "before lead created",
        column,
        lambda v, created: f"{column} {v} is before the lead's created_at {created}",
        when=lambda t: t[column] < t[_LEAD_CREATED],
        value=lambda t: _utc_text(t[column]),
        detail=lambda t: _utc_text(t[_LEAD_CREATED]),
    )


def _duplicate(keys: Sequence[str], label: str | None = None, *, skip_blank=False) -> Rule:
    what = label or keys[0]
    return Rule(
        "duplicate",
        keys[0],
        lambda _, first: f"duplicate {what} (first at row {first})",
        value=lambda t: t[keys[0]].cast("string"),
        keys=tuple(keys),
        skip_blank=skip_blank,
    )


def _table_rules(table: str, columns: Sequence[str]) -> list[Rule]:
    """The rules of ``table`` beyond its columns' own (``columns``: the data columns)."""
    if table == "accounts":
        return [_duplicate(["account_id"])]
    if table == "leads":
        return [_duplicate(["lead_id"])]
    if table == "stage_events":
        return [
            _orphan(),
            _before_lead("entered_at"),
            _duplicate(["lead_id", "stage", "entered_at"], "event"),
        ]
    if table == "activities":
        if "activity_id" in columns:
            dup = _duplicate(["activity_id"], skip_blank=True)
        else:
            dup = _duplicate(list(columns), "row")
        return [_orphan(), dup]
    # opportunities
    rules = [_duplicate(["opportunity_id"])]
    if "lead_id" in columns:
        rules.append(_orphan())
    if "closed_at" in columns:
        rules.append(
            Rule(
                "closed before created",
                "closed_at",
                "closed_at is before created_at",
                when=lambda t: t["closed_at"] < t["created_at"],
                value=AS_READ,
            )
        )
    if "amount" in columns:
        rules.append(
            Rule(
                "negative amount",
                "amount",
                lambda v, _: f"negative amount {v!r}",
                when=lambda t: t["amount"] < 0,
                value=lambda t: t["amount"].cast("string"),
            )
        )
    return rules


def _adapter_problem() -> Rule:
    """A record the CRM adapter could not map: rule, column and reason come with the row."""
    return Rule("adapter", "", "", when=lambda t: t[PROBLEM_COLUMNS[2]].notnull(), value=AS_READ)


def table_rules(table: str, columns: Sequence[str], funnel: Funnel | None = None) -> list[Rule]:
    """The rules of ``table`` in the order they are tried, for a raw table with ``columns``.

    >>> [r.name for r in table_rules("leads", ["lead_id", "created_at", "source"])]
    ['blank id', 'bad timestamp', 'blank timestamp', 'duplicate']
    """
    funnel = funnel or Funnel.default()
    data = [c for c in columns if not c.startswith("__fm_")]
    rules = [_adapter_problem()] if PROBLEM_COLUMNS[2] in columns else []
    spec = SCHEMA[table]
    for column, kind in column_kinds(table).items():
        if column in columns:
            rules += _column_rules(column, kind, column in spec["required"], funnel)
    return rules + _table_rules(table, data)


# ---------------------------------------------------------------------- running them
def parse(raw: ir.Table, table: str, ctx: Context, *, source: str = "") -> ir.Table:
    """The raw table with each known column parsed into its type (same names).

    The value as read stays beside it (:func:`~funnel_models.core._parsing.raw_name`),
    with flags of blank and unparsable values
    (:func:`~funnel_models.core._parsing.parse_columns`); stages become the
    funnel's canonical names (NULL when unknown) through ``fm_stage_name``
    (:func:`define_stage_names`). A missing required column is a one-line error.
    """
    columns = list(raw.columns)
    spec = SCHEMA[table]
    missing = [c for c in spec["required"] if c not in columns]
    if missing:
        raise FunnelDataError(_missing_column_message(source, missing[0], columns))
    kinds = {c: k for c, k in column_kinds(table).items() if c in columns}
    t = parse_columns(raw, kinds, dayfirst=ctx.dayfirst)
    stages = [c for c, k in kinds.items() if k == "stage"]
    if stages:  # through the lookup define_stage_names made for this data
        t = t.mutate(**{c: _stage_name(t[c]) for c in stages})
    return t


@ibis.udf.scalar.builtin(name="fm_stage_name", signature=((dt.string,), dt.string))
def _stage_name(value): ...


def define_stage_names(con, funnel: Funnel, values) -> None:
    """Define ``fm_stage_name(text)`` on a DuckDB connection: canonical stage or NULL.

    ``values``: the distinct stripped stage values of the data; each is looked up
    once in the funnel's names and aliases.
    """
    pairs = {v: funnel.canonical_stage(v) for v in values if isinstance(v, str)}
    pairs = {k: v for k, v in pairs.items() if v is not None}
    quote = lambda text: "'" + text.replace("'", "''") + "'"  # noqa: E731
    body = (
        "CASE t "
        + " ".join(f"WHEN {quote(k)} THEN {quote(v)}" for k, v in pairs.items())
        + " ELSE CAST(NULL AS VARCHAR) END"
        if pairs
        else "CAST(NULL AS VARCHAR)"
    )
    con.execute(f"CREATE OR REPLACE TEMP MACRO fm_stage_name(t) AS {body}")


def _with_leads(t: ir.Table, ctx: Context) -> ir.Table:
    """``t`` with the created_at of the accepted lead each row names (and if it is one)."""
    if ctx.leads is None:
        raise ValueError("the rules of this table need the accepted leads")
    leads = ctx.leads.select(
        __fm_lead_id=ctx.leads.lead_id,
        __fm_lead_created=ctx.leads.created_at,
        __fm_lead_known=ibis.literal(True),
    )
    t = t.left_join(leads, t.lead_id == leads.__fm_lead_id).drop("__fm_lead_id")
    t = t.mutate(**{_LEAD_KNOWN: t[_LEAD_KNOWN].fill_null(False)})
    if ctx.rejected_leads is None:
        return t.mutate(**{_REJECTED_LEAD_ROW: ibis.null("int64")})
    gone = ctx.rejected_leads.select(
        __fm_gone_id=ctx.rejected_leads.lead_id,
        __fm_rejected_lead_row=ctx.rejected_leads.row.cast("int64"),
    )
    return t.left_join(gone, t.lead_id == gone.__fm_gone_id).drop("__fm_gone_id")


def check(t: ir.Table, table: str, ctx: Context) -> tuple[ir.Table, list]:
    """Run the rules of ``table`` on its parsed relation (:func:`parse`): ``(checked, rules)``.

    ``checked`` is ``t`` plus :data:`CODE` (index in ``rules`` of the first
    failing rule, NULL for an accepted row), :data:`VALUE` (the offending value
    when a rule computes it) and :data:`DETAIL` (what else its sentence needs).
    """
    rules = table_rules(table, t.columns, ctx.funnel)
    if any(r.name == "orphan lead_id" for r in rules):
        t = _with_leads(t, ctx)
    # One flat CASE per run of row rules (the first true branch wins). A duplicate rule
    # numbers the copies among the rows left, so the codes, values and details so far
    # become columns first: the window then carries those (mostly NULL) and the keys,
    # not the raw columns the sentences quote.
    branches: list[tuple[ir.BooleanValue, Any]] = []
    pending: list[int] = []  # rules whose value and detail are not columns yet
    for i, rule in enumerate(rules):
        if not rule.keys:
            branches.append((rule.when(t).fill_null(False), i))
            pending.append(i)
            continue
        t = t.mutate(**{CODE: _first_hit(branches)})
        t = _explained(t, rules, pending)
        alive = t[CODE].isnull()
        if rule.skip_blank:
            for key in rule.keys:
                alive &= t[key].notnull()
        window = ibis.window(group_by=[*(t[k] for k in rule.keys), alive], order_by=t[POS])
        t = t.mutate(
            **{
                f"__fm_copy_{i}": alive & (ibis.row_number().over(window) > 0),
                f"__fm_first_{i}": (t[ROW] if ROW in t.columns else t[POS]).first().over(window),
            }
        )
        branches = [(t[CODE].notnull(), t[CODE]), (t[f"__fm_copy_{i}"], i)]
        pending = [i]
    t = t.mutate(**{CODE: _first_hit(branches)})
    return _explained(t, rules, pending), rules


def _explained(t: ir.Table, rules: Sequence[Rule], pending: Sequence[int]) -> ir.Table:
    """``t`` with :data:`VALUE` and :data:`DETAIL` for the rows rules ``pending`` reject."""
    code = t[CODE]
    null = ibis.null("string")
    values, details = [], []
    for i in pending:
        rule = rules[i]
        if callable(rule.value):
            values.append((code == i, rule.value(t).cast("string")))
        detail = t[f"__fm_first_{i}"] if rule.keys else rule.detail(t) if rule.detail else None
        if detail is not None:
            details.append((code == i, detail.cast("string")))
    earlier_value = t[VALUE] if VALUE in t.columns else null
    earlier_detail = t[DETAIL] if DETAIL in t.columns else null
    return t.mutate(
        **{
            VALUE: ibis.cases(*values, else_=earlier_value) if values else earlier_value,
            DETAIL: ibis.cases(*details, else_=earlier_detail) if details else earlier_detail,
        }
    )


def _first_hit(branches) -> ir.IntegerValue:
    """The code of the first true branch (NULL when none is)."""
    if not branches:
        return ibis.null("int16")
    return ibis.cases(*branches, else_=ibis.null("int16")).cast("int16")


def render_reasons(
    rejected: pd.DataFrame, rules: Sequence[Rule], records: list[dict]
) -> pd.DataFrame:
    """Rule names, columns, values and sentences for rejected rows.

    ``rejected`` holds :data:`CODE`, :data:`VALUE`, :data:`DETAIL` (and the
    adapter's problem columns when present); ``records`` the rows as read
    (for values :data:`AS_READ`). Each sentence is rendered once per distinct
    (rule, value, detail).
    """
    codes = rejected[CODE].astype("int64").to_numpy()
    computed = rejected[VALUE].astype(object).where(rejected[VALUE].notna(), None).to_numpy()
    details = rejected[DETAIL].astype(object).where(rejected[DETAIL].notna(), None).to_numpy()
    given = {}
    if PROBLEM_COLUMNS[2] in rejected.columns:
        for name, problem in zip(("column", "rule", "reason"), PROBLEM_COLUMNS, strict=True):
            given[name] = rejected[problem].astype(object).where(rejected[problem].notna(), None)
    columns, names, values, reasons = [], [], [], []
    cache: dict[tuple, str] = {}
    for k, (code, value, detail) in enumerate(zip(codes, computed, details, strict=True)):
        rule = rules[code]
        column, name = rule.column, rule.name
        adapter = given and given["reason"].iloc[k] is not None and code == 0
        if adapter:
            column, name = given["column"].iloc[k], given["rule"].iloc[k]
        if rule.value == AS_READ:
            read = records[k].get(column)
            value = None if _missing(read) else str(read)
        if adapter:
            reason = given["reason"].iloc[k]
        else:
            key = (code, value, detail)
            if key not in cache:
                cache[key] = rule.sentence(value, detail)
            reason = cache[key]
        columns.append(column)
        names.append(name)
        values.append(value)
        reasons.append(reason)
    return pd.DataFrame(
        {"column": columns, "value": values, "rule": names, "reason": reasons},
        index=rejected.index,
    )


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _missing_column_message(source: str, column: str, found) -> str:
    import difflib

    found = [str(c) for c in found if c not in BOOKKEEPING]
    message = f"{source}: missing required column {column!r}"
    match = difflib.get_close_matches(column, found, n=1, cutoff=0.5)
    if match:
        return message + f"; found {match[0]!r}. Did you mean {match[0]!r}?"
    shown = ", ".join(repr(c) for c in found[:8]) + (" ..." if len(found) > 8 else "")
    return message + f" (columns found: {shown or 'none'})"
