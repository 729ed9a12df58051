"""Where the heavy event-log work runs: Ibis expressions on DuckDB (default) or Spark.

The expressions here (stage visits, transitions with dwell quantiles, cohort
counts) are written once with `Ibis <https://ibis-project.org>`_ and run
unchanged on either backend:

* ``engine="duckdb"`` (default) — in-process DuckDB, from a dataset's pandas
  DataFrames, or directly from Parquet/CSV files or a DuckDB/SQLite database
  without a pandas round-trip;
* ``engine="spark"`` — PySpark in local mode (``pip install pyspark``, Java 17),
  for logs that outgrow one machine.

Only aggregates come back to pandas; statistics on them (Kaplan–Meier,
cumulative incidence, intervals) live in :mod:`funnel_models.analysis._survival`.

Examples
--------
>>> import pandas as pd, funnel_models as fm
>>> from funnel_models.core import engine
>>> leads = pd.DataFrame({"lead_id": ["a"], "created_at": ["2024-01-01"]})
>>> events = pd.DataFrame({"lead_id": ["a", "a"], "stage": ["Lead", "MQL"],
...                        "entered_at": ["2024-01-01", "2024-01-03"]})
>>> ds = fm.FunnelDataset.from_frames(leads=leads, stage_events=events)
>>> log = engine.EventLog.from_source(ds)
>>> log.max_timestamp()
Timestamp('2024-01-03 00:00:00+0000', tz='UTC')
"""

from __future__ import annotations

import math
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from funnel_models._errors import FunnelConfigError, FunnelDataError
from funnel_models.core._time import (  # re-exported: part of this module's API
    _GRID_BASE,
    GRID_HOUR_LIMIT,
    GRID_MINUTE_LIMIT,
    GRID_STEP,
    bin_upper_days,
    duration_bin_sql,
    resolve_as_of,
)
from funnel_models.core.funnel import Funnel

__all__ = [
    "ENGINES",
    "EventLog",
    "bin_upper_days",
    "connect",
    "duration_bin",
    "duration_bin_sql",
    "resolve_as_of",
    "spell_expr",
    "stage_transition_expr",
    "stall_aggregate_expr",
    "stall_aggregates",
    "transition_expr",
]

ENGINES = ("duckdb", "spark")
_EVENT_COLUMNS = ("lead_id", "stage", "entered_at")
_lock = threading.Lock()
_spark_session = None


# ---------------------------------------------------------------------- backends
def connect(engine: str = "duckdb"):
    """An Ibis backend: a fresh in-memory DuckDB, or PySpark in local mode.

    The Spark session is created once per process (``local[2]``, UTC session
    time zone, 4 shuffle partitions, no UI) and reused.
    """
    if engine == "duckdb":
        con = ibis.duckdb.connect()
        # DuckDB draws a progress bar on stdout for long queries: never in our output
        con.raw_sql("SET enable_progress_bar = false")
        return con
    if engine == "spark":
        return ibis.pyspark.connect(spark_session())
    raise FunnelConfigError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")


def spark_session():
    """The process-wide local Spark session (created on first use)."""
    global _spark_session
    with _lock:
        if _spark_session is None:
            try:
                from pyspark.sql import SparkSession
            except ImportError:
                raise FunnelConfigError(
                    "engine='spark' needs PySpark: pip install 'funnel_models[spark]' (and Java 17)"
                ) from None
            _spark_session = (
                SparkSession.builder.master("local[2]")
                .appName("funnel_models")
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.sql.shuffle.partitions", "4")
                .config("spark.ui.enabled", "false")
                .config("spark.driver.memory", "2g")
                .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                # not a spark-warehouse/ folder in whatever directory the user is in
                .config("spark.sql.warehouse.dir", tempfile.mkdtemp(prefix="funnel_models_spark_"))
                .getOrCreate()
            )
        return _spark_session


