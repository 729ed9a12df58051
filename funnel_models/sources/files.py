"""Folders of CSV / Parquet / Excel files, and Excel workbooks with a sheet per table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from funnel_models._errors import FunnelDataError
from funnel_models.dataset import SCHEMA, TABLES, RawTable

_SUFFIXES = (".parquet", ".csv", ".csv.gz", ".xlsx")


def read_folder(path: str | Path):
    """Read ``<table>.parquet|csv|csv.gz|xlsx`` files from a folder."""
    folder = Path(path)
    if not folder.is_dir():
        raise FunnelDataError(f"{folder}: not a folder")
    tables = {}
    for name in TABLES:
        candidates = [folder / f"{name}{suffix}" for suffix in _SUFFIXES]
        found = [p for p in candidates if p.exists()]
        if len(found) > 1:
            raise FunnelDataError(
                f"{folder}: both {found[0].name} and {found[1].name} exist; keep one"
            )
        if found:
            tables[name] = read_table_file(found[0], name)
    if "leads" not in tables or "stage_events" not in tables:
        missing = "leads" if "leads" not in tables else "stage_events"
        present = sorted(p.name for p in folder.iterdir() if p.is_file())[:10]
        raise FunnelDataError(
            f"{folder}: no {missing} table; expected {missing}.csv or {missing}.parquet "
            f"(files found: {', '.join(present) or 'none'})"
        )
    funnel_yaml = folder / "funnel.yaml"
    return tables, str(folder), funnel_yaml if funnel_yaml.exists() else None


def read_table_file(path: Path, table: str) -> RawTable:
    """One table file; CSV columns of the canonical schema are read as text."""
    name = path.name.lower()
    try:
        if name.endswith(".parquet"):
            frame = pd.read_parquet(path)
        elif name.endswith(".xlsx"):
            frame = pd.read_excel(path, dtype=object)
        else:
            frame = _read_csv(path, table)
    except FunnelDataError:
        raise
    except (OSError, ValueError, ImportError) as exc:
        raise FunnelDataError(f"{path}: cannot read it ({_short(exc)})") from None
    except Exception as exc:  # pyarrow / parser errors of many kinds
        raise FunnelDataError(f"{path}: cannot read it ({_short(exc)})") from None
    return RawTable(frame, str(path))


def _read_csv(path: Path, table: str) -> pd.DataFrame:
    known = {**SCHEMA[table]["required"], **SCHEMA[table]["optional"]}
    return read_csv_tolerant(path, dtype={c: "string" for c in known})


def read_csv_tolerant(path: Path, *, dtype=None) -> pd.DataFrame:
    """Read a CSV the way real CRM exports come: BOM or Windows-1252, ``,``/``;``/tab.

    Blank cells are missing; ``dtype`` is passed to pandas (``str`` reads all as text).
    Quoted values may hold separators and line breaks.
    """
    path = Path(path)
    with open(path, "rb") as handle:
        head = handle.read(65536)
    if path.suffix.lower() != ".gz" and b"\x00" in head:
        raise FunnelDataError(f"{path}: binary content, not a CSV file")
    first = head.split(b"\n", 1)[0]
    sep = max((b",", b";", b"\t"), key=first.count).decode()
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return pd.read_csv(
                path, dtype=dtype, sep=sep, encoding=encoding, keep_default_na=False, na_values=[""]
            )
        except UnicodeDecodeError:
            continue
        except pd.errors.ParserError as exc:
            raise FunnelDataError(f"{path}: malformed CSV ({_short(exc)})") from None
        except pd.errors.EmptyDataError:
            raise FunnelDataError(f"{path}: the file is empty (no header row)") from None
    raise FunnelDataError(f"{path}: not UTF-8 or Windows-1252 text")


def read_workbook(path: str | Path):
    """An Excel workbook with one sheet per table (sheet names = table names)."""
    path = Path(path)
    try:
        sheets = pd.read_excel(path, sheet_name=None, dtype=object)
    except Exception as exc:
        raise FunnelDataError(f"{path}: cannot read the workbook ({_short(exc)})") from None
    by_name = {str(k).strip().lower().replace(" ", "_"): (k, v) for k, v in sheets.items()}
    tables = {}
    for name in TABLES:
        if name in by_name:
            sheet, frame = by_name[name]
            tables[name] = RawTable(frame, f"{path} sheet {sheet!r}")
    if "leads" not in tables or "stage_events" not in tables:
        raise FunnelDataError(
            f"{path}: needs sheets named 'leads' and 'stage_events' "
            f"(sheets found: {', '.join(map(str, sheets)) or 'none'})"
        )
    return tables, str(path), None


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text[:200] or type(exc).__name__
