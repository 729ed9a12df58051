"""Shared helpers of the CRM export adapters: reading, column lookup, durations, events.

An adapter only reshapes an export into the canonical tables; row checks happen
once in :func:`funnel_models.core.dataset.validate`. Records an adapter cannot map are
kept and carry a *problem* (column, rule, reason) so that validation rejects
them with that reason: accepted + rejected always equals the rows of the export.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from funnel_models._errors import FunnelConfigError, FunnelDataError
from funnel_models.core.dataset import RawTable
from funnel_models.core.funnel import Funnel, normalize_stage_key
from funnel_models.io.files import read_csv_tolerant

EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")


# ---------------------------------------------------------------------- reading
def read_export(path: str | Path) -> pd.DataFrame:
    """Read one CSV or Excel export as text, every value a string or missing.

    Tolerates a UTF-8 BOM or Windows-1252 text, ``,``/``;``/tab separators,
    quoted values with embedded newlines and white space around column names.
    """
    path = Path(path)
    if not path.exists():
        raise FunnelDataError(f"{path}: no such file")
    if path.is_dir():
        raise FunnelDataError(f"{path}: is a folder; this format reads one export file")
    if path.suffix.lower() in EXCEL_SUFFIXES:
        try:
            frame = pd.read_excel(path, dtype=object)
        except Exception as exc:
            raise FunnelDataError(f"{path}: cannot read the workbook ({_short(exc)})") from None
        frame = frame.astype(object).where(frame.notna(), None)
    else:
        frame = read_csv_tolerant(path, dtype=str)
    frame.columns = [str(c).strip().lstrip("\ufeff").strip() for c in frame.columns]
    return frame


def header_of(path: str | Path) -> list[str]:
    """The column names of a CSV or Excel export (for format detection)."""
    path = Path(path)
    if path.suffix.lower() in EXCEL_SUFFIXES:
        try:
            return [str(c).strip() for c in pd.read_excel(path, nrows=0).columns]
        except Exception:
            return []
    try:
        with open(path, "rb") as handle:
            first = handle.readline(65536)
    except OSError:
        return []
    text = first.decode("utf-8-sig", errors="replace").strip("\r\n")
    sep = max((",", ";", "\t"), key=text.count)
    return [c.strip().strip('"').strip() for c in text.split(sep)]


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text[:200] or type(exc).__name__


# ---------------------------------------------------------------------- columns
def key(name: str) -> str:
    """Case-, space- and punctuation-insensitive column key."""
    return re.sub(r"[^0-9a-z]", "", str(name).casefold())


def snake(name: str) -> str:
    """A column label as a snake_case attribute name: 'Lead Status' -> 'lead_status'."""
    text = re.sub(r"[^0-9a-zA-Z]+", "_", str(name)).strip("_").lower()
    return text or "column"


def find_column(columns: Iterable[str], *candidates: str) -> str | None:
    """The first column matching one of the candidate names (ignoring case and punctuation)."""
    by_key = {}
    for c in columns:
        by_key.setdefault(key(c), c)
    for cand in candidates:
        if key(cand) in by_key:
            return by_key[key(cand)]
    return None


def require_column(frame: pd.DataFrame, where: str, what: str, *candidates: str) -> str:
    """Like :func:`find_column` but a one-line error naming what is missing."""
    found = find_column(frame.columns, *candidates)
    if found is None:
        import difflib

        names = [str(c) for c in frame.columns]
        close = difflib.get_close_matches(candidates[0], names, n=1, cutoff=0.6)
        hint = f"; found {close[0]!r}. Did you mean {close[0]!r}?" if close else ""
        shown = ", ".join(repr(c) for c in names[:8]) + (" ..." if len(names) > 8 else "")
        raise FunnelDataError(
            f"{where}: no {what} column (looked for {', '.join(repr(c) for c in candidates)})"
            + (hint or f" (columns found: {shown or 'none'})")
        )
    return found


def text(values: pd.Series) -> pd.Series:
    """Stripped text with blanks as missing (object dtype)."""
    out = values.astype("string").str.strip()
    out = out.where(out.notna() & (out != ""), None)
    return out.astype(object).where(out.notna(), None)


# ---------------------------------------------------------------------- durations
_DURATION = re.compile(
    r"^(?:(\d+)\s*(?:d|days?)\s*,?\s*)?(\d+):([0-5]?\d)(?::([0-5]?\d(?:\.\d+)?))?$"
)


def parse_durations(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``HH:mm:ss`` durations (hours may exceed 24, e.g. ``2705:47:48``) as float hours.

    Returns ``(hours, bad)``; ``bad`` marks present values that are not durations.

    >>> h, bad = parse_durations(pd.Series(["2705:47:48", "00:30:00", None, "12:7x"]))
    >>> [round(x, 4) for x in h[:2]], bad.tolist()
    ([2705.7967, 0.5], [False, False, False, True])
    """
    raw = values.astype("string").str.strip()
    blank = (raw.isna() | (raw == "")).fillna(True).to_numpy(bool)
    parts = raw.str.extract(_DURATION)
    days = pd.to_numeric(parts[0], errors="coerce").fillna(0.0)
    hours = (
        days * 24
        + pd.to_numeric(parts[1], errors="coerce")
        + pd.to_numeric(parts[2], errors="coerce") / 60
        + pd.to_numeric(parts[3], errors="coerce").fillna(0.0) / 3600
    ).astype("float64")
    bad = ~blank & hours.isna().to_numpy(bool)
    return hours.set_axis(values.index), pd.Series(bad, index=values.index)


