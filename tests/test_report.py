"""funnel-models report: one self-contained HTML file (the browser check is in
tests/test_dashboard_browser.py)."""

from __future__ import annotations

import re

from funnel_models.cli import main


def test_report_is_self_contained(small_dataset, tmp_path, capsys):
    out = tmp_path / "sub" / "report.html"
    assert main(["report", str(small_dataset), "--out", str(out)]) == 0
    page = out.read_text()
    assert page.count('class="plotly-graph-div"') == 9
    # plotly.js inlined once, nothing loaded from anywhere
    assert not re.search(r"<(script|link)[^>]+(src|href)=", page)
    assert page.count("Plotly.newPlot") == 9
    assert "import funnel_models" not in page and "In [" not in page
    assert "Where leads stall" in page
    assert "report written to" in capsys.readouterr().err


def test_report_user_errors_are_one_line(tmp_path, capsys):
    code = main(["report", str(tmp_path / "missing"), "--out", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "r.html").exists()


def test_dashboard_command_rejects_a_missing_source(tmp_path, capsys):
    assert main(["dashboard", str(tmp_path / "nope"), "--dry-run"]) == 2
    assert "no such data set" in capsys.readouterr().err
