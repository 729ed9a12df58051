"""`funnel-models score fit|apply` end to end on a flat table."""

import json

import numpy as np
import pandas as pd

from funnel_models.cli import main


def _table(path, n=800, seed=0):
    rng = np.random.default_rng(seed)
    t = pd.DataFrame(
        {
            "lead": [f"L{i}" for i in range(n)],
            "source": rng.choice(["fair", "web", '=HYPERLINK("x")'], n),
            "employees": rng.integers(5, 500, n),
        }
    )
    p = np.where(t["source"] == "fair", 0.6, 0.2)
    t["status"] = np.where(rng.random(n) < p, "Won", "Lost")
    t["disposition"] = np.where(
        t["status"] == "Won", "signed", "no budget"
    )  # set after the outcome
    t.loc[: n // 10, ["status", "disposition"]] = None  # still open
    t.to_csv(path, index=False)
    return t


def test_fit_json_then_apply(tmp_path, capsys):
    src = tmp_path / "leads.csv"
    _table(src)
    model = tmp_path / "m.skops"
    assert (
        main(
            [
                "score",
                "fit",
                str(src),
                "--target",
                "status",
                "--id",
                "lead",
                "--out",
                str(model),
                "--json",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)  # JSON only on stdout
    assert report["leakage_features"] == ["disposition"]
    assert 0.5 < report["metrics"][report["model"]]["roc_auc"] <= 1
    out = tmp_path / "ranked.csv"
    assert main(["score", "apply", str(model), str(src), "--out", str(out)]) == 0
    ranked = pd.read_csv(out)
    assert list(ranked.columns[:4]) == ["lead", "probability", "rank", "reasons"]
    assert len(ranked) == 81  # the open rows only
    assert ranked["probability"].is_monotonic_decreasing
    text = out.read_text()
    assert ",=HYPERLINK" not in text  # formula cells are neutralised


def test_bad_model_file_is_one_line_error(tmp_path, capsys):
    src = tmp_path / "leads.csv"
    _table(src)
    bad = tmp_path / "model.skops"
    bad.write_text("not a model")
    assert main(["score", "apply", str(bad), str(src), "--out", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "not a funnel_models model file" in err


def test_one_class_target_is_one_line_error(tmp_path, capsys):
    src = tmp_path / "leads.csv"
    pd.DataFrame({"a": ["x", "y"] * 10, "status": ["Won"] * 20}).to_csv(src, index=False)
    assert main(["score", "fit", str(src), "--target", "status", "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip()
    assert "only one class" in err and "\n" not in err