# ---------------------------------------------------------------------- building tables
class Problems:
    """Per-record problems an adapter found (first one wins), aligned with a table."""

    def __init__(self, n: int) -> None:
        self.column = np.full(n, None, dtype=object)
        self.rule = np.full(n, None, dtype=object)
        self.reason = np.full(n, None, dtype=object)

    def add(self, mask, column: str, rule: str, reason) -> None:
        mask = np.asarray(mask, dtype=bool) & pd.isna(self.reason)
        if not mask.any():
            return
        self.column[mask] = column
        self.rule[mask] = rule
        if isinstance(reason, (np.ndarray, pd.Series, list)):
            self.reason[mask] = np.asarray(reason, dtype=object)[mask]
        else:
            self.reason[mask] = reason

    def frame(self) -> pd.DataFrame | None:
        if pd.isna(self.reason).all():
            return None
        return pd.DataFrame({"column": self.column, "rule": self.rule, "reason": self.reason})


class EventBuilder:
    """Collects stage events from several columns or files, keeping each event's origin."""

    def __init__(self) -> None:
        self._parts: list[pd.DataFrame] = []
        self._rows: list[np.ndarray] = []
        self._sources: list[np.ndarray] = []

    def add(
        self,
        lead_id: pd.Series,
        stage,
        entered_at: pd.Series,
        rows: np.ndarray,
        source: str,
        mask=None,
        **extra,
    ) -> None:
        """Add the events of the records where ``mask`` (default: entered_at present)."""
        entered_at = pd.Series(entered_at).reset_index(drop=True)
        if mask is None:
            mask = entered_at.notna().to_numpy(bool).copy()
            if entered_at.dtype == object or str(entered_at.dtype) in ("str", "string"):
                filled = entered_at.astype("string").str.strip() != ""
                mask &= filled.fillna(False).to_numpy(bool)
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        n = len(entered_at)
        columns = {
            "lead_id": pd.Series(lead_id).reset_index(drop=True),
            "stage": stage if not isinstance(stage, pd.Series) else stage.reset_index(drop=True),
            "entered_at": entered_at,
        }
        for name, value in extra.items():
            columns[name] = value.reset_index(drop=True) if isinstance(value, pd.Series) else value
        part = pd.DataFrame(columns, index=range(n)).loc[mask]
        self._parts.append(part.astype(object).where(part.notna(), None))
        self._rows.append(np.asarray(rows)[mask])
        self._sources.append(np.full(int(mask.sum()), source, dtype=object))

    def table(self, label: str) -> RawTable:
        if not self._parts:
            frame = pd.DataFrame({"lead_id": [], "stage": [], "entered_at": []}, dtype=object)
            return RawTable(frame, label)
        frame = pd.concat(self._parts, ignore_index=True)
        return RawTable(
            frame,
            label,
            rows=np.concatenate(self._rows),
            row_sources=np.concatenate(self._sources),
        )


# ---------------------------------------------------------------------- stages
def check_stage_names(
    stages: Sequence[str], funnel: Funnel, *, where: str, mapping: str, columns: Sequence[str]
) -> dict[str, str]:
    """Map CRM stage names to canonical stages; a one-line error for a name not mapped."""
    out = {}
    for name, column in zip(stages, columns, strict=True):
        canonical = funnel.canonical_stage(name)
        if canonical is None:
            hint = funnel.suggest(name)
            raise FunnelConfigError(
                f"{where}: stage {name!r} (column {column!r}) is not in the pipeline mapping "
                f"{mapping}"
                + (f"; did you mean {hint!r}?" if hint else "")
                + f"; add it under 'aliases:' (e.g. {name!r}: {funnel.progression[-1]})"
            )
        out[name] = canonical
    return out


def stage_key(value: str) -> str:
    return normalize_stage_key(value)
