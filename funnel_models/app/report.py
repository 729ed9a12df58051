"""A self-contained static report: one HTML file, plotly inlined, no code, opens offline.

For e-mailing to executives: the same figures and sentences as the executive and hand-off
dashboards (all leads, no filters), with plotly.js embedded once so the file needs no network.

Examples
--------
>>> import pandas as pd, funnel_models as fm, tempfile, pathlib
>>> from funnel_models.app.report import write_report
>>> ds = fm.FunnelDataset.from_frames(
...     leads=pd.DataFrame({"lead_id": ["a", "b"], "created_at": ["2026-01-01", "2026-01-02"]}),
...     stage_events=pd.DataFrame(
...         {"lead_id": ["a", "a", "b"], "stage": ["Lead", "MQL", "Lead"],
...          "entered_at": ["2026-01-01", "2026-01-02", "2026-01-02"]}
...     ),
... )
>>> out = pathlib.Path(tempfile.mkdtemp()) / "report.html"
>>> write_report(ds, out).name
'report.html'
>>> "<script src=" in out.read_text()  # plotly.js is inlined, nothing is fetched
False
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from funnel_models import plots

__all__ = ["render_report", "write_report", "write_slides"]


def _figure_div(fig) -> str:
    return (
        "<section class='fm-panel fm-chart'>"
        + fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})
        + "</section>"
    )


def render_report(
    source: Any, as_of: Any = None, *, title: str = "Where do our leads stall?"
) -> str:
    """The report as an HTML string (see :func:`write_report`)."""
    from plotly.offline import get_plotlyjs

    from funnel_models.app.widgets import DashboardData, action_list

    data = DashboardData.from_source(source, as_of)
    cube = data.cube
    table = cube.stage_table()
    parts = [
        plots.findings_html(data.findings, top=5, title="Where leads stall, and who owns it"),
        plots.kpi_tiles_html(cube.kpis(data.months_for("Last 3 months")), period="last 3 months"),
        _figure_div(
            plots.funnel_chart(table, title="The funnel (censoring-aware step conversion, 90 d)")
        ),
        _figure_div(plots.time_in_stage_chart(cube.time_in_stage())),
        _figure_div(plots.cohort_trend(cube.cohorts())),
        _figure_div(plots.sankey_chart(cube.flows())),
        _figure_div(plots.source_quality_chart(cube.by_source())),
        _figure_div(plots.sla_chart(cube.sla_by("sdr_team"))),
        _figure_div(plots.response_mix_chart(cube.response_by("sdr_team"))),
        _figure_div(plots.follow_up_chart(cube.follow_up_by("sdr_team"))),
        _figure_div(plots.reasons_chart(cube.rejection_reasons())),
        action_list(data, top=15),
    ]
    body = "".join(f"<div class='fm-block'>{p}</div>" for p in parts)
    when = data.as_of.strftime("%d %B %Y")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{background:#eef1f5;margin:0;font-family:'Liberation Sans',Arial,sans-serif;"
        "color:#1f2a37}main{max-width:1200px;margin:0 auto;padding:28px 32px}"
        "h1{font-size:34px;margin:0 0 4px 0}.fm-meta{color:#5b6776;font-size:18px;margin:0 0 20px 0}"
        ".fm-block{margin:0 0 18px 0}.fm-chart{background:#fff;border-radius:10px;padding:8px}"
        "</style>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body><main>"
        f"<h1>{html.escape(title)}</h1><p class='fm-meta'>{len(data.dataset.leads):,} leads, "
        f"data as of {when}. Leads still open are counted as open, not as lost.</p>"
        f"{body}</main></body></html>"
    )


def write_report(source: Any, out: str | Path, as_of: Any = None) -> Path:
    """Write the static report for ``source`` to ``out`` (an ``.html`` file); returns the path.

    Parameters
    ----------
    source : str, Path or FunnelDataset
        A data set folder, database URL or loaded dataset.
    out : str or Path
        The HTML file to write (its folder is created).
    as_of : date-like, optional
        Snapshot date; default: the latest stage event.
    """
    path = Path(out)
    page = render_report(source, as_of)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def write_slides(
    source: Any, out: str | Path, as_of: Any = None, *, notebook: Path | None = None
) -> Path:
    """Run the workshop notebook on ``source`` and write it as reveal.js slides that open offline.

    The slides use the ``funnel_models_slides`` nbconvert template (reveal.js inlined, no CDN)
    and get plotly.js inlined once; code cells are hidden. Live widgets (the what-if sliders)
    need a kernel and are left out; the notebook shows the scenario's numbers as a table.

    Parameters
    ----------
    source : str or Path
        A data set folder or database URL (the notebook reads it through
        ``FUNNEL_MODELS_SOURCE``).
    out : str or Path
        The ``.html`` file to write.
    notebook : Path, optional
        Default: the shipped ``workshop_smarketing.ipynb`` (package data).
    """
    import os

    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from nbconvert import SlidesExporter
    from plotly.offline import get_plotlyjs

    from funnel_models._errors import FunnelDataError
    from funnel_models.app.voila import TEMPLATE_ROOT, notebook_path
    from funnel_models.core.redaction import redact

    notebook = Path(notebook or notebook_path("workshop"))
    if not notebook.exists():
        raise FileNotFoundError(2, "workshop notebook not found", str(notebook))
    nb = nbformat.read(notebook, as_version=4)
    saved = {k: os.environ.get(k) for k in ("FUNNEL_MODELS_SOURCE", "FUNNEL_MODELS_AS_OF")}
    # the kernel runs in the notebook's folder: a relative path must not change meaning
    source = source if "://" in str(source) else Path(source).resolve()
    os.environ["FUNNEL_MODELS_SOURCE"] = str(source)
    if as_of is not None:
        os.environ["FUNNEL_MODELS_AS_OF"] = str(as_of)
    else:
        os.environ.pop("FUNNEL_MODELS_AS_OF", None)
    try:
        client = NotebookClient(
            nb,
            kernel_name="python3",
            timeout=900,
            store_widget_state=False,
            resources={"metadata": {"path": str(notebook.parent)}},
        )
        try:
            client.execute()
        except CellExecutionError as exc:
            last = [line for line in str(exc).strip().splitlines() if line.strip()][-1]
            raise FunnelDataError(
                f"the workshop notebook failed on {redact(source)}: {redact(last)} "
                f"(run it in JupyterLab to see the cell: {notebook})"
            ) from None
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    exporter = SlidesExporter(
        template_name="funnel_models_slides",
        extra_template_basedirs=[str(TEMPLATE_ROOT / "nbconvert" / "templates")],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": notebook.stem}})
    body = body.replace(
        "</head>", f"<script type='text/javascript'>{get_plotlyjs()}</script></head>", 1
    )
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path
