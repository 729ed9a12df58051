"""ipywidgets panels that the dashboards and the workshop notebook compose.

Everything a dashboard shows is computed here from one :class:`DashboardData` (the data set
read once, its stage visits aggregated once into a private cube, the stall findings found
once); a filter change only filters those aggregates in pandas and redraws.

Figures are drawn by :class:`FigurePanel`, an :class:`ipywidgets.Output` holding the figure
as plotly's own MIME bundle (``application/vnd.plotly.v1+json``). The page draws it with the
plotly renderer that JupyterLab/Voila serve as a static, cacheable file, so no 5 MB plotly.js
bundle travels through the kernel's websocket per chart (as it does for a ``FigureWidget``),
and a redraw sends only the figure's JSON.

Examples
--------
>>> import plotly.graph_objects as go
>>> from funnel_models.app.widgets import FigurePanel
>>> panel = FigurePanel(go.Figure(go.Bar(x=[1], y=[2])))
>>> sorted(panel.outputs[0]["data"])
['application/vnd.plotly.v1+json', 'text/plain']
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd

from funnel_models import plots
from funnel_models.app._cube import FILTER_COLUMNS, FunnelCube

__all__ = [
    "DashboardData",
    "ExecutiveDashboard",
    "FigurePanel",
    "Filters",
    "HandoffDashboard",
    "WhatIfPanel",
    "action_list",
    "action_panel",
    "executive_dashboard",
    "findings_panel",
    "handoff_dashboard",
    "kpi_panel",
    "message",
    "what_if_panel",
]

PLOTLY_MIME = "application/vnd.plotly.v1+json"
PERIODS = {"All time": None, "Last 3 months": 3, "Last 6 months": 6, "Last 12 months": 12}
_FILTER_LABELS = {
    "source": "Channel",
    "region": "Region",
    "industry": "Industry",
    "sdr_team": "Team",
}


def figure_bundle(fig) -> dict:
    """A display_data output holding ``fig`` as plotly's MIME bundle (no plotly.js inside)."""
    return {
        "output_type": "display_data",
        "data": {
            PLOTLY_MIME: json.loads(fig.to_json()),
            "text/plain": f"<{fig.layout.title.text}>",
        },
        "metadata": {},
    }


class FigurePanel(widgets.Output):
    """An output panel showing one plotly figure; :meth:`show` replaces it in place."""

    def __init__(self, fig=None, **kwargs):
        kwargs.setdefault("layout", widgets.Layout(width="100%"))
        super().__init__(**kwargs)
        self.add_class("fm-figure")
        if fig is not None:
            self.show(fig)

    def show(self, fig) -> None:
        """Draw ``fig`` here, replacing what was shown."""
        self.outputs = (figure_bundle(fig),)


def message(text: str, *, title: str = "This dashboard cannot be shown") -> widgets.HTML:
    """A plain in-page message panel (used for an empty or unreadable source)."""
    return widgets.HTML(plots.message_html(text, title=title))


