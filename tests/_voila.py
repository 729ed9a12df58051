"""Run ``funnel-models dashboard`` as a user would, on a free 127.0.0.1 port, for the tests.

The command runs in its own session with its output captured; the helper waits for its
"Dashboards on ..." line and always stops it (SIGTERM, then SIGKILL to anything left of its
process tree).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("FUNNEL_MODELS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PAGE_NAMES = ("executive", "handoff", "workshop")


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


def command_env(extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """This environment with this venv's bin first on PATH; ``None`` values unset a name."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    for name in ("FUNNEL_MODELS_SOURCE", "FUNNEL_MODELS_AS_OF", "FUNNEL_MODELS_TOKEN"):
        env.pop(name, None)
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def get(url: str, *, timeout: float = 300.0, headers: Mapping[str, str] | None = None):
    """``(status, body text, headers)`` of a GET, whatever the status."""
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", "replace"), resp.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace"), exc.headers


@dataclass
class Served:
    """A running ``funnel-models dashboard``: its process, port, printed lines and log."""

    proc: subprocess.Popen
    port: int
    lines: list[str] = field(default_factory=list)
    log_path: Path | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def page_url(self, name: str) -> str:
        return f"{self.base}voila/render/{name}.ipynb"

    @property
    def announced(self) -> str:
        return next(line for line in self.lines if line.startswith("Dashboards on"))

    def tree(self) -> list[psutil.Process]:
        """The command, the server and every kernel."""
        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def kernels(self) -> list[psutil.Process]:
        return [p for p in self.tree() if "ipykernel_launcher" in " ".join(_cmdline(p))]

    def rss_bytes(self) -> int:
        total = 0
        for p in self.tree():
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total


def _cmdline(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []


def stop(served: Served, sig: int = signal.SIGTERM, timeout_s: float = 20.0) -> None:
    """Signal the command; kill whatever of its tree is left after ``timeout_s``."""
    tree = served.tree()
    if served.proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            served.proc.send_signal(sig)
    _, alive = psutil.wait_procs(tree, timeout=timeout_s)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(alive, timeout=5)
    with contextlib.suppress(subprocess.TimeoutExpired):
        served.proc.wait(timeout=5)


@contextlib.contextmanager
def serve_dashboard(
    source: str | Path | None = None,
    *,
    args: Sequence[str] = (),
    env: Mapping[str, str | None] | None = None,
    log_path: Path | None = None,
    startup_timeout_s: float = 240.0,
    cwd: Path | None = None,
    command: Sequence[str] | None = None,
) -> Iterator[Served]:
    """Start ``funnel-models dashboard [SOURCE] --port P ARGS``; yield once it has printed
    its address; always stop it. ``command`` replaces ``python -m funnel_models.cli``."""
    port = free_port()
    base_cmd = list(command or [sys.executable, "-m", "funnel_models.cli"])
    cmd = [*base_cmd, "dashboard", *([str(source)] if source else []), f"--port={port}", *args]
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=command_env(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        start_new_session=True,
    )
    served = Served(proc=proc, port=port, log_path=log_path)

    def read():
        for line in proc.stdout:
            served.lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + startup_timeout_s
        while not any(line.startswith("Dashboards on") for line in served.lines):
            if proc.poll() is not None:
                raise RuntimeError(
                    f"funnel-models dashboard exited with {proc.returncode}; see {log_path}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"no 'Dashboards on' line in {startup_timeout_s:.0f} s")
            time.sleep(0.2)
        yield served
    finally:
        stop(served)
        reader.join(timeout=5)
        if log is not subprocess.DEVNULL:
            log.close()


def wait_for(predicate, timeout_s: float, interval_s: float = 0.5):
    """Poll ``predicate`` until it returns a true value or ``timeout_s`` passes; return it."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval_s)
