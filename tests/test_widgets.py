"""Dashboard panels without a browser: what a filter change does to the widgets' values."""

from __future__ import annotations

import html
import re

import pandas as pd
import pytest

from funnel_models import widgets
from funnel_models.app.widgets import PLOTLY_MIME


@pytest.fixture(scope="module")
def data(small_dataset):
    return widgets.DashboardData.from_source(small_dataset)


@pytest.fixture(scope="module")
def tables(small_dataset):
    return {n: pd.read_parquet(small_dataset / f"{n}.parquet") for n in ("leads", "stage_events")}


def _kpi(html: str, label: str) -> int:
    m = re.search(r"fm-kpi-value'>([\d,]+)</div><div class='fm-kpi-label'>" + label, html)
    assert m, f"no {label} tile"
    return int(m.group(1).replace(",", ""))


def test_figure_panel_holds_plotly_json_not_plotly_js():
    import plotly.graph_objects as go

    panel = widgets.FigurePanel(go.Figure(go.Bar(x=[1, 2], y=[3, 4]), layout={"title": "t"}))
    (out,) = panel.outputs
    assert out["data"][PLOTLY_MIME]["data"][0]["y"] == [3, 4]
    assert "text/html" not in out["data"]  # no plotly.js bundle through the kernel
    panel.show(go.Figure(go.Bar(x=[1], y=[9])))
    assert len(panel.outputs) == 1 and panel.outputs[0]["data"][PLOTLY_MIME]["data"][0]["y"] == [9]


def test_executive_filter_changes_tiles_and_figures(data, tables):
    dash = widgets.ExecutiveDashboard(data, period="All time")
    ev, leads = tables["stage_events"], tables["leads"]
    # all time: Lead-stage entries, counted in plain pandas
    assert _kpi(dash.kpis.value, "Leads") == (ev["stage"] == "Lead").sum()
    funnel_before = dash.funnel.outputs[0]["data"][PLOTLY_MIME]["data"][0]["x"]
    dash.filters.dropdowns["source"].value = "webinar"
    webinar = set(leads.loc[leads["source"] == "webinar", "lead_id"])
    expected = ((ev["stage"] == "Lead") & ev["lead_id"].isin(webinar)).sum()
    assert _kpi(dash.kpis.value, "Leads") == expected
    funnel_after = dash.funnel.outputs[0]["data"][PLOTLY_MIME]["data"][0]["x"]
    assert funnel_after[0] == expected and funnel_after != funnel_before
    assert f"{expected:,} leads entered" in dash.headline.value


def test_period_filter_compares_with_the_previous_period(data, tables):
    dash = widgets.ExecutiveDashboard(data)
    dash.filters.period.value = "Last 3 months"
    ev = tables["stage_events"]
    month = pd.to_datetime(ev["entered_at"], utc=True).dt.strftime("%Y-%m")
    last = pd.Period(data.as_of.tz_convert(None), freq="M")
    recent = {str(last - i) for i in range(3)}
    before = {str(last - i) for i in range(3, 6)}
    lead = ev["stage"] == "Lead"
    now, prev = (lead & month.isin(recent)).sum(), (lead & month.isin(before)).sum()
    assert _kpi(dash.kpis.value, "Leads") == now
    assert f"{now / prev - 1:+.0%} vs previous" in dash.kpis.value


def test_findings_follow_the_filter(data):
    team = "SDR South"
    assert any(seg.get("sdr_team") == team for seg in data.findings["segment"])  # planted
    kept = data.findings_for({"sdr_team": "SDR North"})
    assert not any(seg.get("sdr_team") == team for seg in kept["segment"])
    assert len(data.findings_for({})) == len(data.findings)


def test_handoff_and_what_if(data):
    class Effect:  # a stand-in for a fitted ResponseTimeEffect: only .summary_ is drawn
        summary_ = pd.DataFrame(
            {
                "adjusted_rate": [0.6, 0.3],
                "adjusted_rate_lower": [0.5, 0.2],
                "adjusted_rate_upper": [0.7, 0.4],
                "naive_rate": [0.6, 0.3],
            },
            index=["<=1h", ">24h"],
        )

    dash = widgets.HandoffDashboard(data, effect=Effect())
    sla_before = dash.sla.outputs[0]["data"][PLOTLY_MIME]["data"][0]["y"]
    dash.filters.dropdowns["region"].value = data.cube.filters["region"][0]
    assert dash.sla.outputs[0]["data"][PLOTLY_MIME]["data"][0]["y"] != sla_before
    assert "MQLs in limbo" in dash.limbo.value

    panel = widgets.WhatIfPanel(data)
    today = panel.scenario().loc["won_per_year"]
    assert today["scenario"] == pytest.approx(today["baseline"], rel=0.02)
    panel.acceptance.value = min(0.99, panel.acceptance.value + 0.2)
    better = panel.scenario().loc["won_per_year"]
    assert better["scenario"] > today["scenario"]
    assert better["change_low"] <= better["change"] <= better["change_high"]
    assert "Projected" in panel.summary.value


def test_bad_sources_give_a_message(tmp_path):
    missing = widgets.executive_dashboard(tmp_path / "nowhere")
    assert "cannot be shown" in missing.value and "nowhere" in missing.value
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "cannot be shown" in widgets.handoff_dashboard(empty).value
    assert "Traceback" not in missing.value


def test_a_selection_without_leads_redraws_without_error(data):
    class Effect:
        summary_ = pd.DataFrame(
            {"adjusted_rate": [0.5], "adjusted_rate_lower": [0.4], "adjusted_rate_upper": [0.6]},
            index=["<=1h"],
        )

    nowhere = {"period": "Last 3 months", "source": "no-such-channel"}
    dash = widgets.ExecutiveDashboard(data)
    dash.update(nowhere)
    assert "No leads in this selection." in dash.headline.value
    assert _kpi(dash.kpis.value, "Leads") == 0
    hand = widgets.HandoffDashboard(data, effect=Effect())
    hand.update({"period": "Last 3 months", "region": "no-such-region"})
    assert "0 MQLs in this selection" in hand.headline.value


def test_handoff_headline_is_the_first_mql_to_sal_finding(data):
    class Effect:
        summary_ = pd.DataFrame(
            {"adjusted_rate": [0.5], "adjusted_rate_lower": [0.4], "adjusted_rate_upper": [0.6]},
            index=["<=1h"],
        )

    hand = widgets.HandoffDashboard(data, effect=Effect())
    first = data.findings.loc[data.findings["from_stage"] == "MQL", "summary"].iloc[0]
    assert hand.headline.value.startswith("<div class='fm-headline'><h2>" + html.escape(first))
