"""Where the real public datasets are (read-only; never copied into the repository).

``../shared/datasets`` beside the checkout (``/work/main`` -> ``/work/shared/datasets``), or
two levels up for a git worktree (``/work/wt/NAME`` -> ``/work/shared/datasets``), or the
folder named by ``FUNNEL_MODELS_DATASETS``. Tests that need a dataset skip with the path
they looked for when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[1]


def datasets_dir() -> Path:
    given = os.environ.get("FUNNEL_MODELS_DATASETS")
    candidates = [Path(given)] if given else []
    candidates += [_ROOT.parent / "shared" / "datasets", _ROOT.parents[1] / "shared" / "datasets"]
    return next((c for c in candidates if c.is_dir()), candidates[0])


def dataset(relative: str) -> Path:
    """The path of a real dataset (folder or file), or a skip naming where it was looked for."""
    path = datasets_dir() / relative
    if not path.exists():
        pytest.skip(f"real data not present: {path} (set FUNNEL_MODELS_DATASETS)")
    return path
