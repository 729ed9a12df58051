"""Benchmark ``funnel-models stalls`` against a bare DuckDB SQL query and pm4py.

For each size (stage events: 0.1 M, 1 M, 10 M by default) a Parquet dataset is
generated once (``funnel-models generate``, about 2.67 stage events per lead)
into ``benchmarks/_work/`` (gitignored). Then, in the same run, on the same
files, each in its own subprocess (wall time; peak RSS of that child only via
``os.wait4``):

* ``stalls``  — ``funnel-models stalls DIR --json``: leads, stage_events and
  opportunities read from Parquet and row-checked in DuckDB SQL, visits
  computed once in DuckDB, per-segment counts aggregated there, statistics in
  numpy, act-now list;
* ``phases``  — the same work in-process with a timer per phase (read and
  check, visits, findings, act-now) to show where time goes;
* ``duckdb``  — one hand-written DuckDB SQL query over ``stage_events.parquet``:
  transitions (``lead()`` window) with count, p50 and p90 dwell days, the dwell
  time as a difference of epochs (the reference for the ratio);
* ``duckdb_interval`` — the same query with the dwell time written
  ``epoch(exited_at - entered_at)``: an INTERVAL of two TIMESTAMPTZ values, which
  DuckDB computes through time-zone arithmetic, about 1 s slower at 10 M. The
  ratio was first measured against this form; both are shown;
* ``pm4py``   — ``pm4py.discover_performance_dfg`` on the same stage events as a
  DataFrame (pm4py's fast road; only up to ``--pm4py-max`` events, default 1 M);
* ``pm4py_log`` — the same after ``pm4py.convert_to_event_log`` (pm4py's classic
  EventLog object road, 8x slower; the issue's 23 s at 1.76 M events matches it).

    .venv/bin/python benchmarks/bench_stalls.py                       # 0.1, 1, 10 M
    .venv/bin/python benchmarks/bench_stalls.py --events 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"
EVENTS_PER_LEAD = 2.67

DUCKDB_SQL = """
with ev as (
  select lead_id, stage, entered_at,
         lead(stage) over w as next_stage, lead(entered_at) over w as exited_at
  from read_parquet('{path}')
  window w as (partition by lead_id order by entered_at)
)
select stage, next_stage, count(*) as n,
       quantile_cont((epoch(exited_at) - epoch(entered_at)) / 86400.0, 0.5) as p50_days,
       quantile_cont((epoch(exited_at) - epoch(entered_at)) / 86400.0, 0.9) as p90_days
from ev where next_stage is not null group by all order by all
"""
DUCKDB_SQL_INTERVAL = DUCKDB_SQL.replace(
    "(epoch(exited_at) - epoch(entered_at))", "epoch(exited_at - entered_at)"
)

PHASES = """
import sys, time, json
t0 = time.perf_counter()
import funnel_models as fm
from funnel_models.analysis.stalls import _act_now, _findings, _prepare
t1 = time.perf_counter()
inputs = _prepare(sys.argv[1])
t2 = time.perf_counter()
found = _findings(inputs)
t3 = time.perf_counter()
act = _act_now(inputs, found.attrs["thresholds"], limit=20)
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, **inputs.seconds, "findings": t3 - t2,
                  "act_now": t4 - t3, "findings_n": len(found)}))
"""

DUCKDB = """
import sys, duckdb
con = duckdb.connect()
con.execute("SET threads TO 2")
con.execute("SET enable_progress_bar = false")
print(len(con.sql(sys.argv[2].format(path=sys.argv[1])).fetchall()))
"""

PM4PY = """
import sys, pandas as pd, pm4py
df = pd.read_parquet(sys.argv[1], columns=["lead_id", "stage", "entered_at"])
df = pm4py.format_dataframe(df, case_id="lead_id", activity_key="stage",
                            timestamp_key="entered_at")
