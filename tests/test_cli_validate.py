"""`funnel-models validate`: exit codes 0/1/2, the rejected-row file, one-line errors."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from test_dataset import EVENTS_CSV, EXPECTED_REJECTIONS, LEADS_CSV

CLI = [sys.executable, "-m", "funnel_models.cli"]


def run(*args, cwd=None):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [*CLI, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def messy(tmp_path):
    folder = tmp_path / "crm"
    folder.mkdir()
    (folder / "leads.csv").write_text(LEADS_CSV)
    (folder / "stage_events.csv").write_text(EVENTS_CSV)
    return folder


def test_rejected_rows_exit_1_with_a_reason_per_row(messy, tmp_path):
    out = tmp_path / "rejected.csv"
    result = run("validate", messy, "--rejected", out)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    rejected = pd.read_csv(out)
    assert len(rejected) == len(EXPECTED_REJECTIONS)
    assert rejected["reason"].notna().all()
    assert {
        tuple(r) for r in rejected[["table", "row", "column", "rule"]].itertuples(index=False)
    } == (EXPECTED_REJECTIONS)
    # the printed summary reconciles: read = accepted + rejected per table
    assert "leads             6         3         3" in result.stdout
    assert "stage_events     13         6         7" in result.stdout
    assert "unknown stage 'Qualifed' (did you mean 'Qualified (→ SQL)'?)" in result.stdout


def test_json_summary_is_json_only(messy, tmp_path):
    result = run("validate", messy, "--json", "--rejected", tmp_path / "r.csv")
    assert result.returncode == 1
    payload = json.loads(result.stdout)
    assert payload["rows_rejected"] == len(EXPECTED_REJECTIONS)
    for counts in payload["tables"].values():
        assert counts["read"] == counts["accepted"] + counts["rejected"]


def test_default_rejected_file_lands_in_the_working_directory(messy, tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    result = run("validate", messy, cwd=workdir)
    assert result.returncode == 1
    assert (workdir / "rejected.csv").exists()


def test_clean_folder_exits_0_and_writes_nothing(tmp_path):
    folder = tmp_path / "clean"
    folder.mkdir()
    (folder / "leads.csv").write_text("lead_id,created_at\nL1,2024-01-01\n")
    (folder / "stage_events.csv").write_text("lead_id,stage,entered_at\nL1,Lead,2024-01-01\n")
    result = run("validate", folder, "--rejected", tmp_path / "r.csv")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All rows valid." in result.stdout
    assert not (tmp_path / "r.csv").exists()


def test_rejected_csv_neutralises_spreadsheet_formulas(tmp_path):
    folder = tmp_path / "evil"
    folder.mkdir()
    (folder / "leads.csv").write_text('lead_id,created_at\nL1,"=HYPERLINK(""http://x"")"\n')
    (folder / "stage_events.csv").write_text("lead_id,stage,entered_at\n")
    out = tmp_path / "r.csv"
    assert run("validate", folder, "--rejected", out).returncode == 1
    text = out.read_text()
    rejected = pd.read_csv(out)
    assert rejected.loc[0, "value"].startswith("'=HYPERLINK")  # the offending value, defused
    assert not any(line.split(",")[4].startswith("=") for line in text.splitlines()[1:])


@pytest.mark.parametrize(
    ("make_source", "message"),
    [
        (lambda p: p / "does-not-exist", "no such file or folder"),
        (lambda p: _garbage(p / "blob.bin"), "cannot tell what kind of source"),
        (lambda p: _garbage_folder(p), "binary content, not a CSV file"),
        (lambda p: _empty_folder(p), "no leads table"),
    ],
)
def test_unusable_input_exits_2_with_one_line(tmp_path, make_source, message):
    result = run("validate", make_source(tmp_path))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr


def test_bad_option_values_exit_2(messy):
    result = run("validate", messy, "--format", "nope")
    assert result.returncode == 2 and "invalid choice: 'nope'" in result.stderr
    result = run("validate", messy, "--timezone", "Mars/Olympus")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def test_generated_data_validates_clean(tmp_path):
    out = tmp_path / "gen"
    assert run("generate", "--out", out, "--leads", "300", "--seed", "3").returncode == 0
    result = run("validate", out, "--rejected", tmp_path / "r.csv")
    assert result.returncode == 0, result.stdout


def _garbage(path: Path) -> Path:
    path.write_bytes(bytes(range(256)) * 20)
    return path


def _garbage_folder(root: Path) -> Path:
    folder = root / "garbage"
    folder.mkdir()
    for name in ("leads.csv", "stage_events.csv"):
        _garbage(folder / name)
    return folder


def _empty_folder(root: Path) -> Path:
    folder = root / "empty"
    folder.mkdir()
    return folder


def test_cli_entry_point_is_installed():
    exe = shutil.which("funnel-models", path=str(Path(sys.executable).parent))
    assert exe, "funnel-models is not installed next to this Python"
    result = subprocess.run([exe, "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "validate" in result.stdout


def test_the_rejected_file_never_replaces_an_input(messy):
    before = (messy / "leads.csv").read_text()
    result = run("validate", messy, "--rejected", messy / "leads.csv")
    assert result.returncode == 2
    assert "is one of the inputs" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert (messy / "leads.csv").read_text() == before
