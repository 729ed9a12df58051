"""Packaging: environment.yml in step with pyproject.toml, the wheel holds the whole product
(notebooks, templates, the default funnel.yaml, py.typed; nothing else at the top level), the
CLI starts. The wheel installed in a fresh venv is tests/test_wheel.py."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]

# PyPI requirement (name plus extras) -> conda-forge package name, where they differ.
PYPI_TO_CONDA = {
    "duckdb": "python-duckdb",
    "ibis-framework[duckdb]": "ibis-duckdb",
    "psycopg[binary]": "psycopg",  # conda-forge's psycopg links libpq itself
}
# conda-only entries that are not dependencies of the package.
CONDA_ONLY = {"python", "pip"}


def _pypi_key(req: Requirement) -> str:
    name = canonicalize_name(req.name)
    return f"{name}[{','.join(sorted(req.extras))}]" if req.extras else name


def _lower_bound(spec: SpecifierSet) -> str | None:
    bounds = [s.version for s in spec if s.operator in {">=", "==", "~="}]
    return bounds[0] if bounds else None


def _pyproject_requirements() -> dict[str, tuple[str, str | None]]:
    """conda name -> (PyPI requirement, lower bound) for core + dev dependencies."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    out = {}
    for text in reqs:
        req = Requirement(text)
        key = _pypi_key(req)
        out[PYPI_TO_CONDA.get(key, key)] = (text, _lower_bound(req.specifier))
    return out


def _environment() -> tuple[dict[str, str | None], list[str]]:
    """conda name -> lower bound, and the pip entries, from environment.yml."""
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"], "environment.yml should use conda-forge only"
    conda, pip = {}, []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip.extend(dep.get("pip", []))
            continue
        match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*", dep)
        assert match, f"cannot parse conda dependency {dep!r}"
        name, spec = match.groups()
        bound = None
        if spec and not spec.startswith("="):
            bound = _lower_bound(SpecifierSet(spec))
        conda[canonicalize_name(name)] = bound
    return conda, pip


def test_every_pyproject_dependency_is_in_environment_yml():
    conda, pip = _environment()
    pip_reqs = {_pypi_key(Requirement(p)): p for p in pip if not p.startswith("-")}
    for conda_name, (text, bound) in _pyproject_requirements().items():
        if conda_name in conda:
            assert conda[conda_name] == bound, (
                f"{text} in pyproject.toml but environment.yml has {conda_name} "
                f"with lower bound {conda[conda_name]}"
            )
        else:
            pypi_key = _pypi_key(Requirement(text))
            assert pypi_key in pip_reqs, f"{text} (pyproject.toml) is missing from environment.yml"
            assert _lower_bound(Requirement(pip_reqs[pypi_key]).specifier) == bound


def test_environment_yml_has_nothing_pyproject_lacks():
    conda, pip = _environment()
    known = _pyproject_requirements()
    python = [n for n in conda if n == "python"]
    assert python, "environment.yml should pin python"
    for name in conda:
        if name in CONDA_ONLY:
            continue
        assert name in known, f"environment.yml lists {name}, which pyproject.toml does not"
    for entry in pip:
        if entry.startswith("-"):
            assert entry.split()[-1] == ".", f"unexpected pip option in environment.yml: {entry}"
            continue
        key = _pypi_key(Requirement(entry))
        assert PYPI_TO_CONDA.get(key, key) in known, f"pip: {entry} is not in pyproject.toml"


def test_environment_python_matches_requires_python():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pins = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python=")]
    assert pins, "environment.yml should pin python="
    assert pins[0].split("=", 1)[1] in SpecifierSet(project["requires-python"])


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps",
         "--quiet", "--wheel-dir", str(out), str(REPO)],
        check=True,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    (path,) = out.glob("funnel_models-*.whl")
    return path


def test_wheel_ships_py_typed(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "funnel_models/py.typed" in names


def test_wheel_holds_the_whole_product(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for notebook in (
        "dashboard_executive", "dashboard_handoff", "workshop_smarketing",
        "explore_funnel", "explore_lead_scoring",
    ):  # fmt: skip
        assert f"funnel_models/notebooks/{notebook}.ipynb" in names
    assert "funnel_models/core/funnel.yaml" in names
    for template in (
        "voila/templates/funnel_models/index.html.j2",
        "voila/templates/funnel_models/landing.html",
        "voila/templates/funnel_models/503.html",
        "nbconvert/templates/funnel_models_slides/index.html.j2",
    ):
        assert f"funnel_models/share/jupyter/{template}" in names
    tops = {n.split("/")[0] for n in names}
    assert tops == {"funnel_models", next(t for t in tops if t.endswith(".dist-info"))}, tops


def test_cli_help():
    result = subprocess.run(
        [sys.executable, "-m", "funnel_models.cli", "--help"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "usage: funnel-models" in result.stdout
    assert "generate" in result.stdout


def test_console_script_installed():
    script = Path(sys.executable).parent / "funnel-models"
    if not script.exists():
        pytest.skip(f"{script} not installed (run `make test`, which installs the package)")
    result = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    assert result.returncode == 0, result.stderr
