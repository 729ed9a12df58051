"""Dashboard benchmark: page-ready time against a trivial one-chart Voila page, and filter redraws.

Part 1 (browser): Voila on 127.0.0.1 with the funnel_models template, Debian's Chromium via
Playwright. Page-ready = from ``page.goto`` until every chart of the page has drawn its SVG
(executive: 4 charts and the headline; trivial: 1 chart). Both pages are measured in the same
run, with and without preheated kernels (``--preheat_kernel=True``; before each preheated
visit we wait until Voila reports its pool refilled). Then, on the executive page, the time from
choosing a channel in the filter bar to the redrawn funnel.

Part 2 (in process): a generated data set of N leads (default 1,000,000), the dashboard's
aggregates built once (phases timed), then ``ExecutiveDashboard.update`` and
``HandoffDashboard.update`` — everything a filter change does in the kernel, figures
serialised to JSON included — timed over a set of filter selections.

    .venv/bin/python benchmarks/bench_dashboard.py                 # both parts
    .venv/bin/python benchmarks/bench_dashboard.py --skip-browser --leads 1000000
    .venv/bin/python benchmarks/bench_dashboard.py --skip-browser --skip-filters --browser-big
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / "_work"
sys.path.insert(0, str(REPO / "tests"))

TRIVIAL = """from IPython.display import display
import plotly.graph_objects as go
fig = go.Figure(go.Bar(x=["a", "b", "c"], y=[3, 1, 2]))
display({"application/vnd.plotly.v1+json": fig.to_plotly_json()}, raw=True)"""


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} on {os.cpu_count()} cores"


def trivial_notebook() -> Path:
    import nbformat

    WORK.mkdir(exist_ok=True)
    path = WORK / "trivial_one_chart.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(TRIVIAL)])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


def _pool_fills(log: Path) -> int:
    if not log.exists():
        return 0
    return len(re.findall(r"is filled with", log.read_text(errors="replace")))


def page_ready(
    browser,
    notebook: Path,
    charts: int,
    *,
    source: Path,
    preheat: bool,
    visits: int,
    measure_filter: bool = False,
) -> dict:
    from _voila import serve_voila

    env = {"FUNNEL_MODELS_SOURCE": str(source)}
    args = []
    if preheat:
        args = [
            "--preheat_kernel=True",
            "--pool_size=1",
            f"--VoilaKernelManager.default_env_variables={json.dumps(env)}",
        ]
    log = WORK / f"voila_{notebook.stem}_{'preheat' if preheat else 'cold'}.log"
    times, redraws = [], []
    with serve_voila(notebook, env=env, log_path=log, args=args) as url:
        for visit in range(visits):
            if preheat:
                deadline = time.monotonic() + 300
                while _pool_fills(log) < visit + 1 and time.monotonic() < deadline:
                    time.sleep(0.2)
                time.sleep(1.0)  # let the pool's kernel settle
            page = browser.new_page(viewport={"width": 1366, "height": 1700})
            t0 = time.perf_counter()
            page.goto(url, timeout=300_000)
            page.wait_for_function(
                "n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 2 * n",
                arg=charts,
                timeout=300_000,
            )
            times.append(time.perf_counter() - t0)
            if measure_filter:
                before = page.locator(".js-plotly-plot .funnellayer").first.text_content()
                box = page.locator(".widget-dropdown", has_text="Channel").locator("select")
                t1 = time.perf_counter()
                box.select_option("paid_search")
                page.wait_for_function(
                    "b => document.querySelector('.js-plotly-plot .funnellayer') && "
                    "document.querySelector('.js-plotly-plot .funnellayer').textContent !== b",
                    arg=before,
                    timeout=60_000,
                )
                redraws.append(time.perf_counter() - t1)
            page.close()
    return {"page_ready_s": times, "filter_redraw_s": redraws}


def part_browser(visits: int) -> None:
    from _voila import CHROMIUM, CHROMIUM_ARGS
    from playwright.sync_api import sync_playwright

    from funnel_models.app.voila import default_source

    source = default_source()
    trivial = trivial_notebook()
    executive = REPO / "notebooks" / "dashboard_executive.ipynb"
    print(f"# page-ready, {visits} visits each ({_load()})")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for preheat in (True, False):
            row = {}
            for name, nb, charts in (("trivial", trivial, 1), ("executive", executive, 4)):
                row[name] = page_ready(
                    browser,
                    nb,
                    charts,
                    source=source,
                    preheat=preheat,
                    visits=visits,
                    measure_filter=(name == "executive"),
                )
            t = statistics.median(row["trivial"]["page_ready_s"])
            e = statistics.median(row["executive"]["page_ready_s"])
            mode = "preheated" if preheat else "cold kernel"
            print(
                f"{mode:12s} trivial {t:5.2f} s  executive {e:5.2f} s  ratio {e / t:4.2f}  "
                f"(all: trivial {[round(x, 2) for x in row['trivial']['page_ready_s']]}, "
                f"executive {[round(x, 2) for x in row['executive']['page_ready_s']]})"
            )
            redraw = row["executive"]["filter_redraw_s"]
            print(
                f"{'':12s} filter change → funnel redrawn in the browser (10k leads): "
                f"median {statistics.median(redraw):.2f} s {[round(x, 2) for x in redraw]}"
            )
            print(f"{'':12s} ({_load()})")
        browser.close()


def part_browser_big(n_leads: int, seed: int) -> None:
    """The executive page on a big data set (cold kernel): open once, time filter redraws."""
    from _voila import CHROMIUM, CHROMIUM_ARGS
    from playwright.sync_api import sync_playwright

    folder = _generated(n_leads, seed)
    executive = REPO / "notebooks" / "dashboard_executive.ipynb"
    print(f"# executive page on {n_leads:,} leads in the browser ({_load()})")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        row = page_ready(
            browser, executive, 4, source=folder, preheat=False, visits=1, measure_filter=True
        )
        browser.close()
    print(
        f"page-ready (cold kernel, aggregates built while the page waits) "
        f"{row['page_ready_s'][0]:.1f} s; filter change → funnel redrawn in the browser "
        f"{row['filter_redraw_s'][0]:.2f} s ({_load()})"
    )


def _generated(n_leads: int, seed: int) -> Path:
    from funnel_models.synthetic import generate

    folder = WORK / f"dashboard_{n_leads}"
    if not (folder / "leads.parquet").exists():
        t = time.perf_counter()
        generate(folder, n_leads=n_leads, seed=seed)
        print(f"generated {n_leads:,} leads in {time.perf_counter() - t:.1f} s")
    return folder


def part_filters(n_leads: int, seed: int) -> None:
    import resource

    import pandas as pd

    from funnel_models import widgets

    folder = _generated(n_leads, seed)
    import funnel_models as fm
    from funnel_models.app._cube import FunnelCube

    print(f"# filter redraw on {n_leads:,} leads ({_load()})")
    phases = {}
    t = time.perf_counter()
    ds = fm.load(folder)
    phases["load"] = time.perf_counter() - t
    t = time.perf_counter()
    spells = fm.spells(ds)
    phases["spells"] = time.perf_counter() - t
    t = time.perf_counter()
    cube = FunnelCube.from_dataset(ds, spells=spells)
    phases["cube"] = time.perf_counter() - t
    t = time.perf_counter()
    findings = fm.find_stalls(ds, spells=spells)
    phases["find_stalls"] = time.perf_counter() - t
    t = time.perf_counter()
    stalled = fm.stalled_leads(ds)
    phases["stalled_leads"] = time.perf_counter() - t
    data = widgets.DashboardData(ds, cube, findings, stalled, cube.as_of, str(folder))
    print("once per page: " + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items()))
    print(
        f"stage events {len(ds.stage_events):,}; spells {len(spells):,}; cube rows: visits "
        f"{len(cube.visits):,}, reach {len(cube.reach):,}, response {len(cube.response):,}"
    )
    t = time.perf_counter()
    dash = widgets.ExecutiveDashboard(data)
    print(f"first draw of the executive panels: {time.perf_counter() - t:.2f} s")

    class _Effect:  # the response-time curve is drawn once, not on a filter change
        summary = pd.DataFrame(
            {"adjusted_rate": [0.6], "adjusted_rate_lower": [0.5], "adjusted_rate_upper": [0.7]},
            index=["<=1h"],
        )

    hand = widgets.HandoffDashboard(data, effect=_Effect())
    selections = [{"period": "All time"}]
    for column in ("source", "region", "industry", "sdr_team"):
        for value in cube.filters.get(column, [])[:3]:
            selections.append({"period": "All time", column: value})
    for period in ("Last 3 months", "Last 12 months"):
        selections.append({"period": period, "source": cube.filters["source"][0]})
    for name, board in (("executive", dash), ("handoff", hand)):
        timings = []
        for sel in selections:
            t = time.perf_counter()
            board.update(sel)
            timings.append(time.perf_counter() - t)
        timings.sort()
        print(
            f"{name}: filter change in the kernel over {len(timings)} selections: median "
            f"{statistics.median(timings):.2f} s, max {timings[-1]:.2f} s"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:,.0f} MB ({_load()})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--visits", type=int, default=3)
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--skip-filters", action="store_true")
    parser.add_argument(
        "--browser-big", action="store_true", help="also open the page on --leads in the browser"
    )
    args = parser.parse_args()
    os.environ["JUPYTER_PATH"] = str(REPO / "funnel_models" / "share" / "jupyter")
    if not args.skip_browser:
        part_browser(args.visits)
    if not args.skip_filters:
        part_filters(args.leads, args.seed)
    if args.browser_big:
        part_browser_big(args.leads, args.seed)


if __name__ == "__main__":
    main()