# ---------------------------------------------------------------------- as_of
# ---------------------------------------------------------------------- event log
@dataclass
class EventLog:
    """The stage events of a source as an Ibis table on a backend, plus the funnel.

    Build with :meth:`from_source`. ``events`` has at least ``lead_id``,
    ``stage`` (canonical names), ``entered_at`` (UTC timestamp).
    """

    con: Any
    events: ir.Table
    funnel: Funnel
    engine: str = "duckdb"

    @classmethod
    def from_source(
        cls,
        source: Any,
        *,
        engine: str = "duckdb",
        funnel: Funnel | None = None,
        con: Any = None,
    ) -> EventLog:
        """Open the stage events of a source on an engine.

        Parameters
        ----------
        source
            A :class:`~funnel_models.FunnelDataset` or a funnel store file (its
            validated ``stage_events``, read in the store on DuckDB); a pandas DataFrame of stage events; a Parquet or
            CSV file of stage events; a folder holding ``stage_events.parquet``
            or ``.csv``; or ``duckdb:///file.duckdb`` / ``sqlite:///file.db``
            holding a ``stage_events`` table. Files and databases are read by
            the engine directly (no pandas round-trip, no row validation):
            stage values are mapped to canonical names through the funnel's
            aliases and events with unknown stages are ignored.
        engine
            ``"duckdb"`` or ``"spark"``.
        funnel
            Default: the dataset's funnel, a folder's ``funnel.yaml``, or
            :meth:`Funnel.default`.
        con
            An existing Ibis backend to reuse.
        """
        from funnel_models.core.dataset import FunnelDataset, open_dataset
        from funnel_models.core.store import is_store

        if isinstance(source, (str, Path)) and is_store(source):
            source = open_dataset(source)  # a funnel store: its validated events
        if engine not in ENGINES:
            raise FunnelConfigError(
                f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}"
            )
        if isinstance(source, FunnelDataset) and source.rows_read.get("stage_events"):
            source.require_events()  # events were read and every one was rejected: say why
        own = con is None or con is getattr(source, "backend", None)
        if isinstance(source, FunnelDataset) and engine == "duckdb" and own:
            # the events in the dataset's store, no pandas round trip
            return cls(source.backend, source.relation("stage_events"), funnel or source.funnel)
        con = con if con is not None else connect(engine)
        if isinstance(source, FunnelDataset):
            funnel = funnel or source.funnel
            frame = source.stage_events
            table = _from_frame(con, frame, engine)
            return cls(con, table, funnel, engine)
        if isinstance(source, pd.DataFrame):
            _check_columns(source.columns, "stage_events DataFrame")
            table = _from_frame(con, source, engine)
            return cls(con, table, funnel or Funnel.default(), engine)
        table, funnel = _from_path(con, source, engine, funnel)
        return cls(con, table, funnel, engine)

    # -------------------------------------------------------------- queries
    def execute(self, expr: ir.Expr) -> pd.DataFrame:
        """Run an expression on this log's backend and return pandas."""
        return self.con.execute(expr)

    def max_timestamp(self) -> pd.Timestamp | None:
        """The latest ``entered_at`` in the log (the default ``as_of``); None if empty."""
        value = self.con.execute(self.events.entered_at.max())
        if value is None or pd.isna(value):
            return None
        return resolve_as_of(value).as_unit("ns")

    def as_of_or_latest(self, as_of: Any) -> pd.Timestamp:
        ts = resolve_as_of(as_of)
        if ts is None:
            ts = self.max_timestamp()
        if ts is None:
            raise FunnelDataError("the stage_events table is empty: there is nothing to analyse")
        return ts


def _check_columns(columns, where: str) -> None:
    missing = [c for c in _EVENT_COLUMNS if c not in columns]
    if missing:
        raise FunnelDataError(
            f"{where}: missing required column {missing[0]!r} "
            f"(stage events need {', '.join(_EVENT_COLUMNS)})"
        )


def _from_frame(con, frame: pd.DataFrame, engine: str) -> ir.Table:
    frame = frame.copy()
    frame.attrs = {}  # Ibis cannot serialise a Timestamp in attrs and warns
    for col in frame.columns:
        if frame[col].dtype == object or str(frame[col].dtype) in ("str", "string"):
            frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    frame["entered_at"] = pd.to_datetime(frame["entered_at"], utc=True).dt.as_unit("us")
    if engine == "spark":
        return _spark_view(con, frame, "stage_events")
    return ibis.memtable(frame)


def _spark_view(con, frame: pd.DataFrame, prefix: str) -> ir.Table:
    """Register a pandas frame as a Spark temporary view and open it in Ibis."""
    import uuid

    name = f"fm_{prefix}_{uuid.uuid4().hex[:12]}"
    spark_session().createDataFrame(frame).createOrReplaceTempView(name)
    return con.table(name)


