"""Parsing CRM values into typed columns, as engine expressions: timestamps, ids, numbers, booleans.

This is the edge step of validation (:mod:`funnel_models.core.rules`): each
parser takes an Ibis column as read from a source (text from CSV exports, or
already typed from Parquet and databases) and returns the typed column plus a
flag of the values that were present but could not be parsed, so that the rules
reject those rows with a reason instead of silently turning them into NULL.

The expressions run in the engine (DuckDB), never row by row in Python.
Free text uses DuckDB functions (``TRY_CAST``, ``try_strptime``, RE2 regular
expressions), so text parsing is DuckDB-only; typed columns need only casts.
Naive timestamps are read in the *session* time zone of the connection the
expression runs on (``SET TimeZone``; :func:`run_on_series` and the store set
it from the ``timezone`` option): ambiguous wall times when clocks go back are
read as standard time, times skipped in spring move forward.

:func:`parse_timestamps`, :func:`parse_ids`, :func:`parse_numbers` and
:func:`parse_booleans` apply the same expressions to a pandas Series (for small
CRM exports that need a parsed value while they are reshaped).

Examples
--------
>>> import pandas as pd
>>> parsed, bad = parse_timestamps(pd.Series(["05.03.2024 14:22", "soon"]))
>>> parsed.iloc[0], bad.tolist()
(Timestamp('2024-03-05 14:22:00+0000', tz='UTC'), [False, True])
"""

from __future__ import annotations

import threading

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pandas as pd

__all__ = [
    "PLAUSIBLE_FROM",
    "PLAUSIBLE_UNTIL",
    "TIMESTAMP_DTYPE",
    "WHITESPACE",
    "bad_name",
    "blank_name",
    "install",
    "parse_booleans",
    "parse_columns",
    "parse_ids",
    "parse_numbers",
    "parse_timestamps",
    "raw_name",
    "stripped",
]

TIMESTAMP_DTYPE = "datetime64[ns, UTC]"

# Values outside this window are typos or placeholders (1900-01-01, 1970-01-01, 9999-12-31).
PLAUSIBLE_FROM = pd.Timestamp("1980-01-01", tz="UTC")
PLAUSIBLE_UNTIL = pd.Timestamp("2100-01-01", tz="UTC")

#: What Python's ``str.strip`` removes: Unicode white space and the separator
#: controls U+001C–U+001F.
WHITESPACE = (
    "\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)

_UTC = dt.Timestamp(timezone="UTC")

# Common CRM export formats, tried after ISO 8601. Month-first (US: Salesforce,
# HubSpot in en-US) by default; day-first when asked. Dotted dates are always day-first.
_TIMES = ("%H:%M:%S", "%H:%M", "%I:%M:%S %p", "%I:%M %p")
_US = tuple(f"%m/%d/%Y {t}" for t in _TIMES) + ("%m/%d/%Y", "%m/%d/%y %H:%M", "%m/%d/%y")
_EU = tuple(f"%d/%m/%Y {t}" for t in _TIMES) + ("%d/%m/%Y", "%d/%m/%y %H:%M", "%d/%m/%y")
_ALWAYS = (
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y",
    "%d %b %Y %H:%M",
    "%d %b %Y",
    "%b %d, %Y %I:%M %p",
    "%b %d, %Y",
    "%d %B %Y",
    "%B %d, %Y",
)
# RE2 patterns (DuckDB): white space spelled out, as RE2's \s misses a few characters.
_SPACE = "[ \t\n\r\f\v\u00a0]"
_EPOCH = r"^\d{9,13}(?:\.0+)?$"
# A zone word at the end ("... UTC", "...\tgmt") or a bare hour offset ("... +01").
_ZONE_WORD = "(?i)" + _SPACE + r"*\b(?:UTC|GMT)$"
_HOUR_OFFSET = _SPACE + r"*([+-]\d{2})$"
# Every Unicode space counts as junk in a number, the thin and narrow no-break
# spaces of French and Swiss thousands included ("12\u202f500,00").
_NUMBER_JUNK = (
    "(?i)(?:[ \t\n\r\f\v\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    "|[€$£%]|EUR|USD|GBP)"
)
_EU_NUMBER = r"^-?\d{1,3}(?:\.\d{3})*,\d+$|^-?\d+,\d+$"
_TRUE = ("true", "t", "yes", "y", "1", "1.0", "won", "x")
_FALSE = ("false", "f", "no", "n", "0", "0.0", "lost")


