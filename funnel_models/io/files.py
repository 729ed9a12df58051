"""Folders of CSV / Parquet / Excel files, and Excel workbooks with a sheet per table.

CSV and Parquet files are read by DuckDB itself (:class:`CsvFile`,
:class:`ParquetFile`): no row passes through pandas. Every path is read
literally — brackets, ``*``, ``?``, quotes and spaces in a name are never a
pattern — by giving DuckDB a private symbolic link to the file. Row numbers are
Parquet's ``file_row_number`` and, for CSV, the order records are read in (1 =
the first data row). CSV files are read as text, with the separator of their
header line (``,``, ``;`` or tab), UTF-8 with or without a BOM or else
Windows-1252, quoted values holding separators and line breaks, gzip when the
name ends in ``.gz``; their attribute columns get the types pandas' CSV reader
would give them. Excel sheets are read whole with pandas.
"""

from __future__ import annotations

import atexit
import codecs
import csv
import gzip
import io
import itertools
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from funnel_models._errors import FunnelDataError
from funnel_models.core.schema import (
    POS,
    TABLES,
    RawRelation,
    RawTable,
    engine_view,
    normalize_column,
)

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


def read_table_file(path: Path) -> RawRelation:
    """One table file: CSV and Parquet read by the engine, Excel whole with pandas.

    CSV files are checked now (empty, binary); their rows are read during validation.
    """
    name = path.name.lower()
    if name.endswith(".xlsx"):
        with _read_errors(path):
            return RawTable(pd.read_excel(path, dtype=object), str(path), path=path)
    if name.endswith(".parquet"):
        return ParquetFile(path)
    return CsvFile(path)