def _from_path(con, source, engine: str, funnel: Funnel | None):
    text = str(source)
    if "://" in text:
        scheme, rest = text.split("://", 1)
        path = Path(rest[1:] if rest.startswith("/") else rest)
        scheme = scheme.lower()
        if engine != "duckdb":
            raise FunnelConfigError(
                f"{text}: databases are read with engine='duckdb'; for Spark export "
                "stage_events to Parquet"
            )
        if not path.exists():
            raise FunnelDataError(f"{path}: database file not found")
        if scheme == "duckdb":
            con.raw_sql(f"ATTACH '{path}' AS src (READ_ONLY)")
            table = con.table("stage_events", database="src")
        elif scheme == "sqlite":
            con.raw_sql("INSTALL sqlite; LOAD sqlite;")
            con.raw_sql(f"ATTACH '{path}' AS src (TYPE sqlite, READ_ONLY)")
            table = con.table("stage_events", database="src")
        else:
            raise FunnelDataError(f"{text}: unsupported database scheme {scheme!r}")
        funnel = funnel or Funnel.default()
    else:
        path = Path(text)
        if path.is_dir():
            if funnel is None and (path / "funnel.yaml").exists():
                funnel = Funnel.from_yaml(path / "funnel.yaml")
            for suffix in (".parquet", ".csv"):
                if (path / f"stage_events{suffix}").exists():
                    path = path / f"stage_events{suffix}"
                    break
            else:
                raise FunnelDataError(
                    f"{source}: no stage_events.parquet or stage_events.csv in this folder"
                )
        if not path.exists():
            raise FunnelDataError(f"{path}: no such file")
        if path.suffix.lower() == ".parquet":
            table = con.read_parquet(str(path))
        elif path.suffix.lower() == ".csv":
            table = con.read_csv(str(path))
        else:
            raise FunnelDataError(f"{path}: expected a .parquet or .csv file of stage events")
        funnel = funnel or Funnel.default()
    _check_columns(table.columns, str(path))
    return _canonicalize(con, table, funnel, engine), funnel


def _canonicalize(con, table: ir.Table, funnel: Funnel, engine: str) -> ir.Table:
    """Map raw stage values to canonical names (through the aliases); drop unknown ones."""
    raw = con.execute(table.select(stage=table.stage.cast("string")).distinct())["stage"]
    mapping = {v: funnel.canonical_stage(v) for v in raw if v is not None}
    mapping = {k: v for k, v in mapping.items() if v is not None}
    lookup = pd.DataFrame({"raw_stage": list(mapping), "canonical": list(mapping.values())})
    lookup_t = _small_table(con, lookup, engine, "stage_lookup")
    ts = table.entered_at
    if not ts.type().is_timestamp():
        ts = ts.cast("timestamp")
    if ts.type().timezone is None:
        ts = ts.cast(ibis.dtype("timestamp('UTC')"))
    base = table.mutate(
        lead_id=table.lead_id.cast("string"),
        raw_stage=table.stage.cast("string"),
        entered_at=ts,
    ).drop("stage")
    joined = base.join(lookup_t, "raw_stage").drop("raw_stage").rename(stage="canonical")
    return joined


def _small_table(con, frame: pd.DataFrame, engine: str, prefix: str) -> ir.Table:
    if engine == "spark":
        return _spark_view(con, frame, prefix)
    return ibis.memtable(frame)


# ---------------------------------------------------------------------- expressions
def spell_expr(log: EventLog, as_of: pd.Timestamp, *, visits: bool = True) -> ir.Table:
    """Stage visits of an event log (:func:`funnel_models.core.visits.visits_expr`)."""
    from funnel_models.core.visits import visits_expr

    return visits_expr(log.events, log.funnel, as_of, visit_numbers=visits)


def transition_expr(spells: ir.Table, quantiles: Sequence[float] = (0.5, 0.9)) -> ir.Table:
    """Closed stage visits grouped by (from_stage, to_stage): count, mean and quantile dwell days."""
    closed = spells.filter(spells.next_stage.notnull())
    aggs = {
        "count": closed.count(),
        "mean_days": closed.days_in_stage.mean(),
    }
    for q in quantiles:
        aggs[f"p{round(q * 100):d}_days"] = closed.days_in_stage.quantile(q)
    return (
        closed.group_by(from_stage=closed.stage, to_stage=closed.next_stage)
        .aggregate(**aggs)
        .order_by(["from_stage", "to_stage"])
    )


