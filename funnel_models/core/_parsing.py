"""Vectorised parsing of CRM values: timestamps, ids, numbers, booleans.

Every parser returns the parsed values and a boolean mask of the values that
were present but could not be parsed, so the caller can reject those rows with
a reason instead of silently turning them into NaN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TIMESTAMP_DTYPE = "datetime64[ns, UTC]"

# Values outside this window are typos or placeholders (1900-01-01, 1970-01-01, 9999-12-31).
PLAUSIBLE_FROM = pd.Timestamp("1980-01-01", tz="UTC")
PLAUSIBLE_UNTIL = pd.Timestamp("2100-01-01", tz="UTC")

# Patterns as plain strings with flags inline and white space spelled out: pandas then
# runs them in Arrow's RE2 kernels. A compiled pattern, or ``\s`` (RE2's misses a few
# characters), sends every value through Python's ``re`` instead (~10x slower).
_SPACE = "[ \t\n\r\f\v\u00a0]"
_TZ_SUFFIX = r"\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?" + _SPACE + r"*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$"
_TZ_WORD = "(?i)" + _SPACE + r"*\b(?:UTC|GMT)\b" + _SPACE + "*$"
_EPOCH = r"^\d{9,13}(?:\.0+)?$"
_DOTTED = r"^\d{1,2}\.\d{1,2}\.\d{4}"

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


def blank_mask(values: pd.Series) -> pd.Series:
    """True where a value is missing or only white space."""
    if values.dtype.kind in "biufcmM":
        return values.isna().astype(bool)
    text = values.astype("string")
    return (text.isna() | (text.str.strip() == "")).fillna(True).astype(bool)


def parse_timestamps(
    values: pd.Series, *, timezone: str = "UTC", dayfirst: bool = False
) -> tuple[pd.Series, pd.Series]:
    """Parse timestamps into timezone-aware UTC.

    Naive values are read in ``timezone``; values with an offset or ``Z`` are
    converted. Returns ``(parsed, bad)`` where ``bad`` marks present values that
    are unparsable or implausible (before 1980 or after 2100).
    """
    index = values.index
    blank = blank_mask(values)
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        parsed = values.dt.tz_convert("UTC")
    elif values.dtype.kind == "M":
        parsed = _localize(values, timezone)
    elif values.dtype.kind in "iuf":
        parsed = _from_epoch(values.astype("float64"))
    else:
        text = values.astype("string").str.strip()
        text = text.where(~blank, None)
        parsed = pd.Series(pd.NaT, index=index, dtype=TIMESTAMP_DTYPE)
        todo = ~blank
        # Strings with an explicit zone: "2024-03-05T14:22:01Z", "... +01:00", "... UTC".
        text = text.str.replace(_TZ_WORD, "+00:00", regex=True)
        aware = todo & text.str.contains(_TZ_SUFFIX, regex=True).fillna(False)
        aware &= ~text.str.match(_EPOCH).fillna(False)
        if aware.any():
            got = pd.to_datetime(text[aware], format="ISO8601", utc=True, errors="coerce")
            parsed[aware] = got.astype(TIMESTAMP_DTYPE)
            todo &= ~aware
        epoch = todo & text.str.match(_EPOCH).fillna(False)
        if epoch.any():
            parsed[epoch] = _from_epoch(text[epoch].astype("float64"))
            todo &= ~epoch
        if todo.any():
            naive = pd.Series(pd.NaT, index=index, dtype="datetime64[ns]")
            remaining = todo.copy()
            iso = remaining & ~text.str.match(_DOTTED).fillna(False)
            if iso.any():
                got = pd.to_datetime(text[iso], format="ISO8601", errors="coerce")
                naive[iso] = got.astype("datetime64[ns]")
                remaining &= naive.isna()
            for fmt in (_EU if dayfirst else _US) + _ALWAYS:
                if not remaining.any():
                    break
                got = pd.to_datetime(text[remaining], format=fmt, errors="coerce")
                ok = got.notna()
                if ok.any():
                    naive[got.index[ok]] = got[ok].astype("datetime64[ns]")
                    remaining[got.index[ok]] = False
            parsed[todo] = _localize(naive[todo], timezone)
    parsed = parsed.astype(TIMESTAMP_DTYPE)
    implausible = parsed.notna() & ((parsed < PLAUSIBLE_FROM) | (parsed >= PLAUSIBLE_UNTIL))
    parsed = parsed.mask(implausible)
    bad = (~blank & parsed.isna()).astype(bool)
    return parsed, bad


def _localize(naive: pd.Series, timezone: str) -> pd.Series:
    naive = naive.astype("datetime64[ns]")
    # Ambiguous wall times (the repeated hour when clocks go back) are read as
    # standard time; times skipped by the spring change move forward.
    local = naive.dt.tz_localize(
        timezone, ambiguous=np.zeros(len(naive), dtype=bool), nonexistent="shift_forward"
    )
    return local.dt.tz_convert("UTC")


def _from_epoch(numbers: pd.Series) -> pd.Series:
    """Unix time in seconds or milliseconds (HubSpot exports milliseconds)."""
    millis = numbers.abs() >= 1e11
    seconds = numbers.where(~millis, numbers / 1000.0)
    out = pd.to_datetime(seconds, unit="s", utc=True, errors="coerce")
    return out.astype(TIMESTAMP_DTYPE)


def parse_ids(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Ids as stripped strings; integral floats (``123.0`` from Excel) lose the ``.0``.

    Returns ``(ids, blank)``.
    """
    blank = blank_mask(values)
    if values.dtype.kind == "f":
        integral = values.notna() & (values == np.floor(values))
        text = values.astype("string")
        text[integral] = values[integral].astype("int64").astype("string")
    elif values.dtype.kind in "iu":
        text = values.astype("string")
    else:
        text = values.astype("string").str.strip()
    ids = text.where(~blank, None).astype("str")
    return ids, blank


