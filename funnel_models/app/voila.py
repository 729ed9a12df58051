"""What ``funnel-models dashboard`` runs: one Voila server for every dashboard page.

The executive, hand-off and workshop pages are served on one port, with a landing page and a
navigation bar between them, each page preheated (its notebook has already run when the first
visitor arrives). The server is safe to leave running:

* **Kernels are reclaimed.** A kernel whose page is closed is shut down at once (Voila asks on
  unload); a kernel with no page connected is shut down within ``kernel_timeout_s`` seconds
  (default 120). At most ``max_kernels`` kernels run at once (default 8, counting the one ready
  kernel per page); past that a visitor gets a "busy, retry" page and the server stays up.
* **No open door.** Bound to 127.0.0.1 unless told otherwise; on any other address the pages
  and kernels require a token (Jupyter's own identity provider), read from
  ``FUNNEL_MODELS_TOKEN`` or generated and printed once at start; ``no_auth=True`` serves
  without one.
* **Secrets stay secret.** The data source (which may hold a database password) and the token
  reach the server and its kernels through the environment, never the command line; every
  message shows the source redacted (``postgresql://ann:***@host/db``).
* **A clean stop.** SIGTERM or SIGINT to ``funnel-models dashboard`` stops the server and every
  kernel within 10 s; if ``funnel-models dashboard`` itself is killed, the server follows it.

The server process itself is :mod:`funnel_models.app._voila_server`.

Examples
--------
>>> from funnel_models.app.voila import ServerOptions, server_command, server_env
>>> opts = ServerOptions(source="postgresql://ann:s3cret@db/crm", port=8866)
>>> cmd = server_command(opts)
>>> "--host=127.0.0.1" in cmd and "--port=8866" in cmd
True
>>> any("s3cret" in part for part in cmd)  # the password travels in the environment only
False
>>> server_env(opts, base={})["FUNNEL_MODELS_SOURCE"]
'postgresql://ann:s3cret@db/crm'
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from funnel_models._errors import FunnelConfigError
from funnel_models.core.redaction import redact

__all__ = [
    "ANALYST_NOTEBOOKS",
    "DEFAULT_KERNEL_TIMEOUT_S",
    "DEFAULT_MAX_KERNELS",
    "PAGES",
    "Page",
    "ServerOptions",
    "check_port_free",
    "cull_settings",
    "default_source",
    "is_local_host",
    "notebook_path",
    "resolve_token",
    "sample_dir",
    "serve",
    "server_command",
    "server_env",
]

PACKAGE = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = PACKAGE / "notebooks"
TEMPLATE_ROOT = PACKAGE / "share" / "jupyter"
TEMPLATE = "funnel_models"

SOURCE_ENV = "FUNNEL_MODELS_SOURCE"
AS_OF_ENV = "FUNNEL_MODELS_AS_OF"
TOKEN_ENV = "FUNNEL_MODELS_TOKEN"
MIN_TOKEN_CHARS = 16

DEFAULT_MAX_KERNELS = 8
DEFAULT_KERNEL_TIMEOUT_S = 120
STOP_GRACE_S = 6.0  # then the server and anything it left are killed: all gone within 10 s

SAMPLE_LEADS, SAMPLE_SEED = 10_000, 7


@dataclass(frozen=True)
class Page:
    """A dashboard page: its URL name, notebook, title and one-line summary."""

    name: str
    notebook: str
    title: str
    summary: str


PAGES = (
    Page(
        "executive",
        "dashboard_executive.ipynb",
        "Executive overview",
        "Where leads stall, how long they wait, what it costs and which side owns it.",
    ),
    Page(
        "handoff",
        "dashboard_handoff.ipynb",
        "Hand-off scorecard",
        "Marketing's side and sales' side of the MQL hand-off, the SLA and response times.",
    ),
    Page(
        "workshop",
        "workshop_smarketing.ipynb",
        "Workshop",
        "Each team's view, the evidence, a what-if simulator and what to do on Monday.",
    ),
)
# what ``funnel-models notebooks DIR`` copies for JupyterLab
ANALYST_NOTEBOOKS = (
    "explore_funnel.ipynb",
    "explore_lead_scoring.ipynb",
    "workshop_smarketing.ipynb",
)


def notebook_path(name: str) -> Path:
    """The shipped notebook for a page name (``executive``) or a file name.

    >>> notebook_path("workshop").name
    'workshop_smarketing.ipynb'
    """
    files = {p.name: p.notebook for p in PAGES}
    filename = files.get(name, name)
    path = NOTEBOOK_DIR / filename
    if not path.is_file():
        known = [*files, *sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb"))]
        raise FunnelConfigError(f"unknown notebook {name!r}; choose one of {', '.join(known)}")
    return path


def sample_dir() -> Path:
    """Where the bundled sample lives: the user's data folder (``platformdirs``), never the
    installed package. On Linux ``$XDG_DATA_HOME/funnel_models/sample``."""
    import platformdirs

    return platformdirs.user_data_path("funnel_models", appauthor=False) / "sample"


def default_source(*, create: bool = True) -> Path:
    """The bundled sample (10,000 synthetic leads, seed 7), generated on first use.

    It is written to a temporary folder beside :func:`sample_dir` and renamed into place, so
    an interrupted generation never leaves half a sample behind.
    """
    sample = sample_dir()
    if (sample / "ground_truth.json").exists() or not create:
        return sample
    from funnel_models.synthetic import generate

    sample.parent.mkdir(parents=True, exist_ok=True)
    print(f"generating the bundled sample in {sample} ...", file=sys.stderr)
    tmp = Path(tempfile.mkdtemp(prefix=".sample-", dir=sample.parent))
    try:
        generate(tmp / "data", n_leads=SAMPLE_LEADS, seed=SAMPLE_SEED)
        try:
            os.replace(tmp / "data", sample)
        except OSError:  # another process made it first
            if not (sample / "ground_truth.json").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return sample


def is_local_host(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only.

    >>> is_local_host("127.0.0.1"), is_local_host("localhost"), is_local_host("0.0.0.0")
    (True, True, False)
    """
    return host in {"localhost", "::1"} or host.startswith("127.")


