"""Plotly figures (and the words around them) built from funnel tables.

Every function takes a result table (for example :func:`funnel_models.stage_counts`) and returns
a :class:`plotly.graph_objects.Figure` or a string; nothing here calls ``.show()`` or touches
the data set. All figures share one theme, :data:`TEMPLATE` (registered with plotly as
``"funnel_models"``): large type that stays readable on a projector, marketing stages in blue and
sales stages in orange, so the hand-off is visible at a glance.

In a dashboard, wrap a figure with :func:`as_widget` so later filters can update it in place.

Examples
--------
>>> import pandas as pd
>>> from funnel_models import plots
>>> table = pd.DataFrame(
...     {
...         "entered": [1000, 400, 150, 90, 40, 12],
...         "owner": ["marketing", "marketing", "sales", "sales", "sales", "sales"],
...     },
...     index=pd.Index(["Lead", "MQL", "SAL", "SQL", "Opportunity", "Won"], name="stage"),
... )
>>> fig = plots.funnel_chart(table)
>>> fig.data[0].type
'funnel'
>>> list(fig.data[0].y)
['Lead', 'MQL', 'SAL', 'SQL', 'Opportunity', 'Won']
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

__all__ = [
    "OWNER_COLORS",
    "TEMPLATE",
    "as_widget",
    "cohort_trend",
    "figure_display",
    "findings_html",
    "follow_up_chart",
    "funnel_chart",
    "headline",
    "kpi_tiles_html",
    "message_html",
    "reasons_chart",
    "response_curve",
    "response_mix_chart",
    "sankey_chart",
    "sla_chart",
    "source_quality_chart",
    "stage_table",
    "stage_table_html",
    "time_in_stage_chart",
    "what_if_chart",
]

#: Colour of each owning team; the hand-off from marketing to sales shows as a change of colour.
OWNER_COLORS: Mapping[str, str] = {
    "marketing": "#2f6db5",
    "sales": "#e07b28",
    "either": "#7a8794",
}
_KEY_STAGES = {"MQL", "SAL", "Opportunity", "Won"}
_OWNER_FILLS = {"marketing": "#e3edf8", "sales": "#fcefe3"}
_INK = "#1f2a37"
_MUTED = "#5b6776"
_GRID = "#e3e7ed"
_FONT = '"Liberation Sans", "Helvetica Neue", Arial, sans-serif'

#: The one theme of every funnel_models figure: projector-sized type, quiet axes, white paper.
TEMPLATE = go.layout.Template(
    layout=go.Layout(
        font={"family": _FONT, "size": 18, "color": _INK},
        title={"font": {"size": 26, "color": _INK}, "x": 0.0, "xanchor": "left"},
        paper_bgcolor="#ffffff",
        plot_bgcolor="#ffffff",
        colorway=[OWNER_COLORS["marketing"], OWNER_COLORS["sales"], "#3a9a5b", "#8e5fb0"],
        margin={"l": 24, "r": 24, "t": 96, "b": 32},
        hoverlabel={"font": {"size": 16, "family": _FONT}},
        xaxis={"gridcolor": _GRID, "zeroline": False, "automargin": True},
        yaxis={"gridcolor": _GRID, "zeroline": False, "automargin": True},
        legend={"font": {"size": 16}},
    )
)
pio.templates["funnel_models"] = TEMPLATE


def _percent(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.0%}" if value >= 0.1 or value == 0 else f"{value:.1%}"


def _owner_color(owner: object) -> str:
    return OWNER_COLORS.get(str(owner).lower(), OWNER_COLORS["either"])


def _with_step_conversion(table: pd.DataFrame) -> pd.DataFrame:
    """Check the columns and fill ``step_conversion`` / ``owner`` when a table lacks them."""
    if "entered" not in table.columns:
        found = ", ".join(map(str, table.columns)) or "none"
        raise ValueError(
            f"funnel table needs an 'entered' column (leads entering each stage); found: {found}. "
            "Pass the result of funnel_models.stage_counts(dataset)."
        )
    out = table.copy()
    if "step_conversion" not in out.columns:
        previous = out["entered"].shift(1)
        out["step_conversion"] = out["entered"] / previous.where(previous > 0)
    if "owner" not in out.columns:
        out["owner"] = "either"
    return out


def funnel_chart(table: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Horizontal funnel: how many leads entered each stage, with the step conversion as text.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per stage, in funnel order, indexed by stage name, with an ``entered`` column
        (distinct leads that entered the stage). ``step_conversion`` (entered / entered of the
        previous stage) and ``owner`` (``marketing``/``sales``/``either``) are used when present;
        :func:`funnel_models.stage_counts` returns exactly this.
    title : str, optional
        Figure title; default "Where leads stall".

    Returns
    -------
    plotly.graph_objects.Figure
        One ``funnel`` trace; bars coloured by the owning team, each labelled
        "4,210 · 42% of MQL".

    Examples
    --------
    >>> import pandas as pd
    >>> from funnel_models.viz.plots import funnel_chart
    >>> table = pd.DataFrame(
    ...     {"entered": [1000, 400, 150], "owner": ["marketing", "marketing", "sales"]},
    ...     index=pd.Index(["Lead", "MQL", "SAL"], name="stage"),
    ... )
    >>> fig = funnel_chart(table)
    >>> list(fig.data[0].text)
    ['1,000', '400 · 40% of Lead', '150 · 38% of MQL']
    """
    data = _with_step_conversion(table)
    stages = [str(stage) for stage in data.index]
    entered = [int(value) for value in data["entered"].fillna(0)]
    labels = []
    for i, (count, step) in enumerate(zip(entered, data["step_conversion"], strict=True)):
        if i == 0 or pd.isna(step):
            labels.append(f"{count:,}")
        else:
            labels.append(f"{count:,} · {_percent(float(step))} of {stages[i - 1]}")
    colors = [_owner_color(owner) for owner in data["owner"]]

    fig = go.Figure(
        go.Funnel(
            y=stages,
            x=entered,
            text=labels,
            textinfo="text",
            textposition="outside",
            textfont={"size": 20, "color": _INK},
            marker={"color": colors, "line": {"width": 0}},
            connector={"fillcolor": "#dfe5ee", "line": {"width": 0}},
            hovertemplate="<b>%{y}</b><br>%{x:,} leads entered<extra></extra>",
            cliponaxis=False,
        )
    )
    subtitle = (
        f"<span style='color:{OWNER_COLORS['marketing']}'>■ marketing</span>"
        f"   <span style='color:{OWNER_COLORS['sales']}'>■ sales</span>"
        f"   <span style='color:{_MUTED}'>leads that entered each stage</span>"
    )
    fig.update_layout(
        template=TEMPLATE,
        title={
            "text": f"{html.escape(title or 'Where leads stall')}<br>"
            f"<span style='font-size:16px'>{subtitle}</span>"
        },
        height=110 + 70 * len(stages),
        showlegend=False,
        yaxis={"tickfont": {"size": 20}, "categoryorder": "array", "categoryarray": stages},
        margin={"l": 24, "r": 24, "t": 100, "b": 24},
    )
    return fig


