"""Serve a notebook with Voila on a free 127.0.0.1 port, for the dashboard tests.

Voila runs in its own process group with funnel_models' offline template (no CDN); the server
is always stopped on exit (SIGTERM to the group, then SIGKILL).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEMPLATE_ROOT = REPO / "funnel_models" / "share" / "jupyter"
TEMPLATE = "funnel_models"
CHROMIUM = Path(os.environ.get("FUNNEL_MODELS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def voila_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for Voila: our template on JUPYTER_PATH, this venv's bin on PATH."""
    env = dict(os.environ)
    env["JUPYTER_PATH"] = os.pathsep.join(
        p for p in (str(TEMPLATE_ROOT), env.get("JUPYTER_PATH", "")) if p
    )
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)  # Voila shuts its kernels down on SIGTERM
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@contextlib.contextmanager
def serve_voila(
    notebook: Path,
    *,
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    startup_timeout_s: float = 90.0,
    args: Sequence[str] = (),
    show_tracebacks: bool = False,
) -> Iterator[str]:
    """Start Voila on ``notebook``; yield the page URL once the server answers; always stop it.

    Tracebacks stay hidden as they are for executives (``show_tracebacks=True`` to debug);
    ``args`` are extra Voila options (e.g. ``--preheat_kernel=True``).
    """
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "voila",
        str(notebook),
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        f"--template={TEMPLATE}",
        f"--VoilaConfiguration.show_tracebacks={show_tracebacks}",
        *args,
    ]
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        cmd,
        cwd=notebook.parent,
        env=voila_env(env),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + startup_timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"Voila exited with code {proc.returncode}; see {log_path}")
            try:  # a static file: answers without starting a kernel
                with urllib.request.urlopen(f"{url}voila/static/voila.js", timeout=5) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"Voila did not answer on {url} in {startup_timeout_s:.0f} s")
            time.sleep(0.3)
        yield url
    finally:
        _stop(proc)
        if log is not subprocess.DEVNULL:
            log.close()
