"""Benchmark ``funnel-models generate``: wall time, peak memory and scaling.

Runs the real command in a subprocess for each size (default 100,000 and
1,000,000 leads), measures its wall time and peak resident memory (``wait4``
rusage of that child only) and prints a table. Output goes to
``benchmarks/_work/`` (gitignored).

    .venv/bin/python benchmarks/bench_generate.py              # 100k and 1M
    .venv/bin/python benchmarks/bench_generate.py --sizes 1000000 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"


def _command() -> list[str]:
    script = Path(sys.executable).with_name("funnel-models")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "funnel_models.cli"]


def run_once(n_leads: int, file_format: str) -> dict:
    out = WORK / f"generate_{n_leads}_{file_format}"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [*_command(), "generate", "--out", str(out), "--leads", str(n_leads),
           "--file-format", file_format]  # fmt: skip
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"generate failed ({proc.returncode}): {err.strip()}")
    size_mb = sum(p.stat().st_size for p in out.iterdir()) / 1e6
    return {
        "leads": n_leads,
        "format": file_format,
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,  # Linux: kilobytes
        "output_mb": size_mb,
        "load_before": load_before,
        "cmd": " ".join(cmd),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--file-format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument("--keep", action="store_true", help="keep the generated folders")
    args = parser.parse_args(argv)
    WORK.mkdir(exist_ok=True)
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
    header = (
        f"{'leads':>10} {'format':>7} {'wall s':>7} {'cpu s':>7} {'peak RSS MB':>12} "
        f"{'output MB':>10} {'leads/s':>10} {'load before':>12}"
    )
    print(header)
    print("-" * len(header))
    rows = []
    for n in args.sizes:
        for _ in range(args.repeat):
            r = run_once(n, args.file_format)
            rows.append(r)
            print(
                f"{r['leads']:>10,} {r['format']:>7} {r['seconds']:>7.1f} {r['cpu_seconds']:>7.1f} "
                f"{r['peak_rss_mb']:>12.0f} {r['output_mb']:>10.1f} "
                f"{r['leads'] / r['seconds']:>10,.0f} {r['load_before']:>12.2f}",
                flush=True,
            )
            if not args.keep:
                shutil.rmtree(WORK / f"generate_{n}_{args.file_format}", ignore_errors=True)
    if len({r["leads"] for r in rows}) > 1:
        small = min(rows, key=lambda r: r["leads"])
        big = max(rows, key=lambda r: r["leads"])
        growth = (big["seconds"] / small["seconds"]) / (big["leads"] / small["leads"])
        print(
            f"scaling: {big['leads'] / small['leads']:.0f}x leads -> "
            f"{big['seconds'] / small['seconds']:.1f}x time ({growth:.2f} of linear), "
            f"{big['peak_rss_mb'] / small['peak_rss_mb']:.1f}x peak memory"
        )
    print(f"command: {rows[-1]['cmd']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
