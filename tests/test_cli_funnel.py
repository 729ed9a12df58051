"""``funnel-models funnel``: the stage table, --json, --by, and one-line user errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import funnel_models as fm
from funnel_models.cli import main


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    # MQL visits (as_of = latest event, 2024-01-31): a 2 d -> SAL, b 4 d -> Lost, c open 30 d
    events = pd.DataFrame(
        {
            "lead_id": ["a", "a", "b", "b", "c", "d"],
            "stage": ["MQL", "SAL", "MQL", "Lost", "MQL", "MQL"],
            "entered_at": ["2024-01-01", "2024-01-03", "2024-01-01", "2024-01-05",
                           "2024-01-01", "2024-01-31"],
        }
    )  # fmt: skip
    leads = pd.DataFrame(
        {"lead_id": list("abcd"), "created_at": ["2024-01-01"] * 4, "source": list("wwpp")}
    )
    path = tmp_path_factory.mktemp("cli") / "data"
    fm.FunnelDataset.from_frames(leads=leads, stage_events=events).to_folder(path)
    return path


def test_json_is_json_only_with_default_as_of(folder, capsys):
    assert main(["funnel", str(folder), "--json", "--days", "30"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["as_of"] == "2024-01-31T00:00:00+00:00" and payload["as_of_default"]
    mql = next(r for r in payload["stages"] if r["stage"] == "MQL")
    assert (mql["entered"], mql["advanced"], mql["lost"], mql["still_open"]) == (4, 1, 1, 2)
    assert mql["naive_conversion"] == pytest.approx(1 / 4)
    # AJ: t=0 d censored; t=2 n=3 advance -> 1/3; t=4 lost; c censored at 30 -> 1/3
    assert mql["conversion_30d"] == pytest.approx(1 / 3)
    opp = next(r for r in payload["stages"] if r["stage"] == "Opportunity")
    assert opp["conversion_30d"] is None and opp["note"] == "no visits of Opportunity"


def test_text_output_prints_as_of_and_table(folder, capsys):
    assert main(["funnel", str(folder), "--as-of", "2024-01-20"]) == 0
    out = capsys.readouterr().out
    assert "as of 2024-01-20 00:00 UTC (--as-of)" in out
    assert "MQL" in out and "conversion_90d" in out


def test_by_column(folder, capsys):
    assert main(["funnel", str(folder), "--json", "--by", "source"]) == 0
    payload = json.loads(capsys.readouterr().out)
    rows = {(r["source"], r["stage"]): r for r in payload["stages"]}
    assert rows[("w", "MQL")]["entered"] == 2 and rows[("p", "MQL")]["entered"] == 2


def test_unknown_by_column_suggests_closest(folder, capsys):
    assert main(["funnel", str(folder), "--by", "sorce"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "did you mean 'source'?" in err


def test_bad_date_is_one_line_exit_2(folder, capsys):
    assert main(["funnel", str(folder), "--as-of", "31/31/2024"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--as-of '31/31/2024' is not a date" in err
