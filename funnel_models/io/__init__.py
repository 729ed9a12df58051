"""Readers that turn a SOURCE into raw canonical tables, one module per kind.

A reader returns ``(dict[table name, RawTable or ChunkedTable], label, funnel)`` where
``funnel`` is a :class:`~funnel_models.core.funnel.Funnel`, a path to a
``funnel.yaml`` or ``None``; validation happens once, in
:func:`funnel_models.core.dataset.validate`. Formats (``--format`` on every command
that takes a SOURCE):

================================ =======================================================
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

import pandas as pd

from funnel_models._errors import FunnelDataError
from funnel_models.core.dataset import FunnelDataset, RawTable, validate
from funnel_models.core.funnel import Funnel

__all__ = ["FORMATS", "READERS", "detect_format", "load", "read_source"]

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

FORMATS = ("auto", *READERS)

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
            f"{_redact(text)}: unknown database URL scheme {scheme!r}; use sqlite:///, "
            "duckdb:/// or postgresql://"
        )
    path = Path(text)
    if not path.exists():
        raise FunnelDataError(f"{path}: no such file or folder")
    if path.is_dir():
        return _detect_folder(path)
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
    if found is None or isinstance(found, Funnel):
        return tables, label, found
    return tables, label, Funnel.from_yaml(found)


def _redact(url: str) -> str:
    """A URL with any password replaced by ***.

    >>> _redact("postgresql://ann:s3cret@db:5432/crm")
    'postgresql://ann:***@db:5432/crm'
    """
    import re

    text = re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", str(url))
    return re.sub(r"(?i)(password=)[^&\s]*", r"\1***", text)


def load(
    source: str | Path | Mapping[str, pd.DataFrame],
    *,
    format: str = "auto",
    funnel: Funnel | str | Path | None = None,
    timezone: str = "UTC",
    dayfirst: bool = False,
) -> FunnelDataset:
    """Load and validate a funnel dataset.

    Parameters
    ----------
    source
        A folder of ``leads.csv|parquet``, ``stage_events.csv|parquet``, ... ; an
        Excel workbook with one sheet per table; a database URL
        (``sqlite:///crm.db``, ``duckdb:///crm.duckdb``,
        ``postgresql://user@host/db``); a CRM export (see
        :mod:`funnel_models.io`); or a mapping of table name to DataFrame.
    format
        The kind of source (``funnel_models.io.FORMATS``); ``"auto"`` tells
        it from the path or the export's header.
    funnel
        A :class:`Funnel` or a path to ``funnel.yaml``; default: the folder's
        ``funnel.yaml`` if present, else :meth:`Funnel.default`.
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
    if funnel is not None and not isinstance(funnel, Funnel):
        funnel = Funnel.from_yaml(funnel)
    if isinstance(source, Mapping):
        raw = {k: RawTable(v, k) for k, v in source.items() if v is not None}
        label, default_funnel = "<memory>", None
    else:
        # The reader sees the funnel: CRM adapters check their stage names against it.
        raw, label, default_funnel = read_source(source, format=format, funnel=funnel)
    if funnel is None:
        funnel = default_funnel
    return validate(raw, funnel=funnel, timezone=timezone, dayfirst=dayfirst, source=label)
