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
