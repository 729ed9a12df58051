"""The canonical funnel dataset and its validation.

Every source is converted once, at the edge, into five tables (GUIDE §3):

=============== =================================== ===============================================
table           required columns                    typed optional columns
=============== =================================== ===============================================
leads           lead_id, created_at                 account_id, source
stage_events    lead_id, stage, entered_at          owner_id, team, reason
activities      lead_id, occurred_at, kind          team, owner_id, channel, campaign_id
opportunities   opportunity_id, created_at          lead_id, account_id, closed_at, amount, won
accounts        account_id                          industry, region, size, target_account
=============== =================================== ===============================================

Any other column is kept as an attribute. Validation never drops a row
silently: each input row is accepted or listed in :attr:`FunnelDataset.rejected`
with the file, the row number (1 = first data row, header not counted), the
column and a reason; accepted + rejected always equals rows read.

A large file is validated chunk by chunk (:class:`ChunkedTable`) with the same
result as if it were validated whole: a later copy of a key is rejected as a
duplicate of the first copy even when the two fall in different chunks.

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

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from funnel_models._errors import FunnelDataError
from funnel_models.core._parsing import (
    blank_mask,
    infer_text_types,
    parse_booleans,
    parse_ids,
    parse_numbers,
    parse_timestamps,
)
from funnel_models.core.funnel import Funnel

__all__ = ["SCHEMA", "TABLES", "ChunkedTable", "FunnelDataset", "RawTable", "validate"]

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

# Columns outside SCHEMA that a table rule parses (so they are not attributes).
_RULE_COLUMNS = {"activities": ("activity_id",)}

REJECTED_COLUMNS = ["table", "source", "row", "column", "value", "rule", "reason", "record"]


@dataclass
class RawTable:
    """One table as read from a source, before validation.

    ``rows`` holds the source row number of each record (1 = first data row);
    it defaults to 1..n. Adapters that build one table from several files pass
    ``row_sources`` (the file of each record, default ``source``); adapters that
    meet a record they cannot map keep it and pass ``problems``: a frame aligned
    with the records with columns ``column``, ``rule`` and ``reason`` (missing
    reason = no problem), so validation rejects it with that reason.
    """

    frame: pd.DataFrame
    source: str
    rows: np.ndarray | None = None
    row_sources: np.ndarray | None = None
    problems: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        if self.rows is None:
            self.rows = np.arange(1, len(self.frame) + 1)
        self.frame = self.frame.reset_index(drop=True)


@dataclass
class ChunkedTable:
    """One table read a chunk at a time (a large file), validated as it is read.

    ``frames`` yields the table's rows in order, a DataFrame at a time, each with
    the same columns and column types; it is consumed once. Row numbers run on
    across chunks (1 = the first data row of the file). ``text_attributes``:
    every column was read as text (CSV), so the attribute columns get their
    types once, on the accepted rows (:func:`~funnel_models.core._parsing.infer_text_types`),
    the same whatever the chunk size.
    """

    frames: Iterator[pd.DataFrame]
    source: str
    text_attributes: bool = False

    def chunks(self) -> Iterator[RawTable]:
        """The frames as RawTables numbered by their rows in the file."""
        first_row = 1
        for frame in self.frames:
            chunk = RawTable(frame, self.source, rows=np.arange(first_row, first_row + len(frame)))
            first_row += len(frame)
            del frame
            yield chunk
            del chunk  # hold no chunk while the next one is read


@dataclass(repr=False)
class FunnelDataset:
    """The canonical tables of a funnel, validated, plus the rows that were rejected.

    Build one with :func:`load` (a folder, a file or a database URL) or
    :meth:`from_frames` (pandas DataFrames). Timestamps are timezone-aware UTC,
    ids are strings, stages are canonical names of :attr:`funnel`.
    """

    leads: pd.DataFrame
    stage_events: pd.DataFrame
    activities: pd.DataFrame
    opportunities: pd.DataFrame
    accounts: pd.DataFrame
    funnel: Funnel
    rejected: pd.DataFrame
    rows_read: Mapping[str, int]
    source: str = "<memory>"
    options: Mapping[str, Any] = field(default_factory=dict)
    _backend: Any = field(default=None, init=False, compare=False)
    _relations: dict = field(default_factory=dict, init=False, compare=False)

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

    # ------------------------------------------------------------------ reporting
    def table(self, name: str) -> pd.DataFrame:
        """A canonical table as pandas (small results and analysts' exploration)."""
        if name not in TABLES:
            raise KeyError(f"unknown table {name!r}; tables are {', '.join(TABLES)}")
        return getattr(self, name)

    # ------------------------------------------------------------------ engine
    @property
    def backend(self):
        """The Ibis backend the relations live on (an in-process DuckDB, created once)."""
        if self._backend is None:
            from funnel_models.core.engine import connect

            self._backend = connect("duckdb")
        return self._backend

    def relation(self, name: str):
        """A canonical table as an Ibis relation on :attr:`backend` (for heavy work).

        Analyses read the data through relations and bring back only small
        results; :meth:`table` is the pandas view of the same rows.
        """
        if name not in TABLES:
            raise KeyError(f"unknown table {name!r}; tables are {', '.join(TABLES)}")
        if name not in self._relations:
            import ibis

            frame = self.table(name).copy()
            frame.attrs = {}  # Ibis cannot serialise a Timestamp in attrs
            for col in frame.columns:
                if frame[col].dtype == object or str(frame[col].dtype) in ("str", "string"):
                    frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
            schema = {c: "string" for c in frame.columns if frame[c].isna().all()}
            self._relations[name] = self.backend.create_table(
                f"fm_{name}", ibis.memtable(frame, schema=schema or None), temp=True
            )
        return self._relations[name]

    def latest_event(self) -> pd.Timestamp | None:
        """The latest ``entered_at`` of the stage events: the default ``as_of``."""
        from funnel_models.core._time import resolve_as_of

        value = self.backend.execute(self.relation("stage_events").entered_at.max())
        return None if value is None or pd.isna(value) else resolve_as_of(value)

    def visits(self, as_of: Any = None):
        """Stage visits censored at ``as_of`` (default: :meth:`latest_event`), as a relation.

        See :func:`funnel_models.core.visits.visits_expr` for the columns.
        """
        from funnel_models.core._time import resolve_as_of
        from funnel_models.core.visits import visits_expr

        as_of_ts = resolve_as_of(as_of) or self.latest_event()
        if as_of_ts is None:
            raise FunnelDataError("the stage_events table is empty: there is nothing to analyse")
        return visits_expr(self.relation("stage_events"), self.funnel, as_of_ts)

    @property
    def summary(self) -> pd.DataFrame:
        """Rows read, accepted and rejected per table (accepted + rejected == read)."""
        rejected = self.rejected["table"].value_counts()
        out = pd.DataFrame(
            {
                "read": [self.rows_read.get(t, 0) for t in TABLES],
                "accepted": [len(self.table(t)) for t in TABLES],
                "rejected": [int(rejected.get(t, 0)) for t in TABLES],
            },
            index=pd.Index(TABLES, name="table"),
        )
        return out

    @property
    def rejection_reasons(self) -> pd.DataFrame:
        """Rejected rows counted by table and rule, most frequent first."""
        if self.rejected.empty:
            return pd.DataFrame({"table": [], "rule": [], "rows": []})
        counts = (
            self.rejected.groupby(["table", "rule"], sort=False)
            .size()
            .rename("rows")
            .reset_index()
            .sort_values(["table", "rows"], ascending=[True, False], kind="stable")
        )
        return counts.reset_index(drop=True)

    def __repr__(self) -> str:
        n_rejected = len(self.rejected)
        parts = [
            f"{len(self.leads):,} leads",
            f"{len(self.stage_events):,} stage events",
            f"{len(self.activities):,} activities",
            f"{len(self.opportunities):,} opportunities",
            f"{len(self.accounts):,} accounts",
        ]
        tail = f"; {n_rejected:,} rows rejected" if n_rejected else ""
        return f"<FunnelDataset from {self.source}: {', '.join(parts)}{tail}>"

    # ------------------------------------------------------------------ output
    def to_folder(self, path: str | Path, *, file_format: str = "parquet") -> Path:
        """Write the canonical tables (and ``funnel.yaml``) to a folder."""
        import yaml

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
            elif file_format == "csv":
                frame.to_csv(path / f"{name}.csv", index=False, date_format="%Y-%m-%dT%H:%M:%S%z")
            else:
                raise ValueError(f"file_format must be 'parquet' or 'csv', not {file_format!r}")
        (path / "funnel.yaml").write_text(
            yaml.safe_dump(self.funnel.to_dict(), sort_keys=False), encoding="utf-8"
        )
        return path


def validate(
    raw: Mapping[str, RawTable | ChunkedTable],
    *,
    funnel: Funnel | None = None,
    timezone: str = "UTC",
    dayfirst: bool = False,
    source: str = "<memory>",
) -> FunnelDataset:
    """Validate raw tables into a :class:`FunnelDataset` (see the module docstring)."""
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
    checker = _Validator(funnel, timezone=timezone, dayfirst=dayfirst)
    tables = {}
    # Order matters: leads before the tables that refer to them.
    for name in ("accounts", "leads", "stage_events", "activities", "opportunities"):
        table = raw.get(name)
        if table is None:
            tables[name] = _empty_table(name)
            continue
        tables[name] = checker.check(name, table)
    rejected = (
        pd.concat(checker.rejected, ignore_index=True)
        if checker.rejected
        else pd.DataFrame({c: pd.Series(dtype="object") for c in REJECTED_COLUMNS})
    )
    # Explicit types: a chunk whose rejected rows have no value must not make the column object.
    rejected = rejected.astype({c: "str" for c in REJECTED_COLUMNS if c != "row"})
    rejected["row"] = rejected["row"].astype("int64")
    rows_read = {name: checker.rows_read.get(name, 0) for name in TABLES}
    return FunnelDataset(
        **tables,
        funnel=funnel,
        rejected=rejected,
        rows_read=rows_read,
        source=source,
        options={"timezone": timezone, "dayfirst": dayfirst},
    )


def _check_timezone(timezone: str) -> None:
    try:
        pd.Timestamp("2024-01-01").tz_localize(timezone)
    except Exception:
        raise FunnelDataError(
            f"unknown time zone {timezone!r}; use an IANA name such as 'UTC' or 'Europe/Rome'"
        ) from None


def _empty_table(name: str) -> pd.DataFrame:
    spec = SCHEMA[name]
    columns = {**spec["required"], **spec["optional"]}
    dtypes = {
        "id": "str",
        "text": "str",
        "stage": "str",
        "timestamp": "datetime64[ns, UTC]",
        "number": "float64",
        "bool": "boolean",
    }
    return pd.DataFrame({c: pd.Series(dtype=dtypes[k]) for c, k in columns.items()})


class _Validator:
    """Applies the row rules table by table and collects rejected rows."""

    def __init__(self, funnel: Funnel, *, timezone: str, dayfirst: bool) -> None:
        self.funnel = funnel
        self.timezone = timezone
        self.dayfirst = dayfirst
        self.rejected: list[pd.DataFrame] = []
        self.lead_created: pd.Series | None = None  # accepted lead_id -> created_at
        self.rejected_lead_rows: dict[str, int] = {}
        self.rows_read: dict[str, int] = {}
        self.seen_keys = _SeenKeys()  # the duplicate check's keys of the table's earlier chunks

    # -------------------------------------------------------------- per table
    def check(self, name: str, table: RawTable | ChunkedTable) -> pd.DataFrame:
        """Validate a table chunk by chunk; returns the accepted rows (rejected ones are kept)."""
        chunked = isinstance(table, ChunkedTable)
        self.seen_keys = _SeenKeys()
        accepted = []
        rows_read = 0
        for chunk in table.chunks() if chunked else [table]:
            accepted.append(self._check_chunk(name, chunk))
            rows_read += len(chunk.frame)
            del chunk  # free the raw chunk before the next one is read
        self.rows_read[name] = rows_read
        self.seen_keys = _SeenKeys()
        # Arrow-backed text columns are joined without a copy: no second result in memory.
        result = accepted[0] if len(accepted) == 1 else pd.concat(accepted, ignore_index=True)
        if chunked and table.text_attributes:
            for column in _attribute_columns(name, result.columns):
                result[column] = infer_text_types(result[column])
        if name == "leads":
            self.lead_created = result.set_index("lead_id")["created_at"]
        return result

    def _check_chunk(self, name: str, raw: RawTable) -> pd.DataFrame:
        spec = SCHEMA[name]
        frame = _normalize_columns(raw.frame)
        missing = [c for c in spec["required"] if c not in frame.columns]
        if missing:
            raise FunnelDataError(_missing_column_message(raw.source, missing[0], frame.columns))
        reasons = _Reasons(np.asarray(raw.rows))
        _flag_adapter_problems(raw, frame, reasons)
        out = frame.copy()
        for column, kind in {**spec["required"], **spec["optional"]}.items():
            if column not in frame.columns:
                continue
            required = column in spec["required"]
            out[column] = self._parse_column(frame[column], column, kind, required, reasons)
        getattr(self, f"_rules_{name}")(out, reasons)
        self._collect(name, raw, frame, reasons)
        return out.loc[~reasons.flagged].reset_index(drop=True)

    def _parse_column(self, values, column, kind, required, reasons: _Reasons):
        if kind == "id":
            parsed, blank = parse_ids(values)
            if required:
                reasons.flag(blank, column, "blank id", f"blank {column}")
            return parsed
        if kind == "timestamp":
            parsed, bad = parse_timestamps(values, timezone=self.timezone, dayfirst=self.dayfirst)
            reasons.flag(
                bad,
                column,
                "bad timestamp",
                lambda v: f"unparsable or implausible timestamp {v!r}",
                values,
            )
            if required:
                reasons.flag(blank_mask(values), column, "blank timestamp", f"blank {column}")
            return parsed
        if kind == "number":
            parsed, bad = parse_numbers(values)
            reasons.flag(bad, column, "bad number", lambda v: f"not a number: {v!r}", values)
            return parsed
        if kind == "bool":
            parsed, bad = parse_booleans(values)
            reasons.flag(bad, column, "bad boolean", lambda v: f"not true/false: {v!r}", values)
            return parsed
        if kind == "stage":
            return self._parse_stage(values, column, reasons)
        # text
        text = values.astype("string").str.strip()
        text = text.where(~blank_mask(values), None).astype("str")
        if required:
            reasons.flag(blank_mask(values), column, "blank value", f"blank {column}")
        return text

    def _parse_stage(self, values, column, reasons: _Reasons):
        blank = blank_mask(values)
        reasons.flag(blank, column, "blank stage", f"blank {column}")
        text = values.astype("string").str.strip()
        uniques = pd.unique(text[~blank].to_numpy())
        mapping = {u: self.funnel.canonical_stage(u) for u in uniques}
        canonical = text.map(mapping).astype("str")
        unknown = (~blank & canonical.isna()).astype(bool)

        def message(v: Any) -> str:
            hint = self.funnel.suggest(v)
            known = ", ".join(self.funnel.names)
            return f"unknown stage {v!r}" + (
                f" (did you mean {hint!r}?)" if hint else f" (stages: {known})"
            )

        reasons.flag(unknown, column, "unknown stage", message, values)
        return canonical

    # -------------------------------------------------------------- table rules
    def _rules_accounts(self, out: pd.DataFrame, reasons: _Reasons) -> None:
        _flag_duplicates(out, ["account_id"], reasons, self.seen_keys)

    def _rules_leads(self, out: pd.DataFrame, reasons: _Reasons) -> None:
        _flag_duplicates(out, ["lead_id"], reasons, self.seen_keys)
        flagged_ids = out.loc[reasons.flagged, "lead_id"]
        rows = reasons.rows[reasons.flagged]
        self.rejected_lead_rows.update(
            (lid, int(r)) for lid, r in zip(flagged_ids, rows, strict=True) if isinstance(lid, str)
        )

    def _rules_stage_events(self, out: pd.DataFrame, reasons: _Reasons) -> None:
        self._flag_orphans(out, reasons)
        self._flag_before_lead(out, "entered_at", reasons)
        _flag_duplicates(
            out, ["lead_id", "stage", "entered_at"], reasons, self.seen_keys, what="event"
        )

    def _rules_activities(self, out: pd.DataFrame, reasons: _Reasons) -> None:
        self._flag_orphans(out, reasons)
        if "activity_id" in out.columns:
            ids, _ = parse_ids(out["activity_id"])
            out["activity_id"] = ids
            _flag_duplicates(out, ["activity_id"], reasons, self.seen_keys, skip_blank=True)
        else:
            _flag_duplicates(out, list(out.columns), reasons, self.seen_keys, what="row")

    def _rules_opportunities(self, out: pd.DataFrame, reasons: _Reasons) -> None:
        _flag_duplicates(out, ["opportunity_id"], reasons, self.seen_keys)
        if "lead_id" in out.columns:
            self._flag_orphans(out, reasons, optional=True)
        if "closed_at" in out.columns:
            early = (out["closed_at"] < out["created_at"]).fillna(False).astype(bool)
            reasons.flag(
                early, "closed_at", "closed before created", "closed_at is before created_at"
            )
        if "amount" in out.columns:
            negative = (out["amount"] < 0).fillna(False).astype(bool)
            reasons.flag(
                negative,
                "amount",
                "negative amount",
                lambda v: f"negative amount {v!r}",
                out["amount"],
            )

    def _flag_orphans(self, out: pd.DataFrame, reasons: _Reasons, optional: bool = False) -> None:
        assert self.lead_created is not None
        ids = out["lead_id"]
        present = ids.notna().to_numpy(bool)
        orphan = present & ~_is_in(ids, self.lead_created.index)
        rejected_rows = self.rejected_lead_rows

        def message(lead_id: Any) -> str:
            if lead_id in rejected_rows:
                return f"lead_id {lead_id!r} belongs to a rejected lead (leads row {rejected_rows[lead_id]})"
            return f"lead_id {lead_id!r} is not in the leads table"

        reasons.flag(orphan, "lead_id", "orphan lead_id", message, ids)

    def _flag_before_lead(self, out: pd.DataFrame, column: str, reasons: _Reasons) -> None:
        assert self.lead_created is not None
        created = self.lead_created.reindex(out["lead_id"]).set_axis(out.index)
        early = (out[column] < created).fillna(False).to_numpy(bool)
        if not early.any():
            return
        fmt = "%Y-%m-%d %H:%M:%S"
        messages = np.full(len(out), None, dtype=object)
        when = out.loc[early, column].dt.strftime(fmt).to_numpy()
        born = pd.to_datetime(created[early]).dt.strftime(fmt).to_numpy()
        messages[early] = [
            f"{column} {w} is before the lead's created_at {b}"
            for w, b in zip(when, born, strict=True)
        ]
        reasons.flag(early, column, "before lead created", messages, out[column].dt.strftime(fmt))

    # -------------------------------------------------------------- collecting
    def _collect(self, name: str, raw: RawTable, frame: pd.DataFrame, reasons: _Reasons) -> None:
        flagged = reasons.flagged
        if not flagged.any():
            return
        positions = np.flatnonzero(flagged)
        records = frame.iloc[positions]
        self.rejected.append(
            pd.DataFrame(
                {
                    "table": name,
                    "source": raw.source
                    if raw.row_sources is None
                    else np.asarray(raw.row_sources, dtype=object)[positions],
                    "row": reasons.rows[positions],
                    "column": reasons.column[positions],
                    "value": reasons.value[positions],
                    "rule": reasons.rule[positions],
                    "reason": reasons.reason[positions],
                    "record": [
                        json.dumps(rec, default=str, ensure_ascii=False)
                        for rec in records.astype(object)
                        .where(records.notna(), None)
                        .to_dict(orient="records")
                    ],
                }
            )
        )


class _Reasons:
    """The first reason each row is rejected for (later rules do not overwrite it).

    ``rule`` is a short category ("duplicate", "unknown stage", ...); ``reason``
    the full sentence: a string, a function of the offending value, or an array of
    messages aligned with the rows (default: the rule).
    """

    def __init__(self, rows: np.ndarray) -> None:
        n = len(rows)
        self.rows = np.asarray(rows)
        self.flagged = np.zeros(n, dtype=bool)
        self.column = np.full(n, None, dtype=object)
        self.value = np.full(n, None, dtype=object)
        self.rule = np.full(n, None, dtype=object)
        self.reason = np.full(n, None, dtype=object)

    def flag(self, mask, column: str, rule: str, reason=None, values=None) -> None:
        mask = np.asarray(mask, dtype=bool) & ~self.flagged
        if not mask.any():
            return
        positions = np.flatnonzero(mask)
        self.flagged[positions] = True
        self.column[positions] = column
        self.rule[positions] = rule
        if values is not None:
            picked = values.iloc[positions].astype(object).tolist()
            self.value[positions] = [None if _isna(v) else str(v) for v in picked]
        if callable(reason):
            # One message per distinct value keeps this fast on large rejects.
            cache: dict[Any, str] = {}
            messages = []
            for v in self.value[positions]:
                if v not in cache:
                    cache[v] = reason(v)
                messages.append(cache[v])
            self.reason[positions] = messages
        elif isinstance(reason, np.ndarray):
            self.reason[positions] = reason[positions]
        else:
            self.reason[positions] = reason if reason is not None else rule


def _is_in(values: pd.Series, universe: pd.Index) -> np.ndarray:
    """Membership test through Arrow's hash kernel (15x faster than Series.isin on strings)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    found = pc.is_in(
        pa.array(values, from_pandas=True, type=pa.large_string()),
        value_set=pa.array(universe, from_pandas=True, type=pa.large_string()),
    )
    return found.to_numpy(zero_copy_only=False).astype(bool)


def _flag_adapter_problems(raw: RawTable, frame: pd.DataFrame, reasons: _Reasons) -> None:
    """Reject the records an adapter marked as unmappable, with the adapter's reason."""
    problems = raw.problems
    if problems is None:
        return
    problems = problems.reset_index(drop=True)
    has = problems["reason"].notna().to_numpy(bool)
    for (column, rule), part in problems[has].groupby(["column", "rule"], sort=False):
        mask = np.zeros(len(frame), dtype=bool)
        mask[part.index.to_numpy()] = True
        messages = np.full(len(frame), None, dtype=object)
        messages[part.index.to_numpy()] = part["reason"].to_numpy(object)
        values = frame[column] if column in frame.columns else None
        reasons.flag(mask, column, rule, messages, values)


def _isna(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _flag_duplicates(
    out: pd.DataFrame,
    keys: list[str],
    reasons: _Reasons,
    seen: _SeenKeys,
    *,
    what: str | None = None,
    skip_blank: bool = False,
) -> None:
    """Reject later copies of a key among rows not rejected yet; the first copy stays.

    ``seen`` holds the keys of the table's earlier chunks: a copy of one of
    them is a duplicate of that first copy, whose row the message names.
    """
    alive = ~reasons.flagged
    if skip_blank:
        alive &= out[keys].notna().all(axis=1).to_numpy(bool)
    alive_positions = np.flatnonzero(alive)
    subset = out.loc[alive, keys]
    repeated = subset.duplicated(keep="first").to_numpy(bool)
    # Each alive row's first copy within this chunk.
    first_position = alive_positions
    if repeated.any():
        first_position = (
            pd.Series(alive_positions, index=subset.index)
            .groupby([subset[k] for k in keys], dropna=False, sort=False)
            .transform("first")
            .to_numpy()
        )
    new_positions = alive_positions[~repeated]
    earlier = seen.first_rows(subset[~repeated], reasons.rows[new_positions])
    earlier_at = np.zeros(len(out), dtype=np.int64)
    earlier_at[new_positions] = earlier
    earlier_first = earlier_at[first_position]
    duplicated = repeated | (earlier_first > 0)
    if not duplicated.any():
        return
    positions = alive_positions[duplicated]
    first_rows = np.where(earlier_first > 0, earlier_first, reasons.rows[first_position])
    label = what or keys[0]
    messages = np.full(len(out), None, dtype=object)
    messages[positions] = [f"duplicate {label} (first at row {r})" for r in first_rows[duplicated]]
    mask = np.zeros(len(out), dtype=bool)
    mask[positions] = True
    reasons.flag(mask, keys[0], "duplicate", messages, out[keys[0]])


class _SeenKeys:
    """The keys met in earlier chunks of a table, each with the row of its first copy.

    Kept compactly: two independent 64-bit hashes of each key (a false match
    needs both to collide), sorted by the first, and the row. A table read in
    one chunk is never hashed: the first chunk's keys wait until a second comes.
    """

    _CHECK_KEY = "funnel_models:ck"  # a second hash key: 16 characters, as pandas wants

    def __init__(self) -> None:
        self.hashes = np.empty(0, dtype=np.uint64)
        self.checks = np.empty(0, dtype=np.uint64)
        self.rows = np.empty(0, dtype=np.int64)
        self.started = False
        self.first_chunk: tuple[pd.DataFrame, np.ndarray] | None = None
        self.pending: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def first_rows(self, keys: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
        """The row of each key's copy in an earlier chunk, 0 where there is none.

        ``keys`` are distinct; those not seen before are remembered with their
        ``rows`` for the next chunks.
        """
        found = np.zeros(len(keys), dtype=np.int64)
        if not self.started:
            self.started = True
            self.first_chunk = (keys, rows)
            return found
        self._merge()
        hashes, checks = self._hash(keys)
        # Sorted queries make the binary search far faster (it reads the table in order).
        order = np.argsort(hashes)
        at = np.searchsorted(self.hashes, hashes[order])
        candidate = np.ones(len(keys), dtype=bool)
        # One candidate per key unless first hashes collide: then try the next ones.
        while True:
            candidate &= at < len(self.hashes)
            safe = np.minimum(at, len(self.hashes) - 1)
            candidate &= self.hashes[safe] == hashes[order]
            if not candidate.any():
                break
            hit = candidate & (self.checks[safe] == checks[order])
            found[order[hit]] = self.rows[safe[hit]]
            candidate &= ~hit
            at += 1
        new = found == 0
        self.pending = (hashes[new], checks[new], rows[new])
        return found

    def _merge(self) -> None:
        """Add the keys remembered from the last chunk to the sorted arrays."""
        if self.first_chunk is not None:
            keys, rows = self.first_chunk
            self.first_chunk = None
            self.pending = (*self._hash(keys), rows)
        if self.pending is None:
            return
        hashes, checks, rows = self.pending
        self.pending = None
        # Two sorted runs: the stable sort merges them in linear time.
        new = np.argsort(hashes)
        merged = np.concatenate([self.hashes, hashes[new]])
        order = np.argsort(merged, kind="stable")
        self.hashes = merged[order]
        self.checks = np.concatenate([self.checks, checks[new]])[order]
        self.rows = np.concatenate([self.rows, rows[new]])[order]

    def _hash(self, keys: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        # categorize=False: ids are mostly distinct, factorizing them first costs more.
        first = pd.util.hash_pandas_object(keys, index=False, categorize=False)
        check = pd.util.hash_pandas_object(
            keys, index=False, categorize=False, hash_key=self._CHECK_KEY
        )
        return first.to_numpy(np.uint64), check.to_numpy(np.uint64)


def _attribute_columns(name: str, columns) -> list[str]:
    """The columns of a table that no rule parses: attributes, kept as they are."""
    spec = SCHEMA[name]
    parsed = {*spec["required"], *spec["optional"], *_RULE_COLUMNS.get(name, ())}
    return [c for c in columns if c not in parsed]


def _normalize_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Strip white space and a BOM from column names."""
    renamed = {c: str(c).strip().lstrip("\ufeff") for c in frame.columns}
    return frame.rename(columns=renamed)


def _missing_column_message(source: str, column: str, found) -> str:
    import difflib

    found = [str(c) for c in found]
    message = f"{source}: missing required column {column!r}"
    match = difflib.get_close_matches(column, found, n=1, cutoff=0.5)
    if match:
        return message + f"; found {match[0]!r}. Did you mean {match[0]!r}?"
    shown = ", ".join(repr(c) for c in found[:8]) + (" ..." if len(found) > 8 else "")
    return message + f" (columns found: {shown or 'none'})"
