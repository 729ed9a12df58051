"""Every notebook in notebooks/ runs top to bottom on a small generated data set.

Notebooks read FUNNEL_MODELS_SOURCE (see their second cell), so they run here against the
`small_dataset` fixture. Also checked: committed without outputs, a first cell tagged
`parameters`, `import funnel_models as fm`, and no `def` (logic lives in the package).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def _ids(paths):
    return [p.stem for p in paths]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_is_thin_and_clean(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "no code cells"
    assert "parameters" in code[0].metadata.get("tags", []), "first code cell must be tagged"
    assert nb.cells[0] is code[0], "the parameters cell must come first"
    sources = "\n".join(c.source for c in code)
    assert re.search(r"^import funnel_models as fm$", sources, re.M), "import funnel_models as fm"
    assert not re.search(r"^\s*(async\s+)?def\s", sources, re.M), "no def in notebooks"
    for cell in code:
        assert not cell.outputs and cell.execution_count is None, "commit notebooks without outputs"


# each run starts a kernel and takes 5-10 s: all but the executive dashboard count as slow
RUNS = [
    p if p.stem == "dashboard_executive" else pytest.param(p, marks=pytest.mark.slow)
    for p in NOTEBOOKS
]


@pytest.mark.parametrize("path", RUNS, ids=_ids(NOTEBOOKS))
def test_notebook_runs(path, small_dataset, monkeypatch):
    monkeypatch.setenv("FUNNEL_MODELS_SOURCE", str(small_dataset))
    # the kernel is this venv's: its kernelspec says "python", which jupyter_client maps to
    # sys.executable; this venv's bin first on PATH covers anything else the kernel spawns.
    monkeypatch.setenv(
        "PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    )
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.prefix)"))
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=600,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "error"
        or (out.output_type == "stream" and "Traceback" in out.get("text", ""))
    ]
    assert not errors, errors
    prefix = nb.cells[-1].outputs[0]["text"].strip()
    assert Path(prefix).resolve() == Path(sys.prefix).resolve(), f"kernel ran in {prefix}"


def test_workshop_has_slide_metadata():
    """The workshop exports as reveal.js slides: every heading opens a slide or sub-slide,
    and the setup cell is skipped (see `funnel-models report SOURCE --out F.html --slides`)."""
    nb = nbformat.read(NOTEBOOK_DIR / "workshop_smarketing.ipynb", as_version=4)
    kinds = [c.metadata.get("slideshow", {}).get("slide_type") for c in nb.cells]
    headings = [
        c for c in nb.cells if c.cell_type == "markdown" and c.source.lstrip().startswith("#")
    ]
    assert headings and all(
        c.metadata.get("slideshow", {}).get("slide_type") in {"slide", "subslide"} for c in headings
    )
    assert kinds[1] == "skip"  # the setup cell after the parameters
    assert kinds.count("slide") >= 5