# ---------------------------------------------------------------------- DuckDB functions
def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sql_list(items) -> str:
    return "[" + ", ".join(_sql_text(i) for i in items) + "]"


# The text parsers as DuckDB macros (:func:`install`): each column's parse is one call
# in the SQL, however many steps it takes.
MACROS = {
    "fm_strip": (
        "(x) AS CASE WHEN ascii(x) BETWEEN 33 AND 126 AND ascii(right(x, 1)) BETWEEN 33 AND 126 "
        f"THEN x ELSE nullif(trim(x, {_sql_text(WHITESPACE)}), '') END"
    ),
    "fm_epoch": (
        "(n) AS CASE WHEN isfinite(n) AND abs(n) < 1e14 "
        "THEN to_timestamp(CASE WHEN abs(n) >= 1e11 THEN n / 1000.0 ELSE n END) END"
    ),
    "fm_text_timestamp": (
        "(t, dayfirst) AS coalesce("
        "TRY_CAST(t AS TIMESTAMPTZ), "
        f"CASE WHEN regexp_full_match(t, {_sql_text(_EPOCH)}) THEN fm_epoch(CAST(t AS DOUBLE)) END, "
        f"TRY_CAST(regexp_replace(regexp_replace(t, {_sql_text(_ZONE_WORD)}, '+00:00'), "
        f"{_sql_text(_HOUR_OFFSET)}, '\\1:00') AS TIMESTAMPTZ), "
        f"CAST(CASE WHEN dayfirst THEN try_strptime(t, {_sql_list(_EU + _ALWAYS)}) "
        f"ELSE try_strptime(t, {_sql_list(_US + _ALWAYS)}) END AS TIMESTAMPTZ))"
    ),
    "fm_number_text": (
        f"(c) AS CASE WHEN regexp_matches(c, {_sql_text(_EU_NUMBER)}) "
        "THEN replace(replace(c, '.', ''), ',', '.') ELSE replace(c, ',', '') END"
    ),
    "fm_number": (
        "(x) AS CASE WHEN isfinite(TRY_CAST(fm_number_text(regexp_replace(x, "
        f"{_sql_text(_NUMBER_JUNK)}, '', 'g')) AS DOUBLE)) THEN TRY_CAST(fm_number_text("
        f"regexp_replace(x, {_sql_text(_NUMBER_JUNK)}, '', 'g')) AS DOUBLE) END"
    ),
    "fm_boolean": (
        f"(t) AS CASE WHEN lower(t) IN ({', '.join(map(_sql_text, _TRUE))}) THEN true "
        f"WHEN lower(t) IN ({', '.join(map(_sql_text, _FALSE))}) THEN false END"
    ),
}


def install(con) -> None:
    """Define the parsing macros on a DuckDB connection (idempotent)."""
    for name, body in MACROS.items():
        con.execute(f"CREATE OR REPLACE TEMP MACRO {name}{body}")


@ibis.udf.scalar.builtin(name="fm_strip", signature=((dt.string,), dt.string))
def _strip(value): ...


@ibis.udf.scalar.builtin(name="fm_text_timestamp", signature=((dt.string, dt.boolean), _UTC))
def _text_timestamp(value, dayfirst): ...


@ibis.udf.scalar.builtin(name="fm_epoch", signature=((dt.float64,), _UTC))
def _epoch(seconds): ...


@ibis.udf.scalar.builtin(name="fm_number", signature=((dt.string,), dt.float64))
def _text_number(value): ...


@ibis.udf.scalar.builtin(name="fm_boolean", signature=((dt.string,), dt.boolean))
def _text_boolean(value): ...