dfg, start, end = pm4py.discover_performance_dfg(df)
print(len(dfg))
"""
PM4PY_LOG = PM4PY.replace(
    "dfg, start, end = pm4py.discover_performance_dfg(df)",
    "dfg, start, end = pm4py.discover_performance_dfg(pm4py.convert_to_event_log(df))",
)


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("funnel-models")
    return [str(script)] if script.exists() else [sys.executable, "-m", "funnel_models.cli"]


def _run(cmd: list[str]) -> dict:
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} failed: {err.decode()[-2000:]}")
    return {"seconds": seconds, "peak_rss_mb": usage.ru_maxrss / 1024, "stdout": out.decode()}


def dataset(n_events: int) -> Path:
    out = WORK / f"stalls_{n_events}"
    if not (out / "stage_events.parquet").exists():
        leads = int(round(n_events / EVENTS_PER_LEAD))
        subprocess.run(
            [*_cli(), "generate", "--out", str(out), "--leads", str(leads), "--seed", "1"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    ap.add_argument("--pm4py-max", type=int, default=1_000_000)
    ap.add_argument("--no-phases", action="store_true")
    args = ap.parse_args(argv)
    WORK.mkdir(exist_ok=True)
    rows = []
    for n in args.events:
        folder = dataset(n)
        events_file = folder / "stage_events.parquet"
        import pyarrow.parquet as pq

        actual = pq.ParquetFile(events_file).metadata.num_rows
        row = {"target_events": n, "stage_events": actual, "load": os.getloadavg()[0]}
        ref = _run([sys.executable, "-c", DUCKDB, str(events_file), DUCKDB_SQL])
        row.update(duckdb_s=ref["seconds"], duckdb_mb=ref["peak_rss_mb"])
        slow = _run([sys.executable, "-c", DUCKDB, str(events_file), DUCKDB_SQL_INTERVAL])
        assert slow["stdout"] == ref["stdout"]  # the same number of transitions
        row["duckdb_interval_s"] = slow["seconds"]
        mine = _run([*_cli(), "stalls", str(folder), "--json"])
        json.loads(mine["stdout"])  # it printed JSON only
        row.update(stalls_s=mine["seconds"], stalls_mb=mine["peak_rss_mb"])
        row["ratio_vs_duckdb"] = row["stalls_s"] / row["duckdb_s"]
        row["ratio_vs_duckdb_interval"] = row["stalls_s"] / row["duckdb_interval_s"]
        if not args.no_phases:
            ph = _run([sys.executable, "-c", PHASES, str(folder)])
            row["phases"] = json.loads(ph["stdout"].strip().splitlines()[-1])
        if n <= args.pm4py_max:
            try:
                pm = _run([sys.executable, "-c", PM4PY, str(events_file)])
                row.update(pm4py_s=pm["seconds"], pm4py_mb=pm["peak_rss_mb"])
                row["pm4py_over_stalls"] = row["pm4py_s"] / row["stalls_s"]
                pm_log = _run([sys.executable, "-c", PM4PY_LOG, str(events_file)])
                row.update(pm4py_log_s=pm_log["seconds"], pm4py_log_mb=pm_log["peak_rss_mb"])
                row["pm4py_log_over_stalls"] = row["pm4py_log_s"] / row["stalls_s"]
            except SystemExit as exc:
                row["pm4py_error"] = str(exc)[:200]
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(
        "\n| stage events | stalls s | stalls peak MB | DuckDB SQL s | ratio "
        "| SQL with INTERVAL s | ratio | pm4py s | pm4py / stalls | pm4py EventLog s "
        "| EventLog / stalls |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        pm = (
            f"{r['pm4py_s']:.1f} | {r['pm4py_over_stalls']:.2f} | "
            f"{r['pm4py_log_s']:.1f} | {r['pm4py_log_over_stalls']:.1f}"
            if "pm4py_log_s" in r
            else "– | – | – | –"
        )
        print(f"| {r['stage_events']:,} | {r['stalls_s']:.1f} | {r['stalls_mb']:.0f} | "
              f"{r['duckdb_s']:.2f} | {r['ratio_vs_duckdb']:.1f} | "
              f"{r['duckdb_interval_s']:.2f} | {r['ratio_vs_duckdb_interval']:.1f} | {pm} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
