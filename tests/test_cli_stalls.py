"""`funnel-models stalls`: text, --json (JSON only), user errors exit 2 with one line."""

from __future__ import annotations

import json

import pytest

from funnel_models.cli import main


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("stalls") / "data"
    assert main(["generate", "--out", str(out), "--leads", "4000", "--seed", "9"]) == 0
    return out


def test_json_is_json_only(data, capsys):
    capsys.readouterr()
    assert main(["stalls", str(data), "--json", "--by", "source", "industry"]) == 0
    out = capsys.readouterr().out
    payload = json.loads(out)
    assert set(payload) >= {"source", "as_of", "findings", "act_now"}
    for rank, f in enumerate(payload["findings"], start=1):
        assert f["rank"] == rank
        assert isinstance(f["segment"], dict)
        assert set(f["segment"]) <= {"source", "industry"}
        assert {"from_stage", "to_stage", "kind", "value", "rest_value", "summary"} <= set(f)
    assert payload["act_now"]["count"] >= len(payload["act_now"]["leads"])


def test_text_output_and_as_of(data, capsys):
    capsys.readouterr()
    assert main(["stalls", str(data), "--as-of", "2026-06-30", "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "as of 2026-06-30" in out and "Act now" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--by", "industri"], "did you mean 'industry'"),
        (["--as-of", "yesterday-ish"], "is not a date"),
        (["--min-leads", "0"], "at least 1"),
    ],
)
def test_user_errors_exit_2_with_one_line(data, capsys, argv, message):
    capsys.readouterr()
    assert main(["stalls", str(data), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_missing_source_exits_2(tmp_path, capsys):
    assert main(["stalls", str(tmp_path / "nope")]) == 2
    assert "error" in capsys.readouterr().err


def test_json_reports_the_row_checks_and_act_now(data, capsys):
    capsys.readouterr()
    assert main(["stalls", str(data), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    rows = payload["validation"]["rows"]
    assert {"leads", "stage_events", "opportunities"} <= set(rows)
    for r in rows.values():
        assert r["read"] == r["accepted"] + r["rejected"] and r["read"] > 0
    scopes = [f["scope"] for f in payload["findings"]]
    assert scopes == sorted(scopes)  # "funnel" (headline) rows before "segment" rows
    act = payload["act_now"]
    assert act["count"] == sum(act["by_stage"].values())
    days = [lead["days_over"] for lead in act["leads"]]
    assert days == sorted(days, reverse=True) and all(d > 0 for d in days)


def test_csv_folder_goes_through_load_with_the_same_findings(data, tmp_path, capsys):
    # a CSV copy of the same tables is read by fm.load (pandas validation), not the
    # DuckDB Parquet path: the findings must be the same
    import pandas as pd

    csv = tmp_path / "csv"
    csv.mkdir()
    for name in ("leads", "stage_events", "opportunities", "accounts"):
        pd.read_parquet(data / f"{name}.parquet").to_csv(csv / f"{name}.csv", index=False)
    (csv / "funnel.yaml").write_text((data / "funnel.yaml").read_text())
    capsys.readouterr()
    assert main(["stalls", str(data), "--json", "--by", "source", "industry"]) == 0
    fast = json.loads(capsys.readouterr().out)
    assert main(["stalls", str(csv), "--json", "--by", "source", "industry"]) == 0
    slow = json.loads(capsys.readouterr().out)
    key = [(f["from_stage"], f["segment"], f["kind"], f["n"]) for f in fast["findings"]]
    assert key == [(f["from_stage"], f["segment"], f["kind"], f["n"]) for f in slow["findings"]]
    assert fast["act_now"]["count"] == slow["act_now"]["count"]


def test_a_log_whose_every_event_is_rejected_says_why(tmp_path, capsys):
    import pandas as pd

    leads = pd.DataFrame({"lead_id": ["a", "b"], "created_at": ["2024-01-01"] * 2})
    events = pd.DataFrame({"lead_id": ["x", "a"], "stage": ["Lead", "Bogus"],
                           "entered_at": ["2024-01-02"] * 2})  # fmt: skip
    for frame in (leads, events):
        frame[frame.columns[-1]] = pd.to_datetime(frame[frame.columns[-1]], utc=True)
    leads.to_parquet(tmp_path / "leads.parquet")
    events.to_parquet(tmp_path / "stage_events.parquet")
    assert main(["stalls", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "2 read; rejected:" in err and "orphan lead_id 1" in err and "unknown stage 1" in err
