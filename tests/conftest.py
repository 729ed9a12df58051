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


# --- real shapes (tests/shapes.py, tests/test_real_shapes.py) ---
@_pytest.fixture(scope="session")
def shape_dataset(tmp_path_factory):
    """Build a dataset of tests/shapes.py once per session: ``shape_dataset("no_sal")``.

    Names: the shapes (``shapes.SHAPES``), ``generated``, the real datasets
    (``shapes.REAL``; skipped with a reason when /work/shared/datasets is absent) and the
    CRM fixtures (``shapes.FIXTURE_NAMES``). Returns a :class:`shapes.Dataset`.
    """
    import shapes

    built: dict = {}

    def get(name: str):
        if name not in built:
            if name in shapes.REAL:
                built[name] = shapes.real(name)
            elif name in shapes.FIXTURE_NAMES:
                built[name] = shapes.fixture(name)
            elif name == "generated":
                built[name] = shapes.generated(tmp_path_factory.mktemp("generated") / "data")
            else:
                built[name] = shapes.SHAPES[name](tmp_path_factory.mktemp(name))
        return built[name]

    return get
