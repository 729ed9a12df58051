"""Readers that turn a SOURCE into raw canonical tables, one module per kind.

A reader returns ``dict[table name, RawTable]``; validation happens once, in
:func:`funnel_models.dataset.validate`. Formats:

======== ===================================================================
folder   a folder of ``leads.csv|parquet|xlsx``, ``stage_events...``, ... (+ funnel.yaml)
excel    one ``.xlsx`` workbook with a sheet per table
sqlite   ``sqlite:///path/to/crm.db``
duckdb   ``duckdb:///path/to/crm.duckdb``
======== ===================================================================
"""

from __future__ import annotations

from pathlib import Path

from funnel_models._errors import FunnelDataError
from funnel_models.stages import Funnel

READERS = {
    "folder": "funnel_models.sources.files:read_folder",
    "excel": "funnel_models.sources.files:read_workbook",
    "sqlite": "funnel_models.sources.sql:read_database",
    "duckdb": "funnel_models.sources.sql:read_database",
}

FORMATS = ("auto", *READERS)


def detect_format(source: str | Path) -> str:
    """Tell the kind of a source from its path or URL."""
    text = str(source)
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme:
        if scheme in ("sqlite", "duckdb"):
            return scheme
        if scheme.startswith("postgres"):
            raise FunnelDataError(
                f"{_redact(text)}: PostgreSQL sources are not supported yet; "
                "export the tables to a folder of CSV or Parquet files"
            )
        raise FunnelDataError(f"{_redact(text)}: unknown database URL scheme {scheme!r}")
    path = Path(text)
    if not path.exists():
        raise FunnelDataError(f"{path}: no such file or folder")
    if path.is_dir():
        return "folder"
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return "excel"
    if suffix in (".duckdb", ".ddb"):
        return "duckdb"
    if suffix in (".db", ".sqlite", ".sqlite3"):
        return "sqlite"
    raise FunnelDataError(
        f"{path}: cannot tell what kind of source this is; pass a folder of tables, an .xlsx "
        f"workbook or a database URL, or name the kind with --format ({', '.join(FORMATS)})"
    )


def read_source(source: str | Path, *, format: str = "auto"):
    """Read a source into raw tables: returns ``(tables, label, funnel or None)``."""
    if format == "auto":
        format = detect_format(source)
    if format not in READERS:
        raise FunnelDataError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    module_name, func_name = READERS[format].split(":")
    import importlib

    reader = getattr(importlib.import_module(module_name), func_name)
    tables, label, funnel_path = reader(source)
    funnel = Funnel.from_yaml(funnel_path) if funnel_path is not None else None
    return tables, label, funnel


def _redact(url: str) -> str:
    """A URL with any password replaced by ***."""
    import re

    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)
