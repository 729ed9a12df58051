"""Benchmark ``funnel-models ingest`` against DuckDB copying the same files, and questions
asked of a store against a bare DuckDB query on the same store file.

Everything runs as a whole process (``subprocess``), wall time from launch to exit,
peak resident memory of that child only (``os.wait4`` rusage); the references run in
the same session, alternating with the measured commands:

* **ingest, Parquet**: ``funnel-models ingest DIR --store S`` vs a Python process that
  runs ``CREATE TABLE t AS SELECT * FROM read_parquet('DIR/t.parquet')`` for the five
  tables into a new DuckDB file (no checks);
* **ingest, CSV**: the same with ``read_csv`` (DuckDB's own type detection);
* **big ingest**: the Parquet ingest at ``--big-leads`` leads (3.7 M leads ≈ 10 M stage
  events) under ``--memory-limit 2GB``: does it complete, how long, how much memory;
* **questions**: ``funnel-models stalls S --json`` and ``funnel-models funnel S --json``
  vs a bare DuckDB query of the transitions with median and p90 dwell (epoch-difference
  spelling) on the same store file, opened read-only.

    .venv/bin/python benchmarks/bench_ingest.py                       # 1 M leads, then 3.7 M
    .venv/bin/python benchmarks/bench_ingest.py --leads 100000 --big-leads 0 --repeats 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"
TABLES = ("leads", "stage_events", "activities", "opportunities", "accounts")

COPY = f"""
import os, sys, duckdb
folder, fmt, out = sys.argv[1], sys.argv[2], sys.argv[3]
if os.path.exists(out):
    os.remove(out)
con = duckdb.connect(out)
reader = "read_parquet" if fmt == "parquet" else "read_csv"
for name in {TABLES!r}:
    con.execute(f"CREATE TABLE {{name}} AS SELECT * FROM {{reader}}('{{folder}}/{{name}}.{{fmt}}')")
con.close()
"""

QUERY = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
rows = con.execute('''
    SELECT stage, next_stage, count(*) AS n,
           quantile_cont(days, 0.5) AS p50_days, quantile_cont(days, 0.9) AS p90_days
    FROM (
      SELECT stage, lead(stage) OVER w AS next_stage,
             (epoch(lead(entered_at) OVER w) - epoch(entered_at)) / 86400.0 AS days
      FROM stage_events
      WINDOW w AS (PARTITION BY lead_id ORDER BY entered_at)
    )
    WHERE next_stage IS NOT NULL
    GROUP BY ALL
''').fetchall()
print(len(rows))
"""


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("funnel-models")
    return [str(script)] if script.exists() else [sys.executable, "-m", "funnel_models.cli"]


def _timed(cmd: list[str]) -> dict:
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({code}): {proc.stderr.read().decode()}")
    return {
        "seconds": seconds,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_mb": usage.ru_maxrss / 1024,
    }


def dataset(n_leads: int, fmt: str) -> Path:
    folder = WORK / f"ingest_{n_leads}_{fmt}"
    if not (folder / f"stage_events.{fmt}").exists():
        cmd = [*_cli(), "generate", "--out", str(folder), "--leads", str(n_leads),
               "--seed", "11", "--file-format", fmt]  # fmt: skip
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return folder


def _rows(folder: Path, fmt: str) -> int:
    import duckdb

    reader = "read_parquet" if fmt == "parquet" else "read_csv"
    con = duckdb.connect()
    return sum(
        con.execute(f"SELECT count(*) FROM {reader}('{folder}/{t}.{fmt}')").fetchall()[0][0]
        for t in TABLES
    )


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _line(label: str, ours: list[dict], ref: list[dict]) -> str:
    a, b = _median(ours, "seconds"), _median(ref, "seconds")
    ca, cb = _median(ours, "cpu"), _median(ref, "cpu")
    spread = ", ".join(f"{r['seconds']:.1f}" for r in ours)
    ref_spread = ", ".join(f"{r['seconds']:.1f}" for r in ref)
    return (
        f"| {label} | {a:.1f} s ({spread}) | {b:.1f} s ({ref_spread}) | **{a / b:.2f}** "
        f"| {ca:.1f} / {cb:.1f} s = {ca / cb:.2f} "
        f"| {max(r['peak_mb'] for r in ours):,.0f} | {max(r['peak_mb'] for r in ref):,.0f} |"
    )


def ingest_rows(n_leads: int, repeats: int, memory_limit: str | None) -> tuple[list[str], Path]:
    lines = []
    store = None
    for fmt in ("parquet", "csv"):
        folder = dataset(n_leads, fmt)
        rows = _rows(folder, fmt)
        ours, ref = [], []
        for _ in range(repeats):
            out = WORK / f"ingest_{n_leads}_{fmt}.fmstore"
            copy = WORK / f"copy_{n_leads}_{fmt}.duckdb"
            ref.append(_timed([sys.executable, "-c", COPY, str(folder), fmt, str(copy)]))
            cmd = [*_cli(), "ingest", str(folder), "--store", str(out)]
            if memory_limit:
                cmd += ["--memory-limit", memory_limit]
            ours.append(_timed(cmd))
            print(f"  {fmt}: ingest {ours[-1]['seconds']:.1f} s, copy {ref[-1]['seconds']:.1f} s",
                  file=sys.stderr)  # fmt: skip
            if fmt == "parquet":
                store = out
        lines.append(_line(f"{n_leads:,} leads, {fmt} ({rows / 1e6:.1f} M rows)", ours, ref))
    return lines, store


def question_rows(store: Path, repeats: int) -> list[str]:
    lines = []
    for command in ("stalls", "funnel"):
        ours, ref = [], []
        for _ in range(repeats):
            ref.append(_timed([sys.executable, "-c", QUERY, str(store)]))
            ours.append(_timed([*_cli(), command, str(store), "--json"]))
        lines.append(_line(f"`{command} STORE --json`", ours, ref))
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--big-leads", type=int, default=3_700_000, help="0 skips the big ingest")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--memory-limit", default=None, help="passed to ingest (default: its own)")
    parser.add_argument("--skip-questions", action="store_true", help="only the ingest rows")
    args = parser.parse_args(argv)
    WORK.mkdir(exist_ok=True)
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    header = (
        "| run | funnel_models, median (runs) | reference | ratio | CPU s ours / reference "
        "| peak MB | reference peak MB |"
    )
    print(header + "\n|---|---:|---:|---:|---:|---:|---:|")
    lines, store = ingest_rows(args.leads, args.repeats, args.memory_limit)
    print("\n".join(lines), flush=True)
    if args.big_leads:
        folder = dataset(args.big_leads, "parquet")
        events = _rows(folder, "parquet")
        out = WORK / f"ingest_{args.big_leads}_parquet.fmstore"
        run = _timed([*_cli(), "ingest", str(folder), "--store", str(out), "--memory-limit", "2GB"])
        ref = _timed([sys.executable, "-c", COPY, str(folder), "parquet",
                      str(WORK / "copy_big.duckdb")])  # fmt: skip
        print(_line(f"{args.big_leads:,} leads, parquet ({events / 1e6:.1f} M rows), "
                    "`--memory-limit 2GB`", [run], [ref]), flush=True)  # fmt: skip
        store = out
    if not args.skip_questions:
        print("\n".join(question_rows(store, args.repeats)))
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
