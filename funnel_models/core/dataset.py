"""The canonical funnel dataset: a validated funnel store, read as relations or as pandas.

Every source is converted once, at the edge, into five tables (GUIDE §3; the
columns are in :data:`funnel_models.core.schema.SCHEMA`); validation never drops
a row silently: each input row is accepted or listed in
:attr:`FunnelDataset.rejected` with the file, the row number (1 = first data row,
header not counted), the column and a reason; accepted + rejected always equals
rows read. The rules are in :mod:`funnel_models.core.rules`, the storage in
:mod:`funnel_models.core.store`.

A :class:`FunnelDataset` reads its store: :meth:`~FunnelDataset.relation` and
:meth:`~FunnelDataset.visits` hand out Ibis relations for heavy work (only small
results come back to pandas); the pandas tables (``ds.leads``,
``ds.stage_events``, ...) are materialised on first access.

Examples
--------
>>> import pandas as pd
>>> import funnel_models as fm
>>> leads = pd.DataFrame({"lead_id": ["a", "b", "b"],
...                       "created_at": ["2024-01-02", "2024-01-03", "2024-01-04"]})
>>> events = pd.DataFrame({"lead_id": ["a", "a", "c"],
...                        "stage": ["Lead", "Marketing Qualified Lead", "Lead"],
...                        "entered_at": ["2024-01-02", "2024-01-05", "2024-01-02"]})
>>> ds = fm.FunnelDataset.from_frames(leads=leads, stage_events=events)
>>> ds.stage_events["stage"].tolist()
['Lead', 'MQL']
>>> ds.rejected[["table", "row", "reason"]].values.tolist()
[['leads', 3, 'duplicate lead_id (first at row 2)'], ['stage_events', 3, "lead_id 'c' is not in the leads table"]]
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from funnel_models._errors import FunnelDataError
from funnel_models.core.funnel import Funnel
from funnel_models.core.schema import (
    REJECTED_COLUMNS,
    REQUIRED_TABLES,
    SCHEMA,
    TABLES,
    RawRelation,
    RawTable,
    column_kinds,
)
from funnel_models.core.store import (
    Store,
    arrow_table,
    open_store,
    store_from_parts,
    store_parts,
    write_store,
)

__all__ = ["SCHEMA", "TABLES", "FunnelDataset", "RawTable", "validate"]

_PANDAS_DTYPES = {
    "id": "str",
    "text": "str",
    "stage": "str",
    "timestamp": "datetime64[ns, UTC]",
    "number": "float64",
    "bool": "boolean",
}


class FunnelDataset:
    """The canonical tables of a funnel, validated, plus the rows that were rejected.

    Build one with :func:`funnel_models.load` (a folder, a file, a database URL
    or a funnel store) or :meth:`from_frames` (pandas DataFrames). Timestamps are
    timezone-aware UTC, ids are strings, stages are canonical names of
    :attr:`funnel`.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._frames: dict[str, pd.DataFrame] = {}

    def __reduce__(self):
        # A store file is reopened by its path; a store in memory travels as its tables.
        if self.path is not None:
            return (open_dataset, (self.path,))
        return (_from_parts, (store_parts(self._store),))

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_frames(
        cls,
        *,
        leads: pd.DataFrame,
        stage_events: pd.DataFrame,
        activities: pd.DataFrame | None = None,
        opportunities: pd.DataFrame | None = None,
        accounts: pd.DataFrame | None = None,
        funnel: Funnel | None = None,
        timezone: str = "UTC",
        dayfirst: bool = False,
        source: str = "<memory>",
    ) -> FunnelDataset:
        """Validate pandas DataFrames into a dataset (rows reported as ``<table> row N``)."""
        frames = {
            "leads": leads,
            "stage_events": stage_events,
            "activities": activities,
            "opportunities": opportunities,
            "accounts": accounts,
        }
        raw = {name: RawTable(df, name) for name, df in frames.items() if df is not None}
        return validate(raw, funnel=funnel, timezone=timezone, dayfirst=dayfirst, source=source)

    # ------------------------------------------------------------------ what it is
    @property
    def funnel(self) -> Funnel:
        """The funnel the stages were checked against."""
        return self._store.funnel

    @property
    def source(self) -> str:
        """The source the store was built from."""
        return self._store.source

    @property
    def options(self) -> Mapping[str, Any]:
        """How the source was read (``timezone``, ``dayfirst``)."""
        return dict(self._store.options)

    @property
    def rows_read(self) -> Mapping[str, int]:
        """Rows read per canonical table."""
        return dict(self._store.rows_read)

    @property
    def as_of(self) -> pd.Timestamp | None:
        """The snapshot: the store's ``as_of`` (default: the latest stage event)."""
        return self._store.as_of

    @property
    def path(self) -> Path | None:
        """The store file, or None for a store in memory."""
        return self._store.path

    @property
    def inputs(self) -> pd.DataFrame:
        """The input files: table, path, size in bytes, SHA-256 and rows read."""
        return _to_pandas(self.backend.con, "SELECT * FROM fm_inputs ORDER BY table_name")

    def is_input(self, path: str | Path) -> bool:
        """Whether writing to ``path`` would overwrite one of this dataset's inputs (or its store)."""
        inputs = {Path(p).resolve() for p in self.inputs["path"]}
        if self.path is not None:
            inputs.add(self.path.resolve())
        return Path(path).resolve() in inputs

    # ------------------------------------------------------------------ pandas
    @property
    def leads(self) -> pd.DataFrame:
        return self.table("leads")

    @property
    def stage_events(self) -> pd.DataFrame:
        return self.table("stage_events")

    @property
    def activities(self) -> pd.DataFrame:
        return self.table("activities")

    @property
    def opportunities(self) -> pd.DataFrame:
        return self.table("opportunities")

    @property
    def accounts(self) -> pd.DataFrame:
        return self.table("accounts")

    @property
    def rejected(self) -> pd.DataFrame:
        """Every rejected row: table, source, row, column, value, rule, reason, record."""
        if "rejected" not in self._frames:
            frame = _to_pandas(self.backend.con, "SELECT * FROM rejected")
            frame = frame[REJECTED_COLUMNS].astype(
                {c: "str" for c in REJECTED_COLUMNS if c != "row"}
            )
            frame["row"] = frame["row"].astype("int64")
            self._frames["rejected"] = frame
        return self._frames["rejected"]

    def table(self, name: str) -> pd.DataFrame:
        """A canonical table as pandas (materialised on first access, then kept)."""
        _check_table(name)
        if name not in self._frames:
            frame = _to_pandas(self.backend.con, f'SELECT * FROM "{name}"')
            self._frames[name] = _pandas_types(frame, column_kinds(name))
        return self._frames[name]

    # ------------------------------------------------------------------ engine
    @property
    def backend(self):
        """The Ibis backend the relations live on (the store's DuckDB connection)."""
        return self._store.backend

    def relation(self, name: str):
        """A canonical table as an Ibis relation on :attr:`backend` (for heavy work).

        Analyses read the data through relations and bring back only small
        results; :meth:`table` is the pandas view of the same rows.
        """
        _check_table(name)
        return self.backend.table(name)

    def latest_event(self) -> pd.Timestamp | None:
        """The latest ``entered_at`` of the stage events: the default ``as_of``."""
        from funnel_models.core._time import resolve_as_of

        value = self.backend.con.execute("SELECT max(entered_at) FROM stage_events").fetchall()[0][
            0
        ]
        return None if value is None else resolve_as_of(pd.Timestamp(value))

    def visits(self, as_of: Any = None):
        """Stage visits censored at ``as_of`` (default: the snapshot), as a relation.

        At the snapshot they are read from the store (computed once); at another
        ``as_of`` they are computed from the stored events. See
        :func:`funnel_models.core.visits.visits_expr` for the columns.
        """
        from funnel_models.core._time import resolve_as_of
        from funnel_models.core.visits import visits_expr

        self.require_events()
        as_of_ts = resolve_as_of(as_of)
        if as_of_ts is None or as_of_ts == self.as_of:
            return self._store.visits()
        return visits_expr(self.relation("stage_events"), self.funnel, as_of_ts)

    def require_events(self) -> None:
        """Raise a one-line :class:`FunnelDataError` saying why, when no stage event was accepted."""
        if self._counts()["stage_events"]:
            return
        read = self.rows_read.get("stage_events", 0)
        if not read:
            raise FunnelDataError("the stage_events table is empty: there is nothing to analyse")
        why = self.rejection_reasons.query("table == 'stage_events'")
        rules = ", ".join(f"{r} {n:,}" for r, n in zip(why["rule"], why["rows"], strict=True))
        raise FunnelDataError(
            f"no stage event passed the row checks ({read:,} read; rejected: {rules}); "
            f"`funnel-models validate {self.path or self.source}` lists them"
        )

    # ------------------------------------------------------------------ reporting
    @property
    def summary(self) -> pd.DataFrame:
        """Rows read, accepted and rejected per table (accepted + rejected == read)."""
        counts = self._counts()
        out = pd.DataFrame(
            {
                "read": [self.rows_read.get(t, 0) for t in TABLES],
                "accepted": [counts[t] for t in TABLES],
                "rejected": [counts[f"rejected_{t}"] for t in TABLES],
            },
            index=pd.Index(TABLES, name="table"),
        )
        return out

    def _counts(self) -> dict[str, int]:
        if "counts" not in self._frames:
            parts = [f'(SELECT count(*) FROM "{t}") AS "{t}"' for t in TABLES]
            parts += [
                f'(SELECT count(*) FROM rejected WHERE "table" = \'{t}\') AS "rejected_{t}"'
                for t in TABLES
            ]
            row = self.backend.con.execute(f"SELECT {', '.join(parts)}").df().iloc[0]
            self._frames["counts"] = {k: int(v) for k, v in row.items()}
        return self._frames["counts"]

    @property
    def rejection_reasons(self) -> pd.DataFrame:
        """Rejected rows counted by table and rule, most frequent first."""
        counts = self.backend.con.execute(
            'SELECT "table", rule, count(*) AS rows, min(rowid) AS first FROM rejected '
            'GROUP BY "table", rule'
        ).df()
        if counts.empty:
            return pd.DataFrame({"table": [], "rule": [], "rows": []})
        counts = counts.sort_values(["table", "rows", "first"], ascending=[True, False, True])
        counts["rows"] = counts["rows"].astype("int64")
        return counts[["table", "rule", "rows"]].reset_index(drop=True)

    def __repr__(self) -> str:
        counts = self._counts()
        n_rejected = sum(counts[f"rejected_{t}"] for t in TABLES)
        parts = [
            f"{counts['leads']:,} leads",
            f"{counts['stage_events']:,} stage events",
            f"{counts['activities']:,} activities",
            f"{counts['opportunities']:,} opportunities",
            f"{counts['accounts']:,} accounts",
        ]
        tail = f"; {n_rejected:,} rows rejected" if n_rejected else ""
        return f"<FunnelDataset from {self.source}: {', '.join(parts)}{tail}>"

    # ------------------------------------------------------------------ output
    def to_folder(self, path: str | Path, *, file_format: str = "parquet") -> Path:
        """Write the canonical tables (and ``funnel.yaml``) to a folder."""
        import yaml

        if file_format not in ("parquet", "csv"):
            raise ValueError(f"file_format must be 'parquet' or 'csv', not {file_format!r}")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for name in TABLES:
            frame = self.table(name)
            if file_format == "parquet":
                # Microseconds: Spark and most warehouses cannot read nanosecond Parquet.
                frame.to_parquet(
                    path / f"{name}.parquet",
                    index=False,
                    coerce_timestamps="us",
                    allow_truncated_timestamps=True,
                )
            else:
                frame.to_csv(path / f"{name}.csv", index=False, date_format="%Y-%m-%dT%H:%M:%S%z")
        (path / "funnel.yaml").write_text(
            yaml.safe_dump(self.funnel.to_dict(), sort_keys=False), encoding="utf-8"
        )
        return path


