"""Transitions + dwell quantiles on the same generated Parquet log, side by side.

    .venv/bin/python benchmarks/bench_engine.py --events 100000 1000000 10000000

Compared in one run, on one file: fm.transitions (Ibis on DuckDB, straight from
Parquet), a bare hand-written DuckDB SQL query, plain pandas groupby, and pm4py's
discover_performance_dfg. Prints seconds, ratio to bare SQL and peak RSS growth
(each method in its own subprocess so peak memory is its own).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

METHODS = ("ibis_duckdb", "bare_sql", "pandas", "pm4py")


def make_log(n_events: int) -> Path:
    """The generated log of ``bench_stalls.py`` (``benchmarks/_work/``), made once by the CLI.

    Generating in a subprocess keeps this parent process small: a child started
    with ``exec`` reports at least its parent's peak RSS on Linux.
    """
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_stalls import WORK, dataset

    WORK.mkdir(exist_ok=True)
    return dataset(n_events) / "stage_events.parquet"


def run_one(method: str, path: str) -> dict:
    import resource

    import duckdb
    import pandas  # noqa: F401

    import funnel_models  # noqa: F401

    if method == "pm4py":
        import pm4py
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    if method == "ibis_duckdb":
        import funnel_models as fm

        res = fm.transitions(path, as_of="2026-09-30")
        n = int(res["count"].sum())
    elif method == "bare_sql":
        import duckdb

        res = duckdb.sql(f"""
          WITH r(stage, rk) AS (VALUES ('Lead',0),('MQL',1),('SAL',2),('SQL',3),('Opportunity',4),
                 ('Won',5),('Lost',6),('Disqualified',7),('Recycled',8)),
          nx AS (SELECT stage, LEAD(stage) OVER w AS nxt,
                        epoch(LEAD(entered_at) OVER w) - epoch(entered_at) AS secs
                 FROM read_parquet('{path}') JOIN r USING (stage)
                 WINDOW w AS (PARTITION BY lead_id ORDER BY entered_at, rk))
          SELECT stage, nxt, count(*) n, quantile_cont(secs/86400, 0.5), quantile_cont(secs/86400, 0.9)
          FROM nx WHERE nxt IS NOT NULL GROUP BY 1, 2""").df()
        n = int(res["n"].sum())
    elif method == "pandas":
        import pandas as pd

        df = pd.read_parquet(path, columns=["lead_id", "stage", "entered_at"])
        df = df.sort_values(["lead_id", "entered_at"], kind="stable")
        g = df.groupby("lead_id", sort=False)
        df["nxt"] = g["stage"].shift(-1)
        df["days"] = (g["entered_at"].shift(-1) - df["entered_at"]).dt.total_seconds() / 86400
        res = df.dropna(subset=["nxt"]).groupby(["stage", "nxt"])["days"].quantile([0.5, 0.9])
        n = len(df.dropna(subset=["nxt"]))
    else:
        import pandas as pd
        import pm4py

        df = pd.read_parquet(path, columns=["lead_id", "stage", "entered_at"])
        df = df.rename(
            columns={
                "lead_id": "case:concept:name",
                "stage": "concept:name",
                "entered_at": "time:timestamp",
            }
        )
        dfg, *_ = pm4py.discover_performance_dfg(df)
        n = len(dfg)
    secs = time.perf_counter() - t0
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "method": method,
        "seconds": secs,
        "peak_rss_mib": peak_mib,
        "rss_at_start_mib": rss0,
        "n": n,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--pm4py-max", type=int, default=1_000_000)
    ap.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(*args.one)))
        return
    for n_events in args.events:
        path = make_log(n_events)
        import pyarrow.parquet as pq

        rows = pq.ParquetFile(path).metadata.num_rows
        print(f"\n{rows:,} stage events")
        results = {}
        for method in METHODS:
            if method == "pm4py" and n_events > args.pm4py_max:
                continue
            out = subprocess.run(
                [sys.executable, __file__, "--one", method, str(path)],
                capture_output=True,
                text=True,
                check=True,
            )
            results[method] = json.loads(out.stdout.strip().splitlines()[-1])
        base = results["bare_sql"]["seconds"]
        for method, r in results.items():
            print(
                f"  {method:<12} {r['seconds']:8.2f} s  x{r['seconds'] / base:6.1f} of bare SQL"
                f"  peak RSS {r['peak_rss_mib']:7.0f} MiB (after imports {r['rss_at_start_mib']:.0f})"
            )


if __name__ == "__main__":
    main()
