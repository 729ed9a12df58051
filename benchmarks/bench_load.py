"""Benchmark loading + validation (``funnel-models validate``) against reading the files.

For each size, a generated dataset (Parquet, and CSV for the smaller sizes) is
validated by the real command in a subprocess; the reference, in the same run,
is plain pandas reading the same five files and nothing else (the floor any
loader pays). Wall time, CPU time and peak resident memory of each child
(``wait4`` rusage) are reported, with the ratio validate / read.

    .venv/bin/python benchmarks/bench_load.py                       # 100k and 1M leads
    .venv/bin/python benchmarks/bench_load.py --sizes 100000 --formats parquet csv
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"
TABLES = ("leads", "stage_events", "activities", "opportunities", "accounts")

READ_ONLY = f"""
import sys, pandas as pd
folder, fmt = sys.argv[1], sys.argv[2]
for name in {TABLES!r}:
    path = f"{{folder}}/{{name}}.{{fmt}}"
    frame = pd.read_parquet(path) if fmt == "parquet" else pd.read_csv(path)
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
    if code not in (0, 1):  # validate exits 1 when rows were rejected; still a full run
        raise SystemExit(f"{' '.join(cmd)} failed ({code}): {proc.stderr.read().decode()}")
    return {
        "seconds": seconds,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_mb": usage.ru_maxrss / 1024,
    }


def dataset(n_leads: int, fmt: str) -> Path:
    folder = WORK / f"load_{n_leads}_{fmt}"
    if not (folder / f"stage_events.{fmt}").exists():
        cmd = [*_cli(), "generate", "--out", str(folder), "--leads", str(n_leads),
               "--seed", "11", "--file-format", fmt]  # fmt: skip
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return folder


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--formats", nargs="+", default=["parquet", "csv"])
    parser.add_argument("--csv-max", type=int, default=100_000, help="largest size run as CSV")
    args = parser.parse_args(argv)
    WORK.mkdir(exist_ok=True)
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    header = f"{'leads':>10} {'format':>7} {'rows':>11} {'validate s':>10} {'read s':>7} {'ratio':>6} {'validate MB':>11} {'read MB':>8}"
    print(header)
    for n in args.sizes:
        for fmt in args.formats:
            if fmt == "csv" and n > args.csv_max:
                continue
            folder = dataset(n, fmt)
            rows = sum(_rows(folder, t, fmt) for t in TABLES)
            read = _timed([sys.executable, "-c", READ_ONLY, str(folder), fmt])
            validate = _timed([*_cli(), "validate", str(folder), "--json",
                               "--rejected", str(WORK / "rejected.csv")])  # fmt: skip
            print(
                f"{n:>10,} {fmt:>7} {rows:>11,} {validate['seconds']:>10.1f} {read['seconds']:>7.1f}"
                f" {validate['seconds'] / read['seconds']:>6.1f} {validate['peak_mb']:>11.0f} {read['peak_mb']:>8.0f}"
            )
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


def _rows(folder: Path, table: str, fmt: str) -> int:
    if fmt == "csv":
        with open(folder / f"{table}.csv", "rb") as handle:
            return sum(1 for _ in handle) - 1
    import pyarrow.parquet as pq

    return pq.ParquetFile(folder / f"{table}.parquet").metadata.num_rows


if __name__ == "__main__":
    sys.exit(main())