@ibis.udf.scalar.builtin(name="isfinite", signature=((dt.float64,), dt.boolean))
def _isfinite(value): ...


# ---------------------------------------------------------------------- expressions
def raw_name(column: str) -> str:
    """Where :func:`parse_columns` keeps a column's value as read."""
    return f"__fm_raw_{column}"


def bad_name(column: str) -> str:
    """The flag of present values that could not be parsed."""
    return f"__fm_bad_{column}"


def blank_name(column: str) -> str:
    """The flag of missing (or only white space) values."""
    return f"__fm_blank_{column}"


def _text_name(column: str) -> str:
    return f"__fm_text_{column}"


def stripped(value: ir.Value) -> ir.StringValue:
    """Text with white space around it removed (as Python's ``str.strip``); blank is NULL.

    Only values whose first or last character is not printable ASCII are
    trimmed: the test costs a twentieth of trimming every value.
    """
    return _strip(value if value.type().is_string() else value.cast("string"))


def _missing_number(value: ir.Value) -> ir.BooleanValue:
    if value.type().is_floating():
        return value.isnull() | value.isnan()
    return value.isnull()


def _reads_as_text(kind: str, value: ir.Value) -> bool:
    """Whether a column of ``kind`` is parsed from its text (not converted from its type)."""
    typ = value.type()
    if kind in ("id", "text", "stage"):
        return not (typ.is_integer() or typ.is_floating())
    if kind == "timestamp":
        return not (typ.is_timestamp() or typ.is_date() or typ.is_numeric())
    if kind == "number":
        return not (typ.is_numeric() or typ.is_boolean())
    return not typ.is_boolean()  # bool


def parse_columns(t: ir.Table, kinds: dict[str, str], *, dayfirst: bool = False) -> ir.Table:
    """``t`` with each column of ``kinds`` parsed into its type, under the same name.

    Kinds: ``id`` (stripped text; integral floats lose ``.0``), ``text`` and
    ``stage`` (stripped text, blank as NULL), ``timestamp`` (UTC), ``number``
    (float), ``bool``. The value as read stays as :func:`raw_name`, with the
    flags :func:`bad_name` (present but unparsable: timestamps, numbers,
    booleans) and :func:`blank_name` (missing: ids, text, stages, timestamps).
    The parse runs in three projections (strip, parse, check) so that each
    value is stripped and parsed once.
    """
    first = {}
    for column in kinds:
        first[raw_name(column)] = t[column]
        if _reads_as_text(kinds[column], t[column]):
            first[_text_name(column)] = stripped(t[column])
    t = t.mutate(**first)
    second = {}
    for column, kind in kinds.items():
        raw = t[raw_name(column)]
        text = t[_text_name(column)] if _text_name(column) in t.columns else None
        if kind in ("id", "text", "stage"):
            second[column] = text if text is not None else _number_as_text(raw, kind)
        elif kind == "timestamp":
            second[column] = _timestamp(raw, text, dayfirst)
        elif kind == "number":
            if text is not None:
                second[column] = _text_number(text)
            else:
                number = raw.cast("float64")
                second[column] = ibis.cases(
                    (_missing_number(number) | ~_isfinite(number), ibis.null("float64")),
                    else_=number,
                )
        else:
            second[column] = _text_boolean(text) if text is not None else raw
    t = t.mutate(**second)
    third = {}
    for column, kind in kinds.items():
        raw, parsed = t[raw_name(column)], t[column]
        text = t[_text_name(column)] if _text_name(column) in t.columns else None
        if kind == "timestamp":
            plausible = (parsed >= ibis.literal(PLAUSIBLE_FROM, type=_UTC)) & (
                parsed < ibis.literal(PLAUSIBLE_UNTIL, type=_UTC)
            )
            third[column] = ibis.cases((plausible, parsed), else_=ibis.null(_UTC))
            present = text.notnull() if text is not None else ~_missing_number(raw)
            third[bad_name(column)] = present & ~plausible.fill_null(False)
            third[blank_name(column)] = ~present
        elif kind in ("number", "bool"):
            present = text.notnull() if text is not None else ~_missing_number(raw)
            third[bad_name(column)] = present & parsed.isnull()
        else:
            third[blank_name(column)] = parsed.isnull()
    return t.mutate(**third).drop(*[c for c in t.columns if c.startswith("__fm_text_")])


