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
    "funnel_chart",
    "headline",
    "stage_table",
    "stage_table_html",
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
    >>> from funnel_models.plots import funnel_chart
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
    >>> from funnel_models.plots import stage_table
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
    >>> from funnel_models.plots import stage_table_html
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
    >>> from funnel_models.plots import headline
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
    >>> from funnel_models.plots import as_widget
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