def validate(
    raw: Mapping[str, RawRelation],
    *,
    funnel: Funnel | None = None,
    timezone: str = "UTC",
    dayfirst: bool = False,
    source: str = "<memory>",
    store: str | Path | None = None,
    as_of: Any = None,
    memory_limit: str | None = None,
) -> FunnelDataset:
    """Validate raw tables into a :class:`FunnelDataset` (a store in memory, or at ``store``)."""
    funnel = funnel or Funnel.default()
    _check_timezone(timezone)
    unknown = sorted(set(raw) - set(TABLES))
    if unknown:
        raise FunnelDataError(f"unknown table {unknown[0]!r}; tables are {', '.join(TABLES)}")
    for name in REQUIRED_TABLES:
        if name not in raw:
            raise FunnelDataError(
                f"{source}: no {name!r} table (required: {', '.join(REQUIRED_TABLES)})"
            )
    written = write_store(
        raw,
        funnel=funnel,
        source=source,
        path=store,
        timezone=timezone,
        dayfirst=dayfirst,
        as_of=as_of,
        memory_limit=memory_limit,
    )
    return FunnelDataset(written)


def open_dataset(path: str | Path) -> FunnelDataset:
    """The dataset of a funnel store file (read-only)."""
    return FunnelDataset(open_store(path))


