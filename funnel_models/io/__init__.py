"""Readers that turn a SOURCE into raw canonical tables, one module per kind.

A reader returns ``(dict[table name, RawRelation], label, funnel)`` where each
raw table is read by the engine (:mod:`funnel_models.core.schema`) and
``funnel`` is a :class:`~funnel_models.core.funnel.Funnel`, a path to a
``funnel.yaml`` or ``None``; validation happens once, in
:func:`funnel_models.core.dataset.validate`, which writes a funnel store
(:mod:`funnel_models.core.store`): :func:`ingest` to a file, :func:`load` in
memory — or :func:`load` opens a store file that :func:`ingest` wrote. Formats
(``--format`` on every command that takes a SOURCE):

================================ =======================================================
store                            a funnel store file written by ``funnel-models ingest``
folder                           ``leads.csv|parquet|xlsx``, ``stage_events...``, ... (+ funnel.yaml)
excel                            one ``.xlsx`` workbook with a sheet per table
sqlite                           ``sqlite:///path/to/crm.db``
duckdb                           ``duckdb:///path/to/crm.duckdb``
postgresql                       ``postgresql://user[:password]@host[:port]/dbname[?schema=s]``
hubspot-contacts                 HubSpot contacts export (lifecycle stage dates)
hubspot-deals                    HubSpot deals export ("Date entered ..." per pipeline stage)
salesforce-leads                 Salesforce Lead export (CreatedDate, ConvertedDate, Status, ...)
salesforce-opportunity-history   OpportunityHistory or Opportunity/LeadFieldHistory export
olist                            folder with the Olist marketing-funnel CSVs
maven                            folder with the Maven CRM sales-opportunities CSVs
mapping                          a YAML mapping file for any other CSV / Excel export
================================ =======================================================

``auto`` tells the kind from the path, URL scheme, file names or export header.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from funnel_models._errors import FunnelDataError
from funnel_models.core.dataset import FunnelDataset, RawTable, open_dataset, validate
from funnel_models.core.funnel import Funnel
from funnel_models.core.redaction import redact
from funnel_models.core.store import is_store

__all__ = ["FORMATS", "READERS", "detect_format", "ingest", "load", "read_source"]

READERS = {
    "folder": "funnel_models.io.files:read_folder",
    "excel": "funnel_models.io.files:read_workbook",
    "sqlite": "funnel_models.io.databases:read_database",
    "duckdb": "funnel_models.io.databases:read_database",
    "postgresql": "funnel_models.io.databases:read_database",
    "hubspot-contacts": "funnel_models.io.crm.hubspot:read_contacts",
    "hubspot-deals": "funnel_models.io.crm.hubspot:read_deals",
    "salesforce-leads": "funnel_models.io.crm.salesforce:read_leads",
    "salesforce-opportunity-history": "funnel_models.io.crm.salesforce:read_history",
    "olist": "funnel_models.io.crm.olist:read_olist",
    "maven": "funnel_models.io.crm.maven:read_maven",
    "mapping": "funnel_models.io.crm.mapping:read_mapping",
}

FORMATS = ("auto", "store", *READERS)

_SCHEMES = {
    "sqlite": "sqlite",
    "duckdb": "duckdb",
    "postgres": "postgresql",
    "postgresql": "postgresql",
    "postgresql+psycopg": "postgresql",
    "postgresql+psycopg2": "postgresql",
}


def detect_format(source: str | Path) -> str:
    """Tell the kind of a source from its path, URL, file names or export header.

    >>> detect_format("postgresql://analyst@db.example.com/crm")
    'postgresql'
    """
    text = str(source)
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme:
        if scheme in _SCHEMES:
            return _SCHEMES[scheme]
        raise FunnelDataError(
            f"{redact(text)}: unknown database URL scheme {scheme!r}; use sqlite:///, "
            "duckdb:/// or postgresql://"
        )
    path = Path(text)
    if not path.exists():
        raise FunnelDataError(f"{path}: no such file or folder")
    if path.is_dir():
        return _detect_folder(path)
    if is_store(path):
        return "store"
    suffix = path.suffix.lower()
    if suffix in (".duckdb", ".ddb"):
        return "duckdb"
    if suffix in (".db", ".sqlite", ".sqlite3"):
        return "sqlite"
    if suffix in (".yaml", ".yml"):
        return "mapping"
    if suffix in (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls"):
        kind = _detect_export(path)
        if kind:
            return kind
        if suffix in (".xlsx", ".xlsm"):
            return "excel"
    raise FunnelDataError(
        f"{path}: cannot tell what kind of source this is; pass a folder of tables, an .xlsx "
        f"workbook or a database URL, or name the kind with --format ({', '.join(FORMATS)})"
    )


def _detect_folder(path: Path) -> str:
    names = {p.name.lower() for p in path.iterdir() if p.is_file()}
    if "olist_marketing_qualified_leads_dataset.csv" in names:
        return "olist"
    if "sales_pipeline.csv" in names and not any(n.startswith("leads.") for n in names):
        return "maven"
    return "folder"


def _detect_export(path: Path) -> str | None:
    """The CRM export kind from the header row, or None."""
    from funnel_models.io.crm._export import header_of, key

    cols = {key(c) for c in header_of(path)}
    if not cols:
        return None
    if (
        any(c.startswith("becamea") and c.endswith("date") for c in cols)
        or "lifecyclestage" in cols
    ):
        return "hubspot-contacts"
    if "dealstage" in cols or any(c.startswith("dateentered") for c in cols):
        return "hubspot-deals"
    if "stagename" in cols and ("opportunityid" in cols or "opportunity" in cols):
        return "salesforce-opportunity-history"
    if {"field", "oldvalue", "newvalue"} <= cols:
        return "salesforce-opportunity-history"
    if "status" in cols and ({"isconverted", "converteddate"} & cols):
        return "salesforce-leads"
    return None


def read_source(source: str | Path, *, format: str = "auto", funnel: Funnel | None = None):
    """Read a source into raw tables: returns ``(tables, label, funnel or None)``.

    ``funnel`` (the user's funnel definition, if any) is passed to readers that
    check CRM stage names against it.
    """
    if format == "auto":
        format = detect_format(source)
    if format == "store":
        raise FunnelDataError(f"{source}: is a funnel store; open it with fm.load")
    if format not in READERS:
        import difflib

        close = difflib.get_close_matches(str(format), list(READERS), n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise FunnelDataError(
            f"unknown format {format!r}{hint}; choose one of {', '.join(FORMATS)}"
        )
    module_name, func_name = READERS[format].split(":")
    reader = getattr(importlib.import_module(module_name), func_name)
    if "funnel" in inspect.signature(reader).parameters:
        tables, label, found = reader(source, funnel=funnel)
    else:
        tables, label, found = reader(source)
    for table in tables.values():  # an export's rows: the store records the file it came from
        if table.path is None and Path(table.source).is_file():
            table.path = Path(table.source)
    if found is None or isinstance(found, Funnel):
        return tables, label, found
    return tables, label, Funnel.from_yaml(found)


def _store_path(source: Any, format: str) -> Path | None:
    """The store file ``source`` names (a path or a ``duckdb:///`` URL), if it is one."""
    if format not in ("auto", "store") or isinstance(source, Mapping):
        return None
    text = str(source)
    if text.lower().startswith("duckdb://"):
        rest = text.split("://", 1)[1]
        text = rest[1:] if rest.startswith("/") else rest
    elif "://" in text:
        return None
    path = Path(text)
    if path.is_file() and is_store(path):
        return path
    if format == "store":
        raise FunnelDataError(
            f"{path}: not a funnel store; write one with funnel-models ingest SOURCE --store PATH"
        )
    return None


def _read(source, format, funnel, timezone, dayfirst):
    """Raw tables, label and funnel of a source (a mapping of DataFrames, or a SOURCE)."""
    if funnel is not None and not isinstance(funnel, Funnel):
        funnel = Funnel.from_yaml(funnel)
    if isinstance(source, Mapping):
        raw = {k: RawTable(v, k) for k, v in source.items() if v is not None}
        return raw, "<memory>", funnel
    # The reader sees the funnel: CRM adapters check their stage names against it.
    raw, label, default_funnel = read_source(source, format=format, funnel=funnel)
    return raw, label, funnel if funnel is not None else default_funnel


def load(
    source: str | Path | Mapping[str, pd.DataFrame],
    *,
    format: str = "auto",
    funnel: Funnel | str | Path | None = None,
    timezone: str = "UTC",
    dayfirst: bool = False,
) -> FunnelDataset:
    """Load a funnel dataset: open a funnel store, or read and validate a source.

    Parameters
    ----------
    source
        A funnel store file (written by :func:`ingest`: opened read-only, no
        validation needed); a folder of ``leads.csv|parquet``,
        ``stage_events.csv|parquet``, ... ; an Excel workbook with one sheet per
        table; a database URL (``sqlite:///crm.db``, ``duckdb:///crm.duckdb``,
        ``postgresql://user@host/db``); a CRM export (see
        :mod:`funnel_models.io`); or a mapping of table name to DataFrame. A
        source is validated into a store in memory.
    format
        The kind of source (``funnel_models.io.FORMATS``); ``"auto"`` tells
        it from the path or the export's header.
    funnel
        A :class:`Funnel` or a path to ``funnel.yaml``; default: the folder's
        ``funnel.yaml`` if present, else :meth:`Funnel.default`. A store keeps
        the funnel it was validated with.
    timezone
        The zone in which naive timestamps are read (IANA name, e.g. ``Europe/Rome``).
    dayfirst
        Read ambiguous dates such as ``05/03/2024`` as 5 March.

    Returns
    -------
    FunnelDataset
        Raises :class:`FunnelDataError` when the source is unusable (missing,
        unreadable, missing a required table or column); row-level problems are
        reported in ``.rejected`` instead.
    """
    store = _store_path(source, format)
    if store is not None:
        return open_dataset(store)
    raw, label, funnel = _read(source, format, funnel, timezone, dayfirst)
    return validate(raw, funnel=funnel, timezone=timezone, dayfirst=dayfirst, source=label)


def ingest(
    source: str | Path | Mapping[str, pd.DataFrame],
    store: str | Path,
    *,
    format: str = "auto",
    funnel: Funnel | str | Path | None = None,
    timezone: str = "UTC",
    dayfirst: bool = False,
    as_of: Any = None,
    memory_limit: str | None = None,
) -> FunnelDataset:
    """Read and validate a source and write it as a funnel store file, atomically.

    The store holds the accepted tables, the rejected rows with their reasons,
    the funnel, the snapshot ``as_of`` (default: the latest stage event), the
    input files (size, SHA-256, rows read) and the stage visits at the snapshot
    (:mod:`funnel_models.core.store`). It is written beside ``store`` and
    renamed into place; an existing ``store`` is replaced only if it is a
    funnel store. Returns the new store, opened read-only.

    Examples
    --------
    >>> import funnel_models as fm                                   # doctest: +SKIP
    >>> ds = fm.ingest("exports/2024-10-01", "crm.fmstore")          # doctest: +SKIP
    >>> fm.load("crm.fmstore").summary                               # doctest: +SKIP
    """
    raw, label, funnel = _read(source, format, funnel, timezone, dayfirst)
    return validate(
        raw,
        funnel=funnel,
        timezone=timezone,
        dayfirst=dayfirst,
        source=label,
        store=store,
        as_of=as_of,
        memory_limit=memory_limit,
    )