def resolve_token(
    host: str, *, no_auth: bool, environ: Mapping[str, str]
) -> tuple[str | None, bool]:
    """The login token for ``host`` and whether it was generated here (then it is printed once).

    ``FUNNEL_MODELS_TOKEN`` wins when set; beyond 127.0.0.1 a token is generated when it is
    not. Raises :class:`FunnelConfigError` for an empty or short token, unless ``no_auth``.

    >>> resolve_token("127.0.0.1", no_auth=False, environ={})
    (None, False)
    >>> token, generated = resolve_token("0.0.0.0", no_auth=False, environ={})
    >>> len(token) >= 32, generated
    (True, True)
    >>> resolve_token("0.0.0.0", no_auth=True, environ={})
    (None, False)
    """
    if no_auth:
        return None, False
    given = environ.get(TOKEN_ENV)
    if given is not None:
        if len(given.strip()) < MIN_TOKEN_CHARS:
            raise FunnelConfigError(
                f"{TOKEN_ENV} must hold at least {MIN_TOKEN_CHARS} characters "
                "(unset it to have one generated, or pass --no-auth to serve without a login)"
            )
        return given.strip(), False
    if is_local_host(host):
        return None, False
    return secrets.token_urlsafe(32), True


def cull_settings(kernel_timeout_s: int) -> tuple[int, int]:
    """Jupyter's ``(cull_idle_timeout, cull_interval)`` in seconds such that a kernel with no
    page connected is shut down within ``kernel_timeout_s``: idle past the first, found by a
    check every second.

    >>> cull_settings(120)
    (90, 30)
    >>> cull_settings(8)
    (6, 2)
    """
    if kernel_timeout_s < 2:
        raise FunnelConfigError(
            f"--kernel-timeout must be at least 2 seconds, got {kernel_timeout_s}"
        )
    interval = max(1, min(30, kernel_timeout_s // 4))
    return kernel_timeout_s - interval, interval


@dataclass(frozen=True)
class ServerOptions:
    """How the dashboard server runs (see :func:`serve`)."""

    source: str | Path
    as_of: str | None = None
    host: str = "127.0.0.1"
    port: int = 8866
    preheat: bool = True
    max_kernels: int = DEFAULT_MAX_KERNELS
    kernel_timeout_s: int = DEFAULT_KERNEL_TIMEOUT_S
    token: str | None = None

    def __post_init__(self):
        cull_settings(self.kernel_timeout_s)
        floor = len(PAGES) + 1 if self.preheat else 1
        if self.max_kernels < floor:
            raise FunnelConfigError(
                f"--max-kernels must be at least {floor} "
                f"({'one ready kernel per page plus one visitor' if self.preheat else 'one'}), "
                f"got {self.max_kernels}"
            )

    def url(self, *, with_token: bool = False) -> str:
        """The address to print (with the token only when asked: it is printed once)."""
        host = socket.gethostname() if self.host in {"0.0.0.0", "::", ""} else self.host
        host = f"[{host}]" if ":" in host else host
        token = f"?token={self.token}" if with_token and self.token else ""
        return f"http://{host}:{self.port}/{token}"


def server_command(opts: ServerOptions) -> list[str]:
    """The server's command line: options only, never the source or the token."""
    cmd = [
        sys.executable,
        "-m",
        "funnel_models.app._voila_server",
        f"--host={opts.host}",
        f"--port={opts.port}",
        f"--max-kernels={opts.max_kernels}",
        f"--kernel-timeout={opts.kernel_timeout_s}",
        f"--parent-pid={os.getpid()}",
    ]
    if not opts.preheat:
        cmd.append("--no-preheat")
    return cmd


def server_env(opts: ServerOptions, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The server's environment: the source, ``as_of`` and the token (the secrets travel here).

    The server passes the source on to its kernels and keeps the token to itself.
    """
    env = dict(os.environ if base is None else base)
    env[SOURCE_ENV] = str(opts.source)
    if opts.as_of:
        env[AS_OF_ENV] = str(opts.as_of)
    else:
        env.pop(AS_OF_ENV, None)
    if opts.token:
        env[TOKEN_ENV] = opts.token
    else:
        env.pop(TOKEN_ENV, None)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def check_port_free(host: str, port: int) -> None:
    """A one-line error now rather than a server that cannot listen."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise FunnelConfigError(
                f"cannot listen on {host}:{port} ({exc.strerror}); choose another with --port"
            ) from None


class _Stop(Exception):
    """SIGTERM, SIGINT or SIGHUP arrived."""


def _raise_stop(signum, frame):
    raise _Stop(signum)


def _answering(opts: ServerOptions) -> bool:
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(opts.host, opts.host)
    host = f"[{host}]" if ":" in host else host
    try:  # a static file: answers without a token and without starting a kernel
        with urllib.request.urlopen(
            f"http://{host}:{opts.port}/voila/static/voila.js", timeout=5
        ) as resp:
            return resp.status == 200
    except OSError:
        return False


def _stop_tree(proc: subprocess.Popen, grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM to the server (Voila then shuts its kernels down); after ``grace_s`` SIGKILL to
    the server and to every process it had started that is still there."""
    import psutil

    try:
        tree = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        tree = []
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    _, alive = psutil.wait_procs(tree, timeout=1.0)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()
    psutil.wait_procs(alive, timeout=2.0)


def serve(
    opts: ServerOptions,
    *,
    announce: Callable[[str], None] = print,
    show_token: bool = False,
    startup_timeout_s: float = 120.0,
) -> int:
    """Run the dashboard server until it stops or a signal arrives; returns the exit code.

    The server runs in its own session, so a terminal's Ctrl-C reaches this process only;
    SIGTERM, SIGINT and SIGHUP here stop the server and every kernel (see :func:`_stop_tree`).
    ``announce`` gets one line once the server answers: the address, with the token when
    ``show_token`` (a generated token is printed this once), and the source, redacted.
    """
    stop_signals = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    previous = {s: signal.signal(s, _raise_stop) for s in stop_signals}
    proc: subprocess.Popen | None = None
    try:
        proc = subprocess.Popen(
            server_command(opts),
            env=server_env(opts),
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + startup_timeout_s
        while not _answering(opts):
            if proc.poll() is not None:
                return proc.returncode or 1
            if time.monotonic() > deadline:
                raise FunnelConfigError(
                    f"the dashboard server did not answer on port {opts.port} "
                    f"within {startup_timeout_s:.0f} s"
                )
            time.sleep(0.25)
        announce(
            f"Dashboards on {opts.url(with_token=show_token)}  ({', '.join(p.name for p in PAGES)}; "
            f"source: {redact(opts.source)})  Ctrl-C to stop"
        )
        return proc.wait()
    except _Stop:
        return 0
    finally:
        for s in stop_signals:  # a second Ctrl-C must not cut the clean-up short
            signal.signal(s, signal.SIG_IGN)
        try:
            if proc is not None:
                _stop_tree(proc)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
