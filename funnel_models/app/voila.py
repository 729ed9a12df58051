"""What ``funnel-models dashboard`` runs: Voila on a dashboard notebook, offline and code-free.

The notebooks read ``FUNNEL_MODELS_SOURCE`` / ``FUNNEL_MODELS_AS_OF``; Voila runs with the
``funnel_models`` template (no CDN), sources stripped, tracebacks hidden, bound to 127.0.0.1
unless told otherwise, and — by default — with preheated kernels, so the notebook has already
run when the first visitor arrives.

Examples
--------
>>> from funnel_models.app.voila import voila_command
>>> cmd = voila_command("executive", source="/data/crm", port=8866)
>>> "--Voila.ip=127.0.0.1" in cmd and "--template=funnel_models" in cmd
True
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from funnel_models._errors import FunnelConfigError

__all__ = ["DASHBOARDS", "default_source", "notebook_path", "voila_command", "voila_env"]

PACKAGE = Path(__file__).resolve().parents[1]
REPO = PACKAGE.parent
TEMPLATE_ROOT = PACKAGE / "share" / "jupyter"
DASHBOARDS = {"executive": "dashboard_executive.ipynb", "handoff": "dashboard_handoff.ipynb"}
SAMPLE_LEADS, SAMPLE_SEED = 10_000, 7


def notebook_path(which: str) -> Path:
    """The dashboard notebook for ``which`` (``executive`` or ``handoff``)."""
    if which not in DASHBOARDS:
        raise FunnelConfigError(f"unknown dashboard {which!r}; choose {' or '.join(DASHBOARDS)}")
    path = REPO / "notebooks" / DASHBOARDS[which]
    if not path.exists():
        raise FileNotFoundError(
            2, "dashboard notebook not found (run from a funnel_models checkout)", str(path)
        )
    return path


def default_source() -> Path:
    """The bundled sample (``data/sample`` of the checkout), generated when missing."""
    sample = REPO / "data" / "sample"
    if not (sample / "leads.parquet").exists() and not (sample / "leads.csv").exists():
        from funnel_models.synthetic import generate

        print(f"generating the bundled sample in {sample} ...", file=sys.stderr)
        generate(sample, n_leads=SAMPLE_LEADS, seed=SAMPLE_SEED)
    return sample


def voila_env(source: str | Path, as_of: str | None = None, base: dict | None = None) -> dict:
    """The environment for Voila and its kernels: our template on JUPYTER_PATH, the source."""
    env = dict(os.environ if base is None else base)
    env["JUPYTER_PATH"] = os.pathsep.join(
        p for p in (str(TEMPLATE_ROOT), env.get("JUPYTER_PATH", "")) if p
    )
    env["FUNNEL_MODELS_SOURCE"] = str(source)
    if as_of:
        env["FUNNEL_MODELS_AS_OF"] = str(as_of)
    else:
        env.pop("FUNNEL_MODELS_AS_OF", None)
    return env


def voila_command(
    which: str,
    *,
    source: str | Path,
    port: int = 8866,
    host: str = "127.0.0.1",
    as_of: str | None = None,
    preheat: bool = True,
    notebook: Path | None = None,
) -> list[str]:
    """The Voila command line that serves one dashboard."""
    path = notebook or notebook_path(which)
    cmd = [
        sys.executable,
        "-m",
        "voila",
        str(path),
        "--no-browser",
        f"--port={port}",
        f"--Voila.ip={host}",
        "--template=funnel_models",
        "--strip_sources=True",
        "--VoilaConfiguration.show_tracebacks=False",
    ]
    if preheat:
        kernel_env = {"FUNNEL_MODELS_SOURCE": str(source)}
        if as_of:
            kernel_env["FUNNEL_MODELS_AS_OF"] = str(as_of)
        cmd += [
            "--preheat_kernel=True",
            "--pool_size=1",
            f"--VoilaKernelManager.default_env_variables={json.dumps(kernel_env)}",
        ]
    return cmd
