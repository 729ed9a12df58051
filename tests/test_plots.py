"""Figures and HTML panels of funnel_models.viz.plots: the numbers they show are the numbers given."""

from __future__ import annotations

import pandas as pd

from funnel_models import plots


def test_sankey_links_carry_the_flows():
    flows = pd.DataFrame(
        {
            "source": ["Lead", "Lead", "MQL", "MQL"],
            "target": ["MQL", "(still open)", "SAL", "Disqualified"],
            "leads": [40, 60, 30, 10],
        }
    )
    trace = plots.sankey_chart(flows).data[0]
    labels = list(trace.node.label)
    assert labels == ["Lead", "MQL", "(still open)", "SAL", "Disqualified"]
    links = {
        (labels[s], labels[t]): v
        for s, t, v in zip(trace.link.source, trace.link.target, trace.link.value, strict=True)
    }
    assert links == {
        ("Lead", "MQL"): 40,
        ("Lead", "(still open)"): 60,
        ("MQL", "SAL"): 30,
        ("MQL", "Disqualified"): 10,
    }


def test_cohort_trend_marks_only_maturing_cohorts():
    cohorts = pd.DataFrame(
        {
            "conversion": [0.3, 0.32, 0.28],
            "naive": [0.3, 0.32, 0.1],
            "maturing": [False, True, True],
        },
        index=["2026-01", "2026-02", "2026-03"],
    )
    fig = plots.cohort_trend(cohorts)
    assert list(fig.data[2].x) == ["2026-02", "2026-03"]
    assert list(fig.data[2].y) == [0.32, 0.28]


def test_kpi_tiles_show_values_and_signed_changes():
    kpis = pd.DataFrame(
        {
            "value": [1200.0, 2_400_000.0],
            "previous": [1500.0, float("nan")],
            "change": [-0.2, float("nan")],
        },
        index=pd.Index(["Leads", "Revenue won"], name="measure"),
    )
    out = plots.kpi_tiles_html(kpis, period="last 3 months")
    assert "1,200" in out and "▼ -20% vs previous" in out and "fm-down" in out
    assert "2.4 M" in out and "no previous period" in out
    assert "last 3 months" in out


def test_findings_are_escaped_and_tagged_by_owner():
    findings = pd.DataFrame({"summary": ["<b>MQLs</b> wait & wait"], "owner": ["sales"]})
    out = plots.findings_html(findings)
    assert "&lt;b&gt;MQLs&lt;/b&gt; wait &amp; wait" in out and ">Sales</span>" in out
    assert "No stall stands out" in plots.findings_html(findings.iloc[:0])


def test_time_in_stage_chart_shows_sla_only_where_set():
    table = pd.DataFrame(
        {
            "median_days": [0.8, 10.7, 18.0],
            "p90_days": [7.9, 33.9, float("nan")],
            "sla_days": [1.0, float("nan"), float("nan")],
            "owner": ["marketing", "sales", "sales"],
        },
        index=["MQL", "SAL", "SQL"],
    )
    fig = plots.time_in_stage_chart(table)
    assert list(fig.data[0].text) == ["0.8 d", "10.7 d", "18.0 d"]
    assert fig.data[1].name == "SLA" and fig.data[1].y[0] == 1.0
    assert len(plots.time_in_stage_chart(table.assign(sla_days=float("nan"))).data) == 1


def test_what_if_chart_interval_matches_the_change_interval():
    table = pd.DataFrame(
        {
            "baseline": [200.0],
            "scenario": [240.0],
            "change": [40.0],
            "change_low": [30.0],
            "change_high": [55.0],
        },
        index=["won_per_year"],
    )
    err = plots.what_if_chart(table).data[0].error_y
    # scenario 240, change interval 30..55 -> 230..255 -> whiskers -10 / +15
    assert list(err.array) == [0, 15.0] and list(err.arrayminus) == [0, 10.0]


def test_every_figure_uses_the_theme():
    source = pd.DataFrame({"mqls": [10], "acceptance": [0.5], "mql_to_sql": [0.2]}, index=["web"])
    for fig in (
        plots.source_quality_chart(source),
        plots.sla_chart(pd.DataFrame({"within_sla": [0.5]}, index=["T1"])),
        plots.reasons_chart(pd.Series({"timing": 3})),
        plots.response_mix_chart(pd.DataFrame({"within 1 h": [1.0]}, index=["T1"])),
    ):
        assert fig.layout.template.layout.font.size == plots.TEMPLATE.layout.font.size