def _from_parts(parts: dict) -> FunnelDataset:
    return FunnelDataset(store_from_parts(parts))


def _check_table(name: str) -> None:
    if name not in TABLES:
        raise KeyError(f"unknown table {name!r}; tables are {', '.join(TABLES)}")


def _check_timezone(timezone: str) -> None:
    try:
        pd.Timestamp("2024-01-01").tz_localize(timezone)
    except Exception:
        raise FunnelDataError(
            f"unknown time zone {timezone!r}; use an IANA name such as 'UTC' or 'Europe/Rome'"
        ) from None


def _to_pandas(con, sql: str) -> pd.DataFrame:
    """A query's result as pandas through Arrow (text stays Arrow-backed ``str``)."""
    return arrow_table(con, sql).to_pandas()


def _pandas_types(frame: pd.DataFrame, kinds: Mapping[str, str]) -> pd.DataFrame:
    """The engine's columns as the pandas types the package has always handed out.

    Canonical columns by kind (ids and text ``str``, timestamps nanosecond UTC,
    numbers ``float64``, booleans nullable ``boolean``); attributes as pandas
    reads such values: integers with a gap become float64, booleans with a gap
    objects.
    """
    for column in frame.columns:
        values = frame[column]
        kind = kinds.get(column)
        if kind is not None:
            dtype = _PANDAS_DTYPES[kind]
            if kind in ("id", "text", "stage") and values.dtype != "str":
                values = values.astype(object).where(values.notna(), None).astype("str")
            elif kind not in ("id", "text", "stage"):
                values = values.astype(dtype)
        elif isinstance(values.dtype, pd.DatetimeTZDtype):
            values = values.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
        elif isinstance(values.dtype, pd.BooleanDtype):
            values = values.astype(bool) if values.notna().all() else values.astype(object)
            if values.dtype == object:
                values = values.where(values.notna(), None)
        elif str(values.dtype) in (
            "Int8",
            "Int16",
            "Int32",
            "Int64",
            "UInt8",
            "UInt16",
            "UInt32",
            "UInt64",
        ):
            values = (
                values.astype(values.dtype.numpy_dtype)
                if values.notna().all()
                else values.astype("float64")
            )
        frame[column] = values
    return frame