@dataclass
class DashboardData:
    """What a dashboard needs, computed once per page: dataset, cube, findings, act-now list.

    Build it with :meth:`from_source`. ``findings`` come from :func:`funnel_models.find_stalls`
    on all leads; the cube answers every filtered question.
    """

    dataset: Any
    cube: FunnelCube
    findings: pd.DataFrame
    stalled: pd.DataFrame
    as_of: pd.Timestamp
    source: str = ""

    @classmethod
    def from_source(cls, source: Any, as_of: Any = None) -> DashboardData:
        """Load ``source`` (folder, database URL or dataset) and compute the aggregates.

        Raises
        ------
        FunnelDataError
            When the source is unreadable or holds no leads.
        """
        key = _cache_key(source, as_of)
        cached = _cache_read(key) if key else None
        if isinstance(cached, cls):
            return cached
        data = cls._build(source, as_of)
        if key:
            _cache_write(key, data)
        return data

    @classmethod
    def _build(cls, source: Any, as_of: Any = None) -> DashboardData:
        import funnel_models as fm

        dataset = source if isinstance(source, fm.FunnelDataset) else fm.load(source)
        if len(dataset.leads) == 0 or len(dataset.stage_events) == 0:
            raise fm.FunnelDataError(
                f"{source} holds no leads or no stage events; point the dashboard at a data set "
                "folder or database with leads and stage_events (see data/README.md)"
            )
        spells = fm.spells(dataset, as_of=as_of)
        cube = FunnelCube.from_dataset(dataset, as_of=as_of, spells=spells)
        findings = fm.find_stalls(dataset, as_of=as_of, spells=spells)
        stalled = fm.stalled_leads(dataset, as_of=as_of)
        return cls(
            dataset=dataset,
            cube=cube,
            findings=findings,
            stalled=stalled,
            as_of=cube.as_of,
            source=str(getattr(dataset, "source", source)),
        )

    def months_for(self, period: str) -> tuple[str, str] | None:
        """The month range of a period label of :data:`PERIODS`, ending at ``as_of``."""
        n = PERIODS.get(period)
        if n is None:
            return None
        last = pd.Period(self.as_of.tz_convert(None), freq="M")
        return (str(last - (n - 1)), str(last))

    def findings_for(self, selection: Mapping[str, str | None]) -> pd.DataFrame:
        """Findings consistent with a filter selection (whole-funnel findings always are)."""
        active = {k: v for k, v in selection.items() if v not in (None, "", "All")}
        if not active or self.findings.empty:
            return self.findings

        def fits(segment) -> bool:
            segment = segment if isinstance(segment, Mapping) else {}
            return all(str(segment[k]) == str(v) for k, v in active.items() if k in segment)

        return self.findings.loc[self.findings["segment"].map(fits)]


# Aggregates of a folder source, cached across kernels. Every visitor's kernel (and every
# kernel Voila preheats for the next visitor, while the current page is still drawing on the
# same cores) would otherwise load the same files and build the same aggregates again: about
# 3 s of CPU on the 10,000-lead sample. The key covers the folder (each file's name, size and
# mtime), ``as_of`` and the funnel_models code, so a changed file or a changed package builds
# anew. Folders only (a database may change under the same URL). The cache lives in a
# directory private to the user (pickles are only read from there); any cache error falls
# back to building.
_CACHE_KEEP = 8
_CACHE_MAX_BYTES = 512 * 1024 * 1024


def _cache_dir():
    import os
    from pathlib import Path

    root = os.environ.get("FUNNEL_MODELS_CACHE_DIR")
    if root is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "funnel_models", "dashboard")
    return Path(root)


def _cache_key(source: Any, as_of: Any) -> str | None:
    import hashlib
    import os
    from pathlib import Path

    if os.environ.get("FUNNEL_MODELS_CACHE_DIR") == "":  # empty: caching off
        return None
    try:
        if not isinstance(source, (str, os.PathLike)) or "://" in str(source):
            return None
        folder = Path(source).resolve()
        if not folder.is_dir():
            return None
        files = sorted(
            (e.name, e.stat().st_size, e.stat().st_mtime_ns)
            for e in os.scandir(folder)
            if e.is_file()
        )
        package = Path(__file__).resolve().parents[1]
        code = sorted((str(p), p.stat().st_mtime_ns) for p in package.rglob("*.py"))
        blob = json.dumps(
            [str(folder), files, str(as_of), code, pd.__version__, np.__version__]
        ).encode()
        return hashlib.sha256(blob).hexdigest()
    except OSError:
        return None


def _cache_read(key: str):
    import os
    import pickle

    try:
        folder = _cache_dir()
        st = folder.stat()
        if st.st_uid != os.getuid() or st.st_mode & 0o077:
            return None  # not ours, or others can write into it: do not unpickle
        with open(folder / f"{key}.pickle", "rb") as fh:
            return pickle.load(fh)
    except Exception:
        return None


