"""Folders of CSV / Parquet / Excel files, and Excel workbooks with a sheet per table.

CSV and Parquet tables are read in chunks of :data:`CHUNK_ROWS` rows and
validated chunk by chunk (:class:`~funnel_models.core.dataset.ChunkedTable`), so the
raw rows of a large file are never all in memory at once. Excel sheets are read
whole.
"""

from __future__ import annotations

import codecs
import gzip
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from funnel_models._errors import FunnelDataError
from funnel_models.core.dataset import TABLES, ChunkedTable, RawTable

_SUFFIXES = (".parquet", ".csv", ".csv.gz", ".xlsx")

CHUNK_ROWS = 1_000_000
"""Rows per chunk when a CSV or Parquet table is read (tests lower it)."""


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
            tables[name] = read_table_file(found[0])
    if "leads" not in tables or "stage_events" not in tables:
        missing = "leads" if "leads" not in tables else "stage_events"
        present = sorted(p.name for p in folder.iterdir() if p.is_file())[:10]
        raise FunnelDataError(
            f"{folder}: no {missing} table; expected {missing}.csv or {missing}.parquet "
            f"(files found: {', '.join(present) or 'none'})"
        )
    funnel_yaml = folder / "funnel.yaml"
    return tables, str(folder), funnel_yaml if funnel_yaml.exists() else None


def read_table_file(path: Path) -> RawTable | ChunkedTable:
    """One table file: CSV (every column as text) and Parquet in chunks, Excel whole.

    The file is opened and checked now; its rows are read while it is validated.
    """
    with _read_errors(path):
        name = path.name.lower()
        if name.endswith(".xlsx"):
            return RawTable(pd.read_excel(path, dtype=object), str(path))
        if name.endswith(".parquet"):
            import pyarrow.parquet as pq

            parquet = pq.ParquetFile(path)
            frames = _parquet_frames(path, parquet, _null_widened_types(parquet), CHUNK_ROWS)
            return ChunkedTable(frames, str(path))
        frames = _csv_frames(path, _csv_options(path), CHUNK_ROWS)
        return ChunkedTable(frames, str(path), text_attributes=True)


def _parquet_frames(path: Path, parquet, widened: dict[str, Any], chunk_rows: int):
    """The record batches of a Parquet file as DataFrames typed as if it were read whole."""
    import pyarrow as pa

    with _read_errors(path), parquet:
        if parquet.metadata.num_rows == 0:
            yield parquet.schema_arrow.empty_table().to_pandas()
        for batch in parquet.iter_batches(batch_size=chunk_rows):
            frame = pa.Table.from_batches([batch]).to_pandas()
            del batch
            for column, dtype in widened.items():
                if column in frame.columns and _is_numpy_int_or_bool(frame[column].dtype):
                    frame[column] = frame[column].astype(dtype)
            yield frame
            del frame  # hold no chunk while the next one is read


def _null_widened_types(parquet) -> dict[str, Any]:
    """Integer and boolean columns that hold a null somewhere, with their pandas type.

    pandas reads such a column as float64 (integers) or object (booleans) when
    the part it reads holds a null, else as int64 or bool: every chunk gets the
    type the whole file would get. Null counts come from the Parquet statistics,
    or from reading the column when a writer left them out.
    """
    import pyarrow as pa

    meta = parquet.metadata
    leaves = {meta.schema.column(j).path: j for j in range(meta.num_columns)}
    widened = {}
    for field in parquet.schema_arrow:
        kind = field.type
        if field.name not in leaves or not (pa.types.is_integer(kind) or pa.types.is_boolean(kind)):
            continue
        stats = [
            meta.row_group(g).column(leaves[field.name]).statistics
            for g in range(meta.num_row_groups)
        ]
        if all(s is not None and s.has_null_count for s in stats):
            has_null = any(s.null_count for s in stats)
        else:
            has_null = parquet.read(columns=[field.name]).column(0).null_count > 0
        if has_null:
            widened[field.name] = pa.nulls(1, kind).to_pandas().dtype
    return widened


def _is_numpy_int_or_bool(dtype) -> bool:
    return isinstance(dtype, np.dtype) and dtype.kind in "iub"


def _csv_frames(path: Path, options: dict[str, Any], chunk_rows: int) -> Iterator[pd.DataFrame]:
    """A CSV file's rows, every column as text (``string``), ``chunk_rows`` at a time."""
    import pyarrow as pa

    # Arrow text straight from the parser is ~8x faster than dtype="string", which
    # builds Python strings first; it becomes "string" without a copy.
    text = pd.ArrowDtype(pa.large_string())
    with (
        _read_errors(path),
        pd.read_csv(path, dtype=text, chunksize=chunk_rows, **options) as reader,
    ):
        for frame in reader:
            yield frame.astype("string")
            del frame  # hold no chunk while the next one is read


def read_csv_tolerant(path: Path, *, dtype=None) -> pd.DataFrame:
    """Read a CSV the way real CRM exports come: BOM or Windows-1252, ``,``/``;``/tab.

    Blank cells are missing; ``dtype`` is passed to pandas (``str`` reads all as text).
    Quoted values may hold separators and line breaks.
    """
    path = Path(path)
    with _read_errors(path):
        return pd.read_csv(path, dtype=dtype, **_csv_options(path))


def _csv_options(path: Path) -> dict[str, Any]:
    """pandas options for a CSV file: its separator and encoding; blank = missing.

    The separator is the most frequent of ``,`` ``;`` tab in the header line.
    The encoding is UTF-8 (a BOM is dropped) when the whole file decodes as
    UTF-8, else Windows-1252; the file is scanned once here so that reading it
    in chunks never finds out halfway.
    """
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as handle:
        head = handle.read(65536)
        if b"\x00" in head:
            raise FunnelDataError(f"{path}: binary content, not a CSV file")
        first = head.split(b"\n", 1)[0]
        sep = max((b",", b";", b"\t"), key=first.count).decode()
        utf8 = _decodes_as_utf8(head, handle)
    return {
        "sep": sep,
        "encoding": "utf-8-sig" if utf8 else "cp1252",
        "keep_default_na": False,
        "na_values": [""],
    }


def _decodes_as_utf8(head: bytes, handle) -> bool:
    """Whether ``head`` and the rest of ``handle`` are valid UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head)
        for block in iter(partial(handle.read, 1 << 22), b""):
            decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


@contextmanager
def _read_errors(path: Path) -> Iterator[None]:
    """Any error met reading a table file, as one FunnelDataError that names the file."""
    try:
        yield
    except FunnelDataError:
        raise
    except UnicodeDecodeError:
        raise FunnelDataError(f"{path}: not UTF-8 or Windows-1252 text") from None
    except pd.errors.ParserError as exc:
        raise FunnelDataError(f"{path}: malformed CSV ({_short(exc)})") from None
    except pd.errors.EmptyDataError:
        raise FunnelDataError(f"{path}: the file is empty (no header row)") from None
    except Exception as exc:  # OS, pyarrow and parser errors of many kinds
        raise FunnelDataError(f"{path}: cannot read it ({_short(exc)})") from None


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