# Plain strings, like the timestamp patterns above (RE2: 2 M values in 1.2 s instead of 2.3 s).
# Every Unicode space counts as junk, the thin and narrow no-break spaces of French and
# Swiss thousands included ("12\u202f500,00").
_NUMBER_SPACE = "[ \t\n\r\f\v\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
_NUMBER_JUNK = "(?i)(?:" + _NUMBER_SPACE + "|[€$£%]|EUR|USD|GBP)"
_EU_NUMBER = r"^-?\d{1,3}(?:\.\d{3})*,\d+$|^-?\d+,\d+$"


def parse_numbers(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Numbers, tolerant of currency symbols, thousands separators and decimal commas."""
    blank = blank_mask(values)
    if values.dtype.kind in "iuf":
        return values.astype("float64"), pd.Series(False, index=values.index)
    text = values.astype("string").str.replace(_NUMBER_JUNK, "", regex=True)
    eu = text.str.match(_EU_NUMBER).fillna(False)
    text = text.where(
        ~eu, text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    )
    text = text.where(eu, text.str.replace(",", "", regex=False))
    numbers = pd.to_numeric(text, errors="coerce").astype("float64")
    bad = (~blank & numbers.isna()).astype(bool)
    return numbers, bad


_TRUE = {"true", "t", "yes", "y", "1", "1.0", "won", "x"}
_FALSE = {"false", "f", "no", "n", "0", "0.0", "lost"}


def parse_booleans(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Booleans from true/false, yes/no, 1/0 (and won/lost); nullable ``boolean`` dtype."""
    blank = blank_mask(values)
    if values.dtype == bool or isinstance(values.dtype, pd.BooleanDtype):
        return values.astype("boolean"), pd.Series(False, index=values.index)
    text = values.astype("string").str.strip().str.casefold()
    out = pd.Series(pd.NA, index=values.index, dtype="boolean")
    out[text.isin(_TRUE).fillna(False)] = True
    out[text.isin(_FALSE).fillna(False)] = False
    bad = (~blank & out.isna()).astype(bool)
    return out, bad


# The literals pandas' CSV reader reads as booleans.
_CSV_BOOLEANS = {
    "True": True,
    "TRUE": True,
    "true": True,
    "False": False,
    "FALSE": False,
    "false": False,
}


def infer_text_types(values: pd.Series) -> pd.Series:
    """Give a column read as text the type pandas' CSV reader would infer for it.

    Integers become int64 (float64 when a value is missing), other numbers
    float64, ``True``/``False`` bool (object when a value is missing), a column
    with no value float64; anything else stays text (``str``). Integers too large
    for 64 bits stay text (pandas would keep them as Python ints).

    Examples
    --------
    >>> infer_text_types(pd.Series(["1", "2", None], dtype="string")).tolist()
    [1.0, 2.0, nan]
    >>> infer_text_types(pd.Series(["007", "x"], dtype="string")).tolist()
    ['007', 'x']
    """
    present = values.notna().to_numpy(bool)
    if not present.any():
        return pd.Series(np.nan, index=values.index, dtype="float64")
    first = values[present].iloc[0]
    if first not in _CSV_BOOLEANS and not _reads_as_number(first):
        return values.astype("str")  # the usual case, decided without a pass over the column
    text = values[present].astype(object)
    try:
        numbers = pd.to_numeric(text)
    except (ValueError, TypeError):
        numbers = None
    if numbers is not None and numbers.dtype.kind in "iuf" and numbers.notna().all():
        if present.all():
            return numbers
        return numbers.astype("float64").reindex(values.index)
    flags = text.map(_CSV_BOOLEANS)
    if flags.notna().all():
        return flags.astype(bool) if present.all() else flags.astype(object).reindex(values.index)
    return values.astype("str")


def _reads_as_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