def _number_as_text(value: ir.Value, kind: str) -> ir.StringValue:
    """Ids and text from numbers: integral floats (``123.0`` from Excel) lose the ``.0``."""
    if value.type().is_integer():
        return value.cast("string")
    integral = (value == value.floor()) & (value.abs() < 2.0**63)
    cases = [(_missing_number(value), ibis.null("string"))]
    if kind == "id":
        cases.append((integral, value.cast("int64").cast("string")))
    return ibis.cases(*cases, else_=value.cast("string"))


def _timestamp(raw: ir.Value, text: ir.StringValue | None, dayfirst: bool) -> ir.Value:
    """A UTC timestamp from text, a naive or aware timestamp, a date or epoch seconds/ms."""
    if text is not None:
        return _text_timestamp(text, dayfirst)
    typ = raw.type()
    if typ.is_timestamp():
        return raw if typ.timezone is not None else raw.cast(_UTC)
    if typ.is_date():
        return raw.cast("timestamp").cast(_UTC)
    return _epoch(raw.cast("float64"))


# ---------------------------------------------------------------------- pandas
_local = threading.local()


def _connection(timezone: str):
    """This thread's private in-memory DuckDB, its session zone set to ``timezone``."""
    if getattr(_local, "backend", None) is None:
        import duckdb

        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")
        install(con)
        _local.backend = ibis.duckdb.from_connection(con)
        _local.con = con
    _local.con.execute("SET TimeZone = ?", [timezone])
    return _local.backend


def _as_engine_column(values: pd.Series) -> pd.Series:
    """A Series DuckDB can scan with one type: mixed Python objects become text."""
    if values.dtype == object:
        values = values.infer_objects()
        if values.dtype == object:
            values = values.map(lambda v: None if _isna(v) else str(v)).astype(object)
    return values.reset_index(drop=True)


def _isna(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _parse_series(values: pd.Series, kind: str, *, timezone: str = "UTC", dayfirst=False):
    backend = _connection(timezone)
    frame = pd.DataFrame({"v": _as_engine_column(values), "i": range(len(values))})
    table = parse_columns(ibis.memtable(frame), {"v": kind}, dayfirst=dayfirst)
    flag = bad_name("v") if kind in ("timestamp", "number", "bool") else blank_name("v")
    out = backend.execute(table.select("i", "v", flag=table[flag]).order_by("i"))
    return out["v"].set_axis(values.index), out["flag"].astype(bool).set_axis(values.index)


def parse_timestamps(
    values: pd.Series, *, timezone: str = "UTC", dayfirst: bool = False
) -> tuple[pd.Series, pd.Series]:
    """Parse timestamps into timezone-aware UTC (see :func:`parse_columns`).

    Naive values are read in ``timezone``. Returns ``(parsed, bad)``.
    """
    parsed, bad = _parse_series(values, "timestamp", timezone=timezone, dayfirst=dayfirst)
    parsed = pd.to_datetime(parsed, utc=True).astype(TIMESTAMP_DTYPE)
    return parsed.rename(values.name), bad


def parse_ids(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Ids as stripped strings (see :func:`parse_columns`). Returns ``(ids, blank)``."""
    ids, blank = _parse_series(values, "id")
    ids = ids.astype(object).where(ids.notna(), None).astype("str")
    return ids.rename(values.name), blank


def parse_numbers(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Numbers (see :func:`parse_columns`). Returns ``(numbers, bad)``."""
    numbers, bad = _parse_series(values, "number")
    return numbers.astype("float64").rename(values.name), bad


def parse_booleans(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Booleans (see :func:`parse_columns`); nullable ``boolean`` dtype. Returns ``(flags, bad)``."""
    flags, bad = _parse_series(values, "bool")
    return flags.astype("boolean").rename(values.name), bad