# ---------------------------------------------------------------------- engine readers
class ParquetFile(RawRelation):
    """A Parquet file read by DuckDB; row numbers from the file's own order."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.source = str(path)

    def relation(self, backend):
        link = _literal(self.path)
        with _read_errors(self.path):
            names = [
                r[0]
                for r in backend.con.execute(
                    f"DESCRIBE SELECT * FROM read_parquet({_str(link)})"
                ).fetchall()
            ]
            columns = _renamed(names, self.source)
            sql = (
                f"SELECT {columns}, file_row_number + 1 AS {POS} "
                f"FROM read_parquet({_str(link)}, file_row_number = true)"
            )
            return engine_view(backend, sql)


class CsvFile(RawRelation):
    """A CSV file read by DuckDB as text (see the module docstring)."""

    text_only = True

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.source = str(path)
        self.delimiter, self.encoding, self.header = _sniff(self.path)

    def relation(self, backend):
        con = backend.con
        table = self._copied(f"fm_csv_{next(_names)}")
        with _read_errors(self.path):
            try:
                self._read(con, table, _literal(self.path) if self.encoding == "utf-8" else None)
            except Exception as exc:
                if "Invalid unicode" not in str(exc):
                    raise
                # Not UTF-8 after all (found past the first megabyte): Windows-1252.
                con.execute(f"DROP TABLE IF EXISTS {table}")
                self.encoding = "cp1252"
                self._read(con, table, None)
        names = ", ".join(
            f"c{i} AS {_ident(n)}" for i, n in enumerate(_unique(self.header, self.source))
        )
        return engine_view(
            backend,
            f"SELECT {names}, rowid + 1 AS {POS} FROM {table}",
        )

    def _read(self, con, table: str, file: Path | None) -> None:
        """Read the file into a temporary table (its insertion order gives the row numbers)."""
        if file is None:
            file = _transcoded(self.path, self.encoding)
        columns = {f"c{i}": "VARCHAR" for i in range(len(self.header))}
        options = (
            f"header = true, auto_detect = false, columns = $columns, "
            f"delim = {_str(self.delimiter)}, quote = '\"', escape = '\"', compression = 'auto'"
        )
        try:
            con.execute(
                f"CREATE TEMP TABLE {table} AS SELECT * FROM read_csv({_str(file)}, {options})",
                {"columns": columns},
            )
        except Exception as exc:
            text = str(exc)
            if "Expected Number of Columns" not in text or _found_columns(exc) > len(columns):
                raise
            # Short rows are padded with missing values, as pandas reads them; the
            # parallel reader cannot pad and keep quoted line breaks, so read serially.
            con.execute(f"DROP TABLE IF EXISTS {table}")
            con.execute(
                f"CREATE TEMP TABLE {table} AS SELECT * FROM read_csv({_str(file)}, "
                f"{options}, null_padding = true, parallel = false)",
                {"columns": columns},
            )


_names = itertools.count(1)


def _sniff(path: Path) -> tuple[str, str, list[str]]:
    """The separator, the likely encoding and the header of a CSV file (one-line errors).

    The encoding is UTF-8 unless the first megabyte is not; DuckDB checks the rest.
    """
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with _read_errors(path), opener(path, "rb") as handle:
        head = handle.read(1 << 20)
    if not head:
        raise FunnelDataError(f"{path}: the file is empty (no header row)")
    if b"\x00" in head[:65536]:
        raise FunnelDataError(f"{path}: binary content, not a CSV file")
    try:
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(head)
        encoding = "utf-8"
    except UnicodeDecodeError:
        text, encoding = head.decode("cp1252", errors="replace"), "cp1252"
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    header = next(csv.reader(io.StringIO(text), delimiter=delimiter, quotechar='"'), [])
    if not header or not any(h.strip() for h in header):
        raise FunnelDataError(f"{path}: the file is empty (no header row)")
    return delimiter, encoding, header


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


def _unique(header: list[str], source: str) -> list[str]:
    """Header names without white space or BOM; a name given twice is an error."""
    names = [normalize_column(h) for h in header]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise FunnelDataError(f"{source}: column {name!r} appears twice; keep one")
        seen.add(name)
    return names


def _renamed(names: list[str], source: str) -> str:
    """``SELECT`` list giving each column its normalised name."""
    return ", ".join(
        f"{_ident(old)} AS {_ident(new)}"
        for old, new in zip(names, _unique(names, source), strict=True)
    )


def _found_columns(exc: Exception) -> int:
    text = str(exc)
    try:
        return int(text.split("Found: ", 1)[1].split()[0])
    except (IndexError, ValueError):
        return 0


# ---------------------------------------------------------------------- literal paths
_links: Path | None = None


def _literal(path: Path) -> Path:
    """A path DuckDB reads literally: a private symbolic link with a plain name.

    DuckDB reads ``[``, ``*``, ``?`` and ``{`` in a path as a glob pattern; the
    link's name has none of them, whatever the file is called.
    """
    global _links
    if _links is None:
        _links = Path(tempfile.mkdtemp(prefix="funnel_models_files_"))
        atexit.register(shutil.rmtree, _links, ignore_errors=True)
    path = Path(path)
    if not path.exists():
        raise FunnelDataError(f"{path}: no such file")
    suffix = "".join(s for s in path.suffixes[-2:] if s.lower() in (".csv", ".gz", ".parquet"))
    link = _links / f"f{next(_names)}{suffix.lower()}"
    link.symlink_to(path.resolve())
    return link


def _transcoded(path: Path, encoding: str) -> Path:
    """A UTF-8 copy of a text file in another encoding (CRM exports in Windows-1252)."""
    _literal(path)  # creates the private folder
    assert _links is not None
    out = _links / f"f{next(_names)}.csv"
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as src, open(out, "wb") as dst:
        reader = codecs.getreader(encoding)(src, errors="replace")
        for block in iter(partial(reader.read, 1 << 22), ""):
            dst.write(block.encode("utf-8"))
    return out


def _ident(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _str(text: Any) -> str:
    return "'" + str(text).replace("'", "''") + "'"


# ---------------------------------------------------------------------- pandas readers
def read_csv_tolerant(path: Path, *, dtype=None) -> pd.DataFrame:
    """Read a small CSV export with pandas the way real CRM exports come.

    BOM or Windows-1252, ``,``/``;``/tab; blank cells are missing; ``dtype`` is
    passed to pandas (``str`` reads all as text). Quoted values may hold
    separators and line breaks.
    """
    path = Path(path)
    delimiter, _, _ = _sniff(path)
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with _read_errors(path), opener(path, "rb") as handle:
        utf8 = _decodes_as_utf8(handle.read(1 << 20), handle)
    encoding = "utf-8" if utf8 else "cp1252"
    with _read_errors(path):
        return pd.read_csv(
            path,
            dtype=dtype,
            sep=delimiter,
            encoding="utf-8-sig" if encoding == "utf-8" else encoding,
            keep_default_na=False,
            na_values=[""],
        )


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
    except Exception as exc:  # OS, DuckDB, pyarrow and parser errors of many kinds
        text = str(exc)
        if "CSV Error" in text or "Expected Number of Columns" in text:
            raise FunnelDataError(f"{path}: malformed CSV ({_short(exc)})") from None
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
            tables[name] = RawTable(frame, f"{path} sheet {sheet!r}", path=path)
    if "leads" not in tables or "stage_events" not in tables:
        raise FunnelDataError(
            f"{path}: needs sheets named 'leads' and 'stage_events' "
            f"(sheets found: {', '.join(map(str, sheets)) or 'none'})"
        )
    return tables, str(path), None


def _short(exc: Exception) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    text = " ".join(" ".join(lines[:3]).split())
    return text[:200] or type(exc).__name__