def _cache_write(key: str, data) -> None:
    import os
    import pickle
    import tempfile

    try:
        folder = _cache_dir()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(folder, 0o700)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:  # streamed: no second copy of the data in memory
                pickle.dump(data, fh, protocol=pickle.HIGHEST_PROTOCOL)
            if os.path.getsize(tmp) > _CACHE_MAX_BYTES:
                return
            os.replace(tmp, folder / f"{key}.pickle")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        entries = sorted(folder.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[_CACHE_KEEP:]:
            old.unlink(missing_ok=True)
    except Exception:
        return


class Filters(widgets.HBox):
    """The filter bar: period plus one dropdown per lead attribute the data has.

    ``value`` is a dict (``{"period": "Last 3 months", "source": "All", ...}``); callbacks
    registered with :meth:`on_change` receive it.
    """

    def __init__(self, cube: FunnelCube, *, period: str = "All time", columns=FILTER_COLUMNS):
        style = {"description_width": "initial"}
        self.period = widgets.Dropdown(
            options=list(PERIODS), value=period, description="Period", style=style
        )
        self.dropdowns: dict[str, widgets.Dropdown] = {}
        for column in columns:
            if column in cube.filters:
                self.dropdowns[column] = widgets.Dropdown(
                    options=["All", *cube.filters[column]],
                    value="All",
                    description=_FILTER_LABELS.get(column, column),
                    style=style,
                    layout=widgets.Layout(width="auto"),
                )
        super().__init__(
            [self.period, *self.dropdowns.values()],
            layout=widgets.Layout(flex_flow="row wrap", grid_gap="12px", padding="10px 16px"),
        )
        self.add_class("fm-filters")

    @property
    def value(self) -> dict[str, str]:
        return {"period": self.period.value, **{k: d.value for k, d in self.dropdowns.items()}}

    def on_change(self, callback: Callable[[dict[str, str]], None]) -> None:
        for control in (self.period, *self.dropdowns.values()):
            control.observe(lambda _change: callback(self.value), names="value")


def _selection_sentence(table: pd.DataFrame) -> str:
    steps = table["step_conversion"].iloc[1:-1].dropna()  # between progression stages
    if steps.empty or table["entered"].iloc[0] == 0:
        return "No leads in this selection."
    stages = list(table.index)
    worst = steps.idxmin()
    before = stages[stages.index(worst) - 1]
    horizon = table.attrs.get("horizon_days", 90)
    return (
        f"In this selection, {int(table['entered'].iloc[0]):,} leads entered; the weakest step is "
        f"<b>{html.escape(before)} → {html.escape(worst)}</b>: {plots._percent(steps[worst])} "
        f"moved on within {horizon:.0f} days (owned by {html.escape(table.loc[worst, 'owner'])})."
    )


def _headline_html(data: DashboardData, table: pd.DataFrame) -> str:
    top = data.findings["summary"].iloc[0] if len(data.findings) else "No stall stands out."
    when = data.as_of.strftime("%d %b %Y")
    return (
        "<div class='fm-headline'><h2>" + html.escape(str(top)) + "</h2>"
        f"<p class='fm-sub'>{_selection_sentence(table)} "
        f"<span class='fm-asof'>Data as of {when}.</span></p></div>"
        "<style>.fm-headline{background:#fff;border-radius:10px;padding:20px 26px;"
        "font-family:'Liberation Sans',Arial,sans-serif;color:#1f2a37}"
        ".fm-headline h2{font-size:27px;font-weight:600;line-height:1.35;margin:0 0 10px 0}"
        ".fm-sub{font-size:19px;margin:0}.fm-asof{color:#5b6776}</style>"
    )


def _grid(*children) -> widgets.GridBox:
    return widgets.GridBox(
        list(children),
        layout=widgets.Layout(grid_template_columns="repeat(2, minmax(0, 1fr))", grid_gap="18px"),
    )


class ExecutiveDashboard(widgets.VBox):
    """ "Where do our leads stall?": KPIs, funnel, top stalls, time vs SLA, Sankey, cohorts."""

    def __init__(self, data: DashboardData, *, period: str = "Last 12 months"):
        self.data = data
        self.filters = Filters(data.cube, period=period)
        self.headline = widgets.HTML()
        self.kpis = widgets.HTML()
        self.findings = widgets.HTML()
        self.funnel = FigurePanel()
        self.time = FigurePanel()
        self.cohorts = FigurePanel()
        self.sankey = FigurePanel()
        super().__init__(
            [
                self.filters,
                self.headline,
                self.kpis,
                self.funnel,
                self.findings,
                _grid(self.time, self.cohorts),
                self.sankey,
            ],
            layout=widgets.Layout(grid_gap="18px"),
        )
        self.add_class("fm-dashboard")
        self.filters.on_change(self.update)
        self.update(self.filters.value)

    def update(self, selection: Mapping[str, str]) -> None:
        """Redraw every panel for a filter selection (from the cached aggregates only)."""
        selection = dict(selection)
        period = selection.pop("period", "All time")
        months = self.data.months_for(period)
        cube = self.data.cube.select(months=months, **selection)
        table = cube.stage_table()
        self.headline.value = _headline_html(self.data, table)
        kpis = self.data.cube.select(**selection).kpis(months)
        self.kpis.value = plots.kpi_tiles_html(kpis, period=period.lower())
        self.findings.value = plots.findings_html(
            self.data.findings_for(selection), title="Top stalls, and who owns them"
        )
        self.funnel.show(
            plots.funnel_chart(table, title="The funnel (censoring-aware step conversion, 90 d)")
        )
        self.time.show(plots.time_in_stage_chart(cube.time_in_stage()))
        self.cohorts.show(plots.cohort_trend(self.data.cube.select(**selection).cohorts()))
        self.sankey.show(plots.sankey_chart(cube.flows()))


class HandoffDashboard(widgets.VBox):
    """The marketing–sales scorecard: each side's numbers, MQLs in limbo, response effect."""

    def __init__(self, data: DashboardData, *, effect: Any = None, period: str = "All time"):
        self.data = data
        self.filters = Filters(data.cube, period=period, columns=("region", "industry", "sdr_team"))
        self.headline = widgets.HTML()
        self.limbo = widgets.HTML()
        self.sources = FigurePanel()
        self.sla = FigurePanel()
        self.response = FigurePanel()
        self.reasons = FigurePanel()
        self.follow_up = FigurePanel()
        self.effect = FigurePanel()
        if effect is None:
            import funnel_models as fm

            effect = fm.ResponseTimeEffect(n_bootstrap=100, random_state=0).fit(
                data.dataset, as_of=data.as_of
            )
        self.effect_model = effect
        self.effect.show(plots.response_curve(effect.summary_))
        super().__init__(
            [
                self.filters,
                self.headline,
                _grid(self.sources, self.sla),
                _grid(self.response, self.follow_up),
                _grid(self.reasons, self.effect),
                self.limbo,
            ],
            layout=widgets.Layout(grid_gap="18px"),
        )
        self.add_class("fm-dashboard")
        self.filters.on_change(self.update)
        self.update(self.filters.value)

    def update(self, selection: Mapping[str, str]) -> None:
        """Redraw every filtered panel from the cached aggregates."""
        selection = dict(selection)
        period = selection.pop("period", "All time")
        cube = self.data.cube.select(months=self.data.months_for(period), **selection)
        findings = self.data.findings_for(selection)
        if len(findings):  # the MQL -> SAL hand-off first, then SAL -> SQL; rank order kept
            order = findings["from_stage"].map({"MQL": 0, "SAL": 1})
            handoff = findings.loc[order.notna()].assign(_o=order).sort_values("_o", kind="stable")
        else:
            handoff = findings
        top = handoff["summary"].iloc[0] if len(handoff) else "No hand-off stall stands out."
        self.headline.value = (
            "<div class='fm-headline'><h2>" + html.escape(str(top)) + "</h2>"
            f"<p class='fm-sub'>{cube.in_limbo():,} MQLs in this selection are neither accepted "
            "nor rejected past the SLA.</p></div>"
            "<style>.fm-headline{background:#fff;border-radius:10px;padding:20px 26px;"
            "font-family:'Liberation Sans',Arial,sans-serif;color:#1f2a37}"
            ".fm-headline h2{font-size:27px;font-weight:600;line-height:1.35;margin:0 0 10px 0}"
            ".fm-sub{font-size:19px;margin:0}</style>"
            + plots.findings_html(handoff.iloc[1:], top=3, title="Also at the hand-off")
        )
        sla = cube.sla_by("sdr_team")
        limbo = cube.in_limbo()
        self.sources.show(plots.source_quality_chart(cube.by_source()))
        self.sla.show(plots.sla_chart(sla))
        self.response.show(plots.response_mix_chart(cube.response_by("sdr_team")))
        self.reasons.show(plots.reasons_chart(cube.rejection_reasons()))
        self.follow_up.show(plots.follow_up_chart(cube.follow_up_by("sdr_team")))
        self.limbo.value = action_list(
            self.data, stage="MQL", selection=selection, limbo=limbo, title="MQLs in limbo"
        )


def action_list(
    data: DashboardData,
    *,
    stage: str | None = None,
    selection: Mapping[str, str] | None = None,
    limbo: int | None = None,
    top: int = 10,
    title: str = "Act now",
) -> str:
    """HTML list of open leads stalled past their SLA (or p90), longest overdue first."""
    stalled = data.stalled
    if stage is not None and len(stalled):
        stalled = stalled.loc[stalled["stage"] == stage]
    active = {k: v for k, v in (selection or {}).items() if v not in (None, "", "All")}
    if active and len(stalled):
        attrs = data.dataset.leads.set_index("lead_id")
        keep = np.ones(len(stalled), dtype=bool)
        for column, value in active.items():
            if column in attrs.columns:
                keep &= (
                    (attrs[column].reindex(stalled.index).astype("string") == value)
                    .fillna(False)
                    .to_numpy(bool)
                )
        stalled = stalled.loc[keep]
    count = len(stalled) if limbo is None else limbo
    what = f"{count:,} {'MQLs are' if stage == 'MQL' else 'leads are'} still open past the SLA"
    rows = "".join(
        f"<tr><td>{html.escape(str(lead))}</td><td>{html.escape(str(r['stage']))} → "
        f"{html.escape(str(r['waiting_for']))}</td><td>{r['days_in_stage']:.1f}</td>"
        f"<td>{html.escape(str(r.get('owner', '')))}</td>"
        f"<td>{html.escape(str(r.get('owner_id', '') if pd.notna(r.get('owner_id')) else ''))}</td></tr>"
        for lead, r in stalled.head(top).iterrows()
    )
    table = (
        "<table class='fm-table'><thead><tr><th>Lead</th><th>Waiting for</th><th>Days waiting</th>"
        f"<th>Owner</th><th>Stage entered by</th></tr></thead><tbody>{rows}</tbody></table>"
        if rows
        else "<p>None right now.</p>"
    )
    return (
        f"{plots._CARD_CSS}<div class='fm-card fm-actions'><h3>{html.escape(title)}: {what}</h3>"
        f"{table}</div><style>.fm-actions .fm-table{{border-collapse:collapse;width:100%;"
        "font-size:18px}.fm-actions th,.fm-actions td{padding:6px 12px;text-align:left;"
        "border-bottom:1px solid #e3e7ed}</style>"
    )


class WhatIfPanel(widgets.VBox):
    """What-if simulator: sliders for the MQL SLA, the acceptance rate and a stage conversion,
    projecting won deals and revenue per year with intervals (:meth:`FunnelMarkov.what_if`)."""

    def __init__(
        self,
        data: DashboardData,
        *,
        markov: Any = None,
        stage: tuple[str, str] = ("SQL", "Opportunity"),
    ):
        import funnel_models as fm

        self.data = data
        self.markov = markov or fm.FunnelMarkov(n_bootstrap=100, random_state=0).fit(
            data.dataset, as_of=data.as_of
        )
        probs = self.markov.transitions_["probability"]
        acceptance = float(probs.get(("MQL", "SAL"), 0.5))
        conversion = float(probs.get(stage, 0.5))
        self.stage = stage
        style = {"description_width": "16em"}
        wide = widgets.Layout(width="720px")
        self.sla = widgets.SelectionSlider(
            options=[
                ("as today", 0),
                ("4 h", 4),
                ("8 h", 8),
                ("24 h", 24),
                ("48 h", 48),
                ("5 days", 120),
            ],
            value=0,
            description="MQLs accepted or rejected within",
            style=style,
            layout=wide,
            continuous_update=False,
        )
        self.acceptance = widgets.FloatSlider(
            value=acceptance,
            min=0.05,
            max=0.99,
            step=0.01,
            readout_format=".0%",
            description="Acceptance rate (MQL → SAL)",
            style=style,
            layout=wide,
            continuous_update=False,
        )
        self.conversion = widgets.FloatSlider(
            value=conversion,
            min=0.05,
            max=0.99,
            step=0.01,
            readout_format=".0%",
            description=f"Conversion {stage[0]} → {stage[1]}",
            style=style,
            layout=wide,
            continuous_update=False,
        )
        self.summary = widgets.HTML()
        self.wins = FigurePanel()
        self.revenue = FigurePanel()
        super().__init__(
            [
                self.sla,
                self.acceptance,
                self.conversion,
                self.summary,
                _grid(self.wins, self.revenue),
            ],
            layout=widgets.Layout(grid_gap="10px"),
        )
        self.add_class("fm-whatif")
        for control in (self.sla, self.acceptance, self.conversion):
            control.observe(lambda _c: self.update(), names="value")
        self.update()

    def scenario(self) -> pd.DataFrame:
        """The what-if table for the sliders' current values."""
        # the sliders start at the fitted probabilities: unchanged, the scenario is today
        probabilities = {("MQL", "SAL"): self.acceptance.value, self.stage: self.conversion.value}
        within = {"MQL": float(self.sla.value)} if self.sla.value else None
        return self.markov.what_if(probabilities, within_hours=within)

    def update(self) -> None:
        table = self.scenario()
        won = table.loc["won_per_year"]
        revenue = table.loc["revenue_per_year"]
        self.summary.value = (
            f"{plots._CARD_CSS}<div class='fm-card'><h3>Projected: <b>{won['scenario']:,.0f}</b> won deals "
            f"a year ({won['change']:+,.0f}; 95% interval {won['change_low']:+,.0f} to "
            f"{won['change_high']:+,.0f}) and <b>{plots._money(revenue['scenario'])}</b> revenue "
            f"({plots._money(revenue['change'])} change)</h3></div>"
        )
        self.wins.show(plots.what_if_chart(table, measure="won_per_year"))
        self.revenue.show(plots.what_if_chart(table, measure="revenue_per_year"))


def _guarded(build: Callable[[], widgets.Widget], source: Any) -> widgets.Widget:
    """Build a dashboard; on any failure show a plain message (executives never see a
    traceback; the full one goes to the kernel's log)."""
    import sys
    import traceback

    from funnel_models._errors import FunnelConfigError, FunnelDataError
    from funnel_models.core.redaction import redact

    hint = (
        "Point the dashboard at a data set folder or database (funnel-models dashboard "
        "SOURCE), or run `funnel-models validate SOURCE` to see what is wrong with it."
    )
    try:
        return build()
    except (
        FunnelDataError,
        FunnelConfigError,
        FileNotFoundError,
        NotADirectoryError,
        PermissionError,
        ValueError,
    ) as exc:
        return message(redact(f"Could not read the data at {source}: {exc}. {hint}"))
    except Exception as exc:  # the page must stay readable
        print(redact(traceback.format_exc()), file=sys.stderr)
        return message(
            redact(
                f"The data at {source} could be read, but the dashboard could not be built "
                f"({type(exc).__name__}: {exc}). {hint}"
            )
        )


def executive_dashboard(
    source: Any, as_of: Any = None, *, period: str = "Last 12 months"
) -> widgets.Widget:
    """The executive dashboard for ``source``; a plain message panel if it cannot be read.

    Examples
    --------
    >>> from funnel_models.app.widgets import executive_dashboard
    >>> "cannot be shown" in executive_dashboard("/no/such/folder").value
    True
    """
    return _guarded(
        lambda: ExecutiveDashboard(DashboardData.from_source(source, as_of), period=period), source
    )


def handoff_dashboard(source: Any, as_of: Any = None) -> widgets.Widget:
    """The hand-off scorecard for ``source``; a plain message panel if it cannot be read."""
    return _guarded(lambda: HandoffDashboard(DashboardData.from_source(source, as_of)), source)


def what_if_panel(data: DashboardData) -> WhatIfPanel:
    """The what-if simulator for the workshop notebook."""
    return WhatIfPanel(data)


def kpi_panel(data: DashboardData, period: str = "Last 3 months"):
    """Key-figure tiles for ``period`` (a label of :data:`PERIODS`) against the one before.

    Returned as :class:`IPython.display.HTML` (static: kept by nbconvert exports too).
    """
    from IPython.display import HTML

    kpis = data.cube.kpis(data.months_for(period))
    return HTML(plots.kpi_tiles_html(kpis, period=period.lower()))


def findings_panel(data: DashboardData, *, top: int = 5, title: str = "Where leads stall"):
    """The top stall findings as plain sentences, each tagged with the side that owns it."""
    from IPython.display import HTML

    return HTML(plots.findings_html(data.findings, top=top, title=title))


def action_panel(data: DashboardData, *, top: int = 15):
    """The act-now list: open leads past their SLA (or p90), longest overdue first."""
    from IPython.display import HTML

    return HTML(action_list(data, top=top))
