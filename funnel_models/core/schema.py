"""The canonical tables, their columns, and the raw tables sources are read into.

=============== =================================== ===============================================
table           required columns                    typed optional columns
=============== =================================== ===============================================
leads           lead_id, created_at                 account_id, source
stage_events    lead_id, stage, entered_at          owner_id, team, reason
activities      lead_id, occurred_at, kind          team, owner_id, channel, campaign_id
opportunities   opportunity_id, created_at          lead_id, account_id, closed_at, amount, won
accounts        account_id                          industry, region, size, target_account
=============== =================================== ===============================================

Any other column is kept as an attribute. A source is read into one *raw
table* per canonical table (:class:`RawRelation`): a relation on the engine
holding the columns as read plus the position of each record in the input
(:data:`POS`, 1 = the first data row, header not counted, input order) and,
only where they differ from those, the row number reported to the user
(:data:`ROW`) and the file or label each row came from (:data:`SRC`; else the
table's ``source``). :class:`RawTable` is the raw table of a pandas
DataFrame (CRM adapters, spreadsheets, databases read through a driver);
:mod:`funnel_models.io.files` reads CSV and Parquet files with the engine itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from funnel_models._errors import FunnelDataError

__all__ = [
    "POS",
    "REJECTED_COLUMNS",
    "REQUIRED_TABLES",
    "ROW",
    "SCHEMA",
    "SRC",
    "TABLES",
    "RawRelation",
    "engine_view",
    "RawTable",
    "normalize_column",
]

TABLES = ("leads", "stage_events", "activities", "opportunities", "accounts")
REQUIRED_TABLES = ("leads", "stage_events")

# column -> kind ("id", "timestamp", "stage", "text", "number", "bool"), required first.
SCHEMA: dict[str, dict[str, Any]] = {
    "leads": {
        "required": {"lead_id": "id", "created_at": "timestamp"},
        "optional": {"account_id": "id", "source": "text"},
    },
    "stage_events": {
        "required": {"lead_id": "id", "stage": "stage", "entered_at": "timestamp"},
        "optional": {"owner_id": "id", "team": "text", "reason": "text"},
    },
    "activities": {
        "required": {"lead_id": "id", "occurred_at": "timestamp", "kind": "text"},
        "optional": {"team": "text", "owner_id": "id", "channel": "text", "campaign_id": "id"},
    },
    "opportunities": {
        "required": {"opportunity_id": "id", "created_at": "timestamp"},
        "optional": {
            "lead_id": "id",
            "account_id": "id",
            "closed_at": "timestamp",
            "amount": "number",
            "won": "bool",
        },
    },
    "accounts": {
        "required": {"account_id": "id"},
        "optional": {
            "industry": "text",
            "region": "text",
            "size": "text",
            "target_account": "bool",
        },
    },
}

#: Columns outside SCHEMA that a table rule reads (so they are parsed, not attributes).
RULE_COLUMNS = {"activities": {"activity_id": "id"}}

REJECTED_COLUMNS = ["table", "source", "row", "column", "value", "rule", "reason", "record"]

# Bookkeeping columns of a raw table (names no CRM export uses).
POS = "__fm_pos"  # position in the input, input order
ROW = "__fm_row"  # row number shown to the user
SRC = "__fm_src"  # the file or label of the row
PROBLEM_COLUMNS = ("__fm_problem_column", "__fm_problem_rule", "__fm_problem_reason")
BOOKKEEPING = (POS, ROW, SRC, *PROBLEM_COLUMNS)


def column_kinds(table: str) -> dict[str, str]:
    """Every typed column of ``table`` (required, optional, rule columns) and its kind."""
    spec = SCHEMA[table]
    return {**spec["required"], **spec["optional"], **RULE_COLUMNS.get(table, {})}


def normalize_column(name: Any) -> str:
    """A column name without surrounding white space or a byte-order mark."""
    return str(name).strip().lstrip("\ufeff").strip()


class RawRelation:
    """A table as read from a source, before validation (see the module docstring).

    Subclasses implement :meth:`relation`. ``source`` names the table in
    messages; ``path`` is the file whose records are the table's rows, when
    there is one (the store records its size, checksum and rows read).
    """

    source: str = "<memory>"
    path: Path | None = None

    def relation(self, backend):
        """The raw table on an Ibis DuckDB ``backend``: its columns plus POS (ROW, SRC)."""
        raise NotImplementedError

    def release(self, backend) -> None:
        """Drop what :meth:`relation` copied into the engine (once the table is validated)."""
        for name in getattr(self, "_copies", ()):
            backend.con.execute(f"DROP TABLE IF EXISTS {name}")
        self._copies = []

    def _copied(self, name: str) -> str:
        """Remember a temporary table :meth:`release` drops."""
        self._copies = [*getattr(self, "_copies", ()), name]
        return name


@dataclass
class RawTable(RawRelation):
    """One table held as a pandas DataFrame, before validation.

    ``rows`` holds the source row number of each record (1 = first data row);
    it defaults to 1..n. Adapters that build one table from several files pass
    ``row_sources`` (the file of each record, default ``source``); adapters that
    meet a record they cannot map keep it and pass ``problems``: a frame aligned
    with the records with columns ``column``, ``rule`` and ``reason`` (missing
    reason = no problem), so validation rejects it with that reason.
    """

    frame: pd.DataFrame
    source: str = "<memory>"
    rows: np.ndarray | None = None
    row_sources: np.ndarray | None = None
    problems: pd.DataFrame | None = None
    path: Path | None = field(default=None)

    def __post_init__(self) -> None:
        if self.rows is None:
            self.rows = np.arange(1, len(self.frame) + 1)
        self.frame = self.frame.reset_index(drop=True)

    def relation(self, backend):
        frame = engine_frame(self.frame, self.source)
        n = len(frame)
        frame[POS] = np.arange(1, n + 1, dtype=np.int64)
        rows = np.asarray(self.rows, dtype=np.int64)
        if not np.array_equal(rows, frame[POS].to_numpy()):
            frame[ROW] = rows
        if self.row_sources is not None:
            frame[SRC] = pd.Series(np.asarray(self.row_sources, dtype=object), index=frame.index)
        if self.problems is not None:
            problems = self.problems.reset_index(drop=True)
            for name, column in zip(PROBLEM_COLUMNS, ("column", "rule", "reason"), strict=True):
                values = problems[column].astype(object)
                frame[name] = values.where(problems["reason"].notna(), None)
        name = self._copied(_temp_name())
        backend.con.register(f"{name}_frame", frame)
        try:
            backend.con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {name}_frame")
        finally:
            backend.con.unregister(f"{name}_frame")
        return backend.table(name)


def engine_frame(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """A copy of ``frame`` every column of which the engine can hold with one type.

    Column names lose surrounding white space and a BOM; objects of mixed
    Python types become text; categories become their values.
    """
    names = [normalize_column(c) for c in frame.columns]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise FunnelDataError(f"{source}: column {name!r} appears twice; keep one")
        seen.add(name)
    out = frame.copy()
    out.columns = names
    out.attrs = {}
    for name in names:
        values = out[name]
        if isinstance(values.dtype, pd.CategoricalDtype):
            values = values.astype(object).where(values.notna(), None)
        if values.dtype == object:
            values = values.infer_objects()
        if values.dtype == object:
            values = values.map(_as_text, na_action="ignore").astype(object)
            values = values.where(values.notna(), None)
        out[name] = values
    # A column with no value at all has no type: text.
    for name in names:
        if out[name].isna().all() and out[name].dtype == object:
            out[name] = pd.Series([None] * len(out), dtype="str", index=out.index)
    return out


def _as_text(value: Any) -> Any:
    return value if isinstance(value, str) else str(value)


_counter = iter(range(1, 1 << 62))


def engine_view(backend, sql: str):
    """An Ibis table over a DuckDB query (a temporary view of it)."""
    name = f"fm_view_{next(_counter)}"
    backend.con.execute(f"CREATE TEMP VIEW {name} AS {sql}")
    return backend.table(name)


def _temp_name() -> str:
    return f"fm_raw_{next(_counter)}"