# ---------------------------------------------------------------------- duration grid
def duration_bin(seconds: ir.NumericValue) -> ir.IntegerValue:
    """Index on the duration grid (see :data:`GRID_STEP`) of a duration in seconds.

    Bin ``k`` holds the durations in ``(edge(k-1), edge(k)]``;
    :func:`bin_upper_days` gives ``edge(k)`` in days.
    """
    eps = 1e-9
    minutes = seconds.cast("float64") / 60.0
    m = ibis.greatest(minutes, 0.0)
    by_minute = (m - eps).ceil()
    by_hour = (m / 60.0 - eps).ceil() + (GRID_MINUTE_LIMIT - GRID_MINUTE_LIMIT // 60)
    geometric = (
        (m / (GRID_HOUR_LIMIT * 60.0)).ln() / math.log(GRID_STEP) - eps
    ).ceil() + _GRID_BASE
    k = ibis.cases(
        (m <= GRID_MINUTE_LIMIT, ibis.greatest(by_minute, 0)),
        (m <= GRID_HOUR_LIMIT * 60.0, by_hour),
        else_=geometric,
    )
    return k.cast("int64")


# ---------------------------------------------------------------------- stall aggregates
def stall_aggregate_expr(
    spells: ir.Table,
    columns: Sequence[str],
    leak_stages: Sequence[str],
    stages: Sequence[str],
) -> ir.Table:
    """Per (stage, segment column, value, duration bin): closed, leaking and open visits.

    ``spells`` is :func:`spell_expr` joined with the lead attributes named in
    ``columns``. One group-by per column (plus ``column == ""`` for the whole
    stage), unioned: columns ``stage``, ``column``, ``value`` (string; NULL for
    leads without the attribute), ``bin`` (:func:`duration_bin` of the days in
    stage), ``closed`` (visits that ended), ``leak`` (closed visits whose next
    stage is one of ``leak_stages``), ``open`` (censored visits). Kaplan–Meier
    curves of any segment and of its rest follow exactly from these counts (on
    the duration grid).
    """
    sp = spells.filter(spells.stage.isin(list(stages)))
    secs = sp.days_in_stage * 86400.0
    is_closed = sp.next_stage.notnull()
    base = sp.mutate(
        _bin=duration_bin(secs),
        _closed=is_closed.cast("int64"),
        _leak=(is_closed & sp.next_stage.isin(list(leak_stages) or ["\x00"])).cast("int64"),
        _open=(~is_closed).cast("int64"),
    )
    parts = []
    for col in ["", *columns]:
        value = ibis.null().cast("string") if col == "" else base[col].cast("string")
        part = base.group_by(
            stage=base.stage,
            column=ibis.literal(col, type="string"),
            value=value,
            bin=base._bin,
        ).aggregate(closed=base._closed.sum(), leak=base._leak.sum(), open=base._open.sum())
        parts.append(part)
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def stage_transition_expr(spells: ir.Table) -> ir.Table:
    """Closed visits per (stage, next_stage) with their summed days in stage (for the chain)."""
    closed = spells.filter(spells.next_stage.notnull())
    return closed.group_by(["stage", "next_stage"]).aggregate(
        count=closed.count(), days=closed.days_in_stage.sum()
    )


def stall_aggregates(
    con: Any,
    spells: ir.Table,
    columns: Sequence[str],
    leak_stages: Sequence[str],
    stages: Sequence[str],
) -> pd.DataFrame:
    """Run :func:`stall_aggregate_expr` and return pandas.

    On DuckDB the same counts come from one ``GROUPING SETS`` query over the
    same Ibis expression (one scan of the visits instead of one per column);
    other backends run the union of group-bys.
    """
    if getattr(con, "name", "") != "duckdb":
        return con.execute(stall_aggregate_expr(spells, columns, leak_stages, stages))
    sp = spells.filter(spells.stage.isin(list(stages)))
    is_closed = sp.next_stage.notnull()
    base = sp.select(
        "stage",
        *[sp[c].cast("string").name(f"v{i}") for i, c in enumerate(columns)],
        _bin=duration_bin(sp.days_in_stage * 86400.0),
        _closed=is_closed.cast("int64"),
        _leak=(is_closed & sp.next_stage.isin(list(leak_stages) or ["\x00"])).cast("int64"),
        _open=(~is_closed).cast("int64"),
    )
    inner = ibis.to_sql(base, dialect="duckdb")
    names = [f"v{i}" for i in range(len(columns))]
    sets = ", ".join(["(stage, _bin)", *[f"(stage, {v}, _bin)" for v in names]])
    grouping = ", ".join(f"GROUPING({v}) AS g{i}" for i, v in enumerate(names))
    sql = (
        f"SELECT stage, _bin AS bin, {', '.join(names) + ',' if names else ''} "
        f"{grouping + ',' if grouping else ''} "
        f"sum(_closed) AS closed, sum(_leak) AS leak, sum(_open) AS open "
        f"FROM ({inner}) GROUP BY GROUPING SETS ({sets})"
    )
    raw = con.raw_sql(sql).df()
    parts = []
    if names:
        whole = np.ones(len(raw), dtype=bool)
        for i in range(len(names)):
            whole &= raw[f"g{i}"].to_numpy() == 1
    else:
        whole = np.ones(len(raw), dtype=bool)
    keep = ["stage", "bin", "closed", "leak", "open"]
    w = raw.loc[whole, keep].assign(column="", value=None)
    parts.append(w)
    for i, c in enumerate(columns):
        mask = raw[f"g{i}"].to_numpy() == 0
        part = raw.loc[mask, keep].assign(column=c, value=raw.loc[mask, f"v{i}"])
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out["value"] = out["value"].astype(object).where(out["value"].notna(), None)
    return out[["stage", "column", "value", "bin", "closed", "leak", "open"]]
