# --- dashboards and notebooks (tests/test_dashboard_browser.py, tests/test_notebooks.py) ---
import os as _os
from pathlib import Path as _Path

import pytest as _pytest


@_pytest.fixture(scope="session")
def small_dataset(tmp_path_factory) -> _Path:
    """A small generated data set (3,000 leads) for dashboards and notebooks.

    Set FUNNEL_MODELS_TEST_DATA to a data set folder to use that instead.
    """
    given = _os.environ.get("FUNNEL_MODELS_TEST_DATA")
    if given:
        return _Path(given).resolve()
    from funnel_models.cli import main

    out = tmp_path_factory.mktemp("sample") / "data"
    code = main(["generate", "--out", str(out), "--leads", "3000", "--seed", "11"])
    assert code == 0, f"funnel-models generate exited with {code}"
    return out


@_pytest.fixture(scope="session")
def artifacts_dir() -> _Path:
    """test-artifacts/ at the repository root (gitignored): screenshots, server logs."""
    path = _Path(__file__).resolve().parents[1] / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