def stage_table(table: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """The stage table as a figure: entered, step conversion, conversion from the top, owner.

    Parameters
    ----------
    table : pandas.DataFrame
        As for :func:`funnel_chart`; ``conversion_from_top`` is shown when present.
    title : str, optional
        Figure title; default "Stage by stage".

    Returns
    -------
    plotly.graph_objects.Figure
        One ``table`` trace with one row per stage.

    Examples
    --------
    >>> import pandas as pd
    >>> from funnel_models.viz.plots import stage_table
    >>> table = pd.DataFrame(
    ...     {"entered": [1000, 400]}, index=pd.Index(["Lead", "MQL"], name="stage")
    ... )
    >>> stage_table(table).data[0].cells.values[1]
    ['1,000', '400']
    """
    data = _with_step_conversion(table)
    if "conversion_from_top" not in data.columns:
        top = data["entered"].iloc[0] if len(data) else float("nan")
        data["conversion_from_top"] = data["entered"] / top if top else float("nan")
    stages = [str(stage) for stage in data.index]
    columns = {
        "Stage": stages,
        "Leads entered": [f"{int(v):,}" for v in data["entered"].fillna(0)],
        "From previous stage": [_percent(v) for v in data["step_conversion"]],
        "From first stage": [_percent(v) for v in data["conversion_from_top"]],
        "Owner": [str(v).capitalize() for v in data["owner"]],
    }
    owner_fill = [_OWNER_FILLS.get(str(owner).lower(), "#ffffff") for owner in data["owner"]]
    fig = go.Figure(
        go.Table(
            columnwidth=[1.3, 1.2, 1.4, 1.3, 1.0],
            header={
                "values": [f"<b>{name}</b>" for name in columns],
                "fill": {"color": _INK},
                "font": {"color": "#ffffff", "size": 18, "family": _FONT},
                "align": ["left", "right", "right", "right", "left"],
                "height": 40,
            },
            cells={
                "values": list(columns.values()),
                "fill": {"color": [owner_fill, "#ffffff", "#ffffff", "#ffffff", owner_fill]},
                "font": {"color": _INK, "size": 18, "family": _FONT},
                "align": ["left", "right", "right", "right", "left"],
                "line": {"color": _GRID},
                "height": 36,
            },
        )
    )
    fig.update_layout(
        template=TEMPLATE,
        title={"text": html.escape(title or "Stage by stage")},
        height=150 + 37 * len(stages),
        margin={"l": 24, "r": 24, "t": 70, "b": 10},
    )
    return fig


def stage_table_html(table: pd.DataFrame) -> str:
    """The stage table as an HTML fragment: the same columns as :func:`stage_table`.

    Dashboards use this rather than a plotly table: text stays crisp and selectable, and it
    costs the page no second plotly widget.

    Examples
    --------
    >>> import pandas as pd
    >>> from funnel_models.viz.plots import stage_table_html
    >>> table = pd.DataFrame(
    ...     {"entered": [1000, 400]}, index=pd.Index(["Lead", "MQL"], name="stage")
    ... )
    >>> "<td>1,000</td>" in stage_table_html(table)
    True
    """
    data = _with_step_conversion(table)
    if "conversion_from_top" not in data.columns:
        top = data["entered"].iloc[0] if len(data) else float("nan")
        data["conversion_from_top"] = data["entered"] / top if top else float("nan")
    head = "".join(
        f"<th>{name}</th>"
        for name in ("Stage", "Leads entered", "From previous stage", "From first stage", "Owner")
    )
    rows = []
    for stage, row in data.iterrows():
        owner = str(row["owner"]).lower()
        rows.append(
            f"<tr class='fm-{html.escape(owner)}'>"
            f"<th scope='row'>{html.escape(str(stage))}</th>"
            f"<td>{int(0 if pd.isna(row['entered']) else row['entered']):,}</td>"
            f"<td>{_percent(row['step_conversion'])}</td>"
            f"<td>{_percent(row['conversion_from_top'])}</td>"
            f"<td class='fm-owner'>{html.escape(owner.capitalize())}</td></tr>"
        )
    style = (
        "<style>"
        f".fm-table-card{{background:#fff;border-radius:10px;padding:20px 28px;color:{_INK};"
        "font-family:" + _FONT.replace('"', "'") + "}"
        ".fm-table-card h3{font-size:26px;font-weight:400;margin:0 0 14px 0}"
        ".fm-table{border-collapse:collapse;width:100%;font-size:19px}"
        f".fm-table thead th{{background:{_INK};color:#fff;font-weight:700;padding:10px 14px;"
        "text-align:right}"
        ".fm-table thead th:first-child,.fm-table thead th:last-child{text-align:left}"
        f".fm-table td,.fm-table tbody th{{padding:9px 14px;border-bottom:1px solid {_GRID};"
        "text-align:right;font-variant-numeric:tabular-nums}"
        ".fm-table tbody th,.fm-table td.fm-owner{text-align:left;font-weight:400}"
        f".fm-table tr.fm-marketing th,.fm-table tr.fm-marketing td.fm-owner"
        f"{{background:{_OWNER_FILLS['marketing']}}}"
        f".fm-table tr.fm-sales th,.fm-table tr.fm-sales td.fm-owner"
        f"{{background:{_OWNER_FILLS['sales']}}}"
        "</style>"
    )
    return (
        f"{style}<div class='fm-table-card'><h3>Stage by stage</h3>"
        f"<table class='fm-table'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def headline(
    table: pd.DataFrame, *, as_of: object = None, outcomes: Sequence[str] = ("Won",)
) -> str:
    """A plain-language headline with key figures, as an HTML fragment for a dashboard.

    The sentence names the weakest step of the funnel (lowest step conversion) and who owns it
    (or that it is the marketing-to-sales hand-off), so an executive can read where leads stall
    without a chart.

    Parameters
    ----------
    table : pandas.DataFrame
        As for :func:`funnel_chart`.
    as_of : date-like, optional
        Shown as "as of <date>" when given.
    outcomes : sequence of str, default ("Won",)
        Rows that are outcomes rather than stages; the weakest step is looked for among the
        others (a win rate answers a different question than a stalled hand-off).

    Returns
    -------
    str
        HTML: a ``<div class="fm-headline">`` with the sentence and four key-figure tiles.

    Examples
    --------
    >>> import pandas as pd
    >>> from funnel_models.viz.plots import headline
    >>> table = pd.DataFrame(
    ...     {"entered": [1000, 400, 100], "owner": ["marketing", "marketing", "sales"]},
    ...     index=pd.Index(["Lead", "MQL", "SAL"], name="stage"),
    ... )
    >>> "hand-off from marketing to sales" in headline(table)
    True
    """
    data = _with_step_conversion(table)
    stages = [str(stage) for stage in data.index]
    entered = data["entered"].fillna(0).astype(int)
    if len(data) == 0 or entered.iloc[0] == 0:
        return "<div class='fm-headline'><h2>No leads in this selection.</h2></div>"
    top_stage, top = stages[0], int(entered.iloc[0])
    owners = [str(owner).lower() for owner in data["owner"]]
    # the weakest step between progression stages (outcomes such as Won are a different question)
    steps = {
        i: float(data["step_conversion"].iloc[i])
        for i in range(1, len(stages))
        if stages[i] not in set(outcomes) and pd.notna(data["step_conversion"].iloc[i])
    }
    sentence = f"{top:,} leads entered the funnel."
    if steps:
        worst = min(steps, key=steps.__getitem__)
        frm, to = html.escape(stages[worst - 1]), html.escape(stages[worst])
        before, after = owners[worst - 1], owners[worst]
        if before != after and "either" not in (before, after):
            whose = f", the hand-off from {html.escape(before)} to {html.escape(after)}"
        elif after != "either":
            whose = f", a step owned by {html.escape(after)}"
        else:
            whose = ""
        sentence = (
            f"Leads stall most between <b>{frm}</b> and <b>{to}</b>{whose}: "
            f"only <b>{_percent(steps[worst])}</b> moved on from {frm} to {to}."
        )
    tiles = [(f"{top_stage}s", f"{top:,}", "entered the funnel")]
    for stage in stages[1:]:
        if stage in _KEY_STAGES or len(stages) <= 5:
            count = int(entered[stage])
            tiles.append((stage, f"{count:,}", _percent(count / top) + f" of {top_stage.lower()}s"))
    tiles_html = "".join(
        "<div class='fm-tile'>"
        f"<div class='fm-tile-value'>{value}</div>"
        f"<div class='fm-tile-label'>{html.escape(label)}</div>"
        f"<div class='fm-tile-note'>{html.escape(note)}</div>"
        "</div>"
        for label, value, note in tiles[:5]
    )
    when = f" <span class='fm-asof'>as of {html.escape(str(as_of))}</span>" if as_of else ""
    return (
        "<style>"
        ".fm-headline{background:#fff;border-radius:10px;padding:22px 28px;"
        "box-shadow:0 1px 3px rgba(16,24,40,.12);font-family:" + _FONT.replace('"', "'") + ";"
        f"color:{_INK}}}"
        ".fm-headline h2{font-size:26px;font-weight:400;line-height:1.35;margin:0 0 18px 0}"
        f".fm-asof{{font-size:16px;color:{_MUTED}}}"
        ".fm-tiles{display:flex;gap:16px;flex-wrap:wrap}"
        ".fm-tile{flex:1 1 160px;background:#f5f7fa;border-radius:8px;padding:14px 18px}"
        f".fm-tile-value{{font-size:34px;font-weight:700;color:{_INK}}}"
        f".fm-tile-label{{font-size:17px;color:{_MUTED}}}"
        f".fm-tile-note{{font-size:15px;color:{_MUTED}}}"
        "</style>"
        f"<div class='fm-headline'><h2>{sentence}{when}</h2>"
        f"<div class='fm-tiles'>{tiles_html}</div></div>"
    )


def as_widget(fig: go.Figure) -> go.FigureWidget:
    """Wrap a figure as a :class:`plotly.graph_objects.FigureWidget` for dashboards.

    A FigureWidget is drawn by plotly.js bundled with the plotly package (nothing is fetched from
    a CDN) and can be updated in place (``widget.data[0].x = ...``) when a filter changes.
    plotly ≥ 6 builds FigureWidget on ``anywidget``.

    Examples
    --------
    >>> import plotly.graph_objects as go
    >>> from funnel_models.viz.plots import as_widget
    >>> as_widget(go.Figure()).__class__.__name__
    'FigureWidget'
    """
    try:
        return go.FigureWidget(fig)
    except ImportError as exc:  # plotly >= 6 without anywidget
        raise ImportError(
            "Dashboards draw plotly figures as FigureWidget, which needs 'anywidget': "
            "pip install anywidget"
        ) from exc


# ---- dashboard panels: KPI tiles, findings, Sankey, cohorts, SLA, hand-off -----------------------
_CARD_CSS = (
    "<style>"
    ".fm-card{background:#fff;border-radius:10px;padding:18px 26px;color:" + _INK + ";"
    "font-family:" + _FONT.replace('"', "'") + "}"
    ".fm-card h3{font-size:24px;font-weight:400;margin:0 0 12px 0}"
    ".fm-kpis{display:flex;gap:14px;flex-wrap:wrap}"
    ".fm-kpi{flex:1 1 170px;background:#f5f7fa;border-radius:8px;padding:12px 16px}"
    ".fm-kpi-value{font-size:32px;font-weight:700}"
    ".fm-kpi-label{font-size:17px;color:" + _MUTED + "}"
    ".fm-up{color:#2e7d4f;font-size:16px}.fm-down{color:#b3261e;font-size:16px}"
    ".fm-flat{color:" + _MUTED + ";font-size:16px}"
    ".fm-findings{margin:0;padding-left:1.4em;font-size:19px;line-height:1.45}"
    ".fm-findings li{margin-bottom:8px}"
    ".fm-owner-tag{display:inline-block;border-radius:4px;padding:0 8px;font-size:15px;"
    "color:#fff;margin-right:8px}"
    ".fm-message{background:#fff4e5;border-left:6px solid #e07b28;border-radius:8px;"
    "padding:20px 26px;font-size:20px;color:" + _INK + "}"
    "</style>"
)


def _money(value: float) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    for size, suffix in ((1e9, " bn"), (1e6, " M"), (1e3, " k")):
        if abs(value) >= size:
            return f"{value / size:.1f}{suffix}"
    return f"{value:,.0f}"


def kpi_tiles_html(kpis: pd.DataFrame, *, period: str = "") -> str:
    """Key-figure tiles with the change against the previous period, as HTML.

    Parameters
    ----------
    kpis : pandas.DataFrame
        Indexed by measure, with ``value``, ``previous`` and ``change`` (a share; NaN when there
        is no previous period).
    period : str
        Words for the period, e.g. "last 3 months".

    Examples
    --------
    >>> import pandas as pd
    >>> from funnel_models.viz.plots import kpi_tiles_html
    >>> kpis = pd.DataFrame({"value": [120.0], "previous": [100.0], "change": [0.2]},
    ...                     index=pd.Index(["MQLs"], name="measure"))
    >>> "+20% vs previous" in kpi_tiles_html(kpis)
    True
    """
    tiles = []
    for measure, row in kpis.iterrows():
        value = float(row["value"])
        shown = _money(value) if "revenue" in str(measure).lower() else f"{value:,.0f}"
        change = row.get("change", float("nan"))
        if change is None or not math.isfinite(float(change)):
            delta = "<span class='fm-flat'>no previous period</span>"
        else:
            css = "fm-up" if change > 0.005 else "fm-down" if change < -0.005 else "fm-flat"
            arrow = "▲" if change > 0.005 else "▼" if change < -0.005 else "●"
            delta = f"<span class='{css}'>{arrow} {change:+.0%} vs previous</span>"
        tiles.append(
            "<div class='fm-kpi'>"
            f"<div class='fm-kpi-value'>{shown}</div>"
            f"<div class='fm-kpi-label'>{html.escape(str(measure))}</div>{delta}</div>"
        )
    title = f"Key figures{(' — ' + html.escape(period)) if period else ''}"
    return (
        f"{_CARD_CSS}<div class='fm-card fm-kpi-card'><h3>{title}</h3>"
        f"<div class='fm-kpis'>{''.join(tiles)}</div></div>"
    )


def findings_html(findings: pd.DataFrame, *, top: int = 5, title: str = "Where leads stall") -> str:
    """The top stall findings (``fm.find_stalls``) as plain sentences tagged with their owner.

    Examples
    --------
    >>> import pandas as pd
    >>> from funnel_models.viz.plots import findings_html
    >>> f = pd.DataFrame({"summary": ["40% of MQLs wait past the SLA."], "owner": ["sales"]})
    >>> "Sales" in findings_html(f)
    True
    """
    if findings is None or len(findings) == 0:
        items = "<li>No stall stands out in this selection.</li>"
    else:
        items = "".join(
            "<li><span class='fm-owner-tag' style='background:"
            f"{_owner_color(row.get('owner'))}'>{html.escape(str(row.get('owner', '')).capitalize())}"
            f"</span>{html.escape(str(row['summary']))}</li>"
            for _, row in findings.head(top).iterrows()
        )
    return (
        f"{_CARD_CSS}<div class='fm-card fm-findings-card'><h3>{html.escape(title)}</h3>"
        f"<ol class='fm-findings'>{items}</ol></div>"
    )


def message_html(text: str, *, title: str = "This dashboard cannot be shown") -> str:
    """A plain in-page message (for an empty or unreadable source): never a traceback.

    Examples
    --------
    >>> from funnel_models.viz.plots import message_html
    >>> "fm-message" in message_html("No data.")
    True
    """
    return (
        f"{_CARD_CSS}<div class='fm-message'><b>{html.escape(title)}</b><br>"
        f"{html.escape(text)}</div>"
    )


def _base(fig: go.Figure, title: str, subtitle: str = "", height: int = 420) -> go.Figure:
    text = html.escape(title)
    if subtitle:
        text += f"<br><span style='font-size:16px;color:{_MUTED}'>{html.escape(subtitle)}</span>"
    fig.update_layout(template=TEMPLATE, title={"text": text}, height=height)
    return fig


def sankey_chart(flows: pd.DataFrame, *, title: str = "Where leads go") -> go.Figure:
    """Sankey of stage visits flowing to the next stage, an outcome, or "still open".

    Parameters
    ----------
    flows : pandas.DataFrame
        Columns ``source``, ``target`` and ``leads``.

    Examples
    --------
    >>> import pandas as pd
    >>> from funnel_models.viz.plots import sankey_chart
    >>> flows = pd.DataFrame({"source": ["Lead", "Lead"], "target": ["MQL", "Disqualified"],
    ...                       "leads": [40, 60]})
    >>> sankey_chart(flows).data[0].type
    'sankey'
    """
    labels = list(dict.fromkeys([*flows["source"], *flows["target"]]))
    index = {name: i for i, name in enumerate(labels)}
    outcome_colors = {
        "Won": "#3a9a5b",
        "Lost": "#b3261e",
        "Disqualified": "#9aa5b1",
        "Recycled": "#8e5fb0",
        "(still open)": "#cfd6de",
    }
    marketing = {"Lead", "MQL"}
    colors = [
        outcome_colors.get(
            name, OWNER_COLORS["marketing"] if name in marketing else OWNER_COLORS["sales"]
        )
        for name in labels
    ]
    fig = go.Figure(
        go.Sankey(
            arrangement="snap",
            node={"label": labels, "color": colors, "pad": 18, "thickness": 18},
            link={
                "source": [index[s] for s in flows["source"]],
                "target": [index[t] for t in flows["target"]],
                "value": [int(v) for v in flows["leads"]],
                "color": "rgba(120,135,150,0.25)",
            },
            textfont={"size": 16, "family": _FONT.replace('"', "")},
        )
    )
    return _base(fig, title, "stage visits, by where each went next", height=480)


def cohort_trend(cohorts: pd.DataFrame, *, horizon_days: float = 90.0) -> go.Figure:
    """MQL→SQL within ``horizon_days`` by monthly cohort; still-maturing cohorts marked.

    Parameters
    ----------
    cohorts : pandas.DataFrame
        Indexed by cohort ("2026-05"), with ``conversion`` (censoring-aware), ``naive`` and
        ``maturing`` (bool).

    Examples
    --------
    >>> import pandas as pd
    >>> from funnel_models.viz.plots import cohort_trend
    >>> c = pd.DataFrame({"conversion": [0.3, 0.25], "naive": [0.3, 0.1],
    ...                   "maturing": [False, True]}, index=["2026-01", "2026-02"])
    >>> [t.name for t in cohort_trend(c).data]
    ['censoring-aware', 'naive (counts open leads as lost)', 'still maturing']
    """
    x = [str(i) for i in cohorts.index]
    maturing = cohorts["maturing"].astype(bool).to_numpy()
    fig = go.Figure()
    fig.add_scatter(
        x=x,
        y=cohorts["conversion"],
        mode="lines+markers",
        name="censoring-aware",
        line={"color": OWNER_COLORS["marketing"], "width": 3},
    )
    fig.add_scatter(
        x=x,
        y=cohorts["naive"],
        mode="lines",
        name="naive (counts open leads as lost)",
        line={"color": _MUTED, "width": 2, "dash": "dot"},
    )
    fig.add_scatter(
        x=[v for v, m in zip(x, maturing, strict=True) if m],
        y=cohorts["conversion"][maturing],
        mode="markers",
        name="still maturing",
        marker={
            "size": 16,
            "symbol": "circle-open",
            "color": OWNER_COLORS["sales"],
            "line": {"width": 3},
        },
    )
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    fig.update_layout(legend={"orientation": "h", "y": -0.2})
    return _base(
        fig,
        f"MQL → SQL within {horizon_days:.0f} days, by month of MQL",
        "young cohorts are still maturing: their final rate is not known yet",
    )


def time_in_stage_chart(table: pd.DataFrame) -> go.Figure:
    """Median days in each stage (p90 as whisker) against the SLA where one is set.

    Examples
    --------
    >>> import pandas as pd
    >>> from funnel_models.viz.plots import time_in_stage_chart
    >>> t = pd.DataFrame({"median_days": [0.8, 10.7], "p90_days": [7.9, 33.9],
    ...                   "sla_days": [1.0, 7.0], "owner": ["marketing", "sales"]},
    ...                  index=["MQL", "SAL"])
    >>> time_in_stage_chart(t).data[0].type
    'bar'
    """
    stages = [str(s) for s in table.index]
    fig = go.Figure()
    fig.add_bar(
        x=stages,
        y=table["median_days"],
        name="median days",
        marker={"color": [_owner_color(o) for o in table["owner"]]},
        error_y={
            "type": "data",
            "symmetric": False,
            "array": (table["p90_days"] - table["median_days"]).clip(lower=0),
            "arrayminus": [0] * len(table),
            "color": _MUTED,
        },
        text=[f"{v:.1f} d" if pd.notna(v) else "–" for v in table["median_days"]],
        textposition="outside",
        hovertemplate="%{x}: median %{y:.1f} days<extra></extra>",
    )
    sla = table["sla_days"]
    if sla.notna().any():
        fig.add_scatter(
            x=stages,
            y=sla,
            mode="markers",
            name="SLA",
            marker={"symbol": "line-ew-open", "size": 46, "line": {"width": 4, "color": "#b3261e"}},
        )
    fig.update_yaxes(title="days (whisker: 90th percentile)")
    fig.update_layout(legend={"orientation": "h", "y": -0.2})
    return _base(
        fig,
        "Time in stage against the SLA",
        "Kaplan–Meier: open leads count for the time they have waited",
    )


def sla_chart(
    table: pd.DataFrame, *, title: str = "MQLs accepted or rejected within the 24 h SLA"
) -> go.Figure:
    """Share of hand-offs handled within the SLA, one bar per team.

    Examples
    --------
    >>> import pandas as pd
    >>> from funnel_models.viz.plots import sla_chart
    >>> t = pd.DataFrame({"within_sla": [0.8, 0.3]}, index=["North", "South"])
    >>> list(sla_chart(t).data[0].text)
    ['80%', '30%']
    """
    fig = go.Figure(
        go.Bar(
            x=[str(i) for i in table.index],
            y=table["within_sla"],
            text=[_percent(v) for v in table["within_sla"]],
            textposition="outside",
            marker={"color": OWNER_COLORS["sales"]},
        )
    )
    fig.update_yaxes(tickformat=".0%", range=[0, 1.1])
    return _base(fig, title)


def source_quality_chart(table: pd.DataFrame) -> go.Figure:
    """Marketing's side: acceptance rate and MQL→SQL by lead source (bars), MQLs in the hover.

    Examples
    --------
    >>> import pandas as pd
    >>> from funnel_models.viz.plots import source_quality_chart
    >>> t = pd.DataFrame({"mqls": [100], "acceptance": [0.7], "mql_to_sql": [0.4]},
    ...                  index=["webinar"])
    >>> len(source_quality_chart(t).data)
    2
    """
    labels = [f"{i} ({int(n):,})" for i, n in zip(table.index, table["mqls"], strict=True)]
    fig = go.Figure()
    for column, name, color in (
        ("mql_to_sql", "MQL → SQL (90 d)", "#8fb3dd"),
        ("acceptance", "accepted by sales (30 d)", OWNER_COLORS["marketing"]),
    ):
        fig.add_bar(
            y=labels,
            x=table[column],
            name=name,
            orientation="h",
            marker={"color": color},
            text=[_percent(v) for v in table[column]],
            textposition="outside",
        )
    fig.update_xaxes(tickformat=".0%", range=[0, 1.12])
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(
        barmode="group", legend={"orientation": "h", "y": -0.12, "traceorder": "reversed"}
    )
    return _base(
        fig,
        "Marketing's side: MQL quality by source",
        "source (MQLs); censoring-aware",
        height=150 + 62 * len(table),
    )


def _stacked_shares(table: pd.DataFrame, palette: list[str]) -> go.Figure:
    """One stacked bar per row of ``table``, one segment per column (shares, labelled in %)."""
    fig = go.Figure()
    for color, column in zip(palette, table.columns, strict=False):
        fig.add_bar(
            x=[str(i) for i in table.index],
            y=table[column],
            name=str(column),
            marker={"color": color},
            text=[_percent(v) for v in table[column]],
            textposition="inside",
        )
    fig.update_yaxes(tickformat=".0%")
    fig.update_layout(barmode="stack", legend={"orientation": "h", "y": -0.2})
    return fig


def follow_up_chart(table: pd.DataFrame) -> go.Figure:
    """Sales' side: how many times sales touched an MQL in its first 7 days, per team.

    Examples
    --------
    >>> import pandas as pd
    >>> from funnel_models.viz.plots import follow_up_chart
    >>> t = pd.DataFrame({"no touch": [0.1], "1 touch": [0.9]}, index=["North"])
    >>> [trace.name for trace in follow_up_chart(t).data]
    ['no touch', '1 touch']
    """
    fig = _stacked_shares(table, ["#b3261e", "#e0b028", "#8fc29f", "#2e7d4f"])
    return _base(fig, "Sales' side: follow-up", "sales touches in the MQL's first 7 days, by team")


def response_mix_chart(table: pd.DataFrame) -> go.Figure:
    """Sales' side: how fast MQLs got a first sales touch, per team (stacked shares).

    Examples
    --------
    >>> import pandas as pd
    >>> from funnel_models.viz.plots import response_mix_chart
    >>> t = pd.DataFrame({"within 1 h": [0.5], "1–24 h": [0.5]}, index=["North"])
    >>> len(response_mix_chart(t).data)
    2
    """
    fig = _stacked_shares(table, ["#2e7d4f", "#e0b028", "#b3261e", "#9aa5b1"])
    return _base(fig, "Sales' side: first response to an MQL, by team")


def reasons_chart(reasons: pd.Series) -> go.Figure:
    """Why MQLs and SALs were disqualified or recycled (horizontal bars).

    Examples
    --------
    >>> import pandas as pd
    >>> from funnel_models.viz.plots import reasons_chart
    >>> reasons_chart(pd.Series({"no budget": 5, "timing": 3})).data[0].orientation
    'h'
    """
    r = reasons.sort_values()
    fig = go.Figure(
        go.Bar(
            x=r.to_numpy(),
            y=[str(i) for i in r.index],
            orientation="h",
            marker={"color": _MUTED},
            text=[f"{int(v):,}" for v in r],
            textposition="outside",
        )
    )
    return _base(fig, "Rejection reasons", "MQLs and SALs disqualified or recycled", height=380)


def response_curve(summary: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """The response-time effect: adjusted SAL→SQL rate per response bucket with intervals.

    Parameters
    ----------
    summary : pandas.DataFrame
        :attr:`funnel_models.ResponseTimeEffect.summary_`: indexed by bucket, with
        ``adjusted_rate``, ``adjusted_rate_lower``, ``adjusted_rate_upper``, ``naive_rate``.

    Examples
    --------
    >>> import pandas as pd
    >>> from funnel_models.viz.plots import response_curve
    >>> s = pd.DataFrame({"adjusted_rate": [0.6, 0.3], "adjusted_rate_lower": [0.55, 0.25],
    ...                   "adjusted_rate_upper": [0.65, 0.35], "naive_rate": [0.62, 0.28]},
    ...                  index=["<=1h", ">24h"])
    >>> response_curve(s).data[0].name
    'adjusted for the mix of leads'
    """
    x = [str(i) for i in summary.index]
    fig = go.Figure()
    fig.add_scatter(
        x=x,
        y=summary["adjusted_rate"],
        mode="lines+markers",
        name="adjusted for the mix of leads",
        line={"color": OWNER_COLORS["sales"], "width": 4},
        marker={"size": 14},
        error_y={
            "type": "data",
            "symmetric": False,
            "array": summary["adjusted_rate_upper"] - summary["adjusted_rate"],
            "arrayminus": summary["adjusted_rate"] - summary["adjusted_rate_lower"],
        },
    )
    if "naive_rate" in summary.columns:
        fig.add_scatter(
            x=x,
            y=summary["naive_rate"],
            mode="lines+markers",
            name="unadjusted",
            line={"color": _MUTED, "dash": "dot"},
        )
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    fig.update_xaxes(title="first sales response after the MQL")
    fig.update_layout(legend={"orientation": "h", "y": -0.3})
    return _base(
        fig,
        title or "The faster sales responds, the more leads qualify",
        "accepted MQLs reaching SQL",
    )


def what_if_chart(table: pd.DataFrame, *, measure: str = "won_per_year") -> go.Figure:
    """Baseline against scenario for one what-if measure, with the interval of the change.

    Parameters
    ----------
    table : pandas.DataFrame
        :meth:`funnel_models.FunnelMarkov.what_if`: indexed by measure, with ``baseline``,
        ``scenario``, ``change_low``, ``change_high``.

    Examples
    --------
    >>> import pandas as pd
    >>> from funnel_models.viz.plots import what_if_chart
    >>> t = pd.DataFrame({"baseline": [200.0], "scenario": [240.0], "change": [40.0],
    ...                   "change_low": [30.0], "change_high": [50.0]}, index=["won_per_year"])
    >>> list(what_if_chart(t).data[0].x)
    ['today', 'scenario']
    """
    row = table.loc[measure]
    low = (
        row["scenario"] - (row["change"] - row["change_low"])
        if "change" in row
        else row["scenario"]
    )
    high = (
        row["scenario"] + (row["change_high"] - row["change"])
        if "change" in row
        else row["scenario"]
    )
    fig = go.Figure(
        go.Bar(
            x=["today", "scenario"],
            y=[row["baseline"], row["scenario"]],
            marker={"color": [_MUTED, "#3a9a5b"]},
            text=[_money(row["baseline"]), _money(row["scenario"])],
            textposition="outside",
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [0, max(high - row["scenario"], 0) if pd.notna(high) else 0],
                "arrayminus": [0, max(row["scenario"] - low, 0) if pd.notna(low) else 0],
            },
        )
    )
    label = {"won_per_year": "Won deals per year", "revenue_per_year": "Revenue per year"}
    return _base(
        fig, label.get(measure, measure), "bar: projection; whisker: 95% interval", height=380
    )


class _FigureDisplay:
    """A figure shown as plotly's MIME bundle *and* a plain HTML div (see figure_display)."""

    def __init__(self, fig: go.Figure):
        self.fig = fig

    def _repr_mimebundle_(self, include=None, exclude=None):
        import json

        return {
            "application/vnd.plotly.v1+json": json.loads(self.fig.to_json()),
            "text/html": self.fig.to_html(
                full_html=False, include_plotlyjs=False, config={"displaylogo": False}
            ),
            "text/plain": f"<figure: {self.fig.layout.title.text or ''}>",
        }


def figure_display(fig: go.Figure) -> _FigureDisplay:
    """Display ``fig`` so that JupyterLab/Voila draw it and an HTML export keeps it.

    JupyterLab and Voila draw the plotly MIME bundle with plotly's own renderer; nbconvert
    (slides, HTML) keeps the ``text/html`` div, which needs plotly.js on the page —
    :func:`funnel_models.app.report.write_slides` inlines it once.

    Examples
    --------
    >>> import plotly.graph_objects as go
    >>> from funnel_models.viz.plots import figure_display
    >>> sorted(figure_display(go.Figure())._repr_mimebundle_())
    ['application/vnd.plotly.v1+json', 'text/html', 'text/plain']
    """
    return _FigureDisplay(fig)
