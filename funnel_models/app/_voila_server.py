"""The dashboard server process: Voila serving every dashboard page on one port.

Started by ``funnel-models dashboard`` (:func:`funnel_models.app.voila.serve`) as
``python -m funnel_models.app._voila_server --host H --port P ...``; the data source and the
token arrive in the environment (``FUNNEL_MODELS_SOURCE``, ``FUNNEL_MODELS_TOKEN``), never on
the command line. What it adds to Voila:

* a serving folder holding exactly the dashboard pages (``executive.ipynb``, ...), so nothing
  else is reachable, and a landing page at ``/`` linking them (the template adds a navigation
  bar to every page);
* :class:`FunnelKernelManager`: at most ``max_kernels`` kernels (a visitor past that gets a
  503 "busy, retry" page; refilling a page's preheated kernel waits for room), with Jupyter's
  idle culler for kernels that no page is connected to;
* pages that answer 403 without the token instead of redirecting (like Jupyter's API), and
  that set the ``_xsrf`` cookie Voila's unload request needs to shut the page's kernel down;
* the token is read once and removed from the environment the kernels inherit; the server
  exits when ``funnel-models dashboard`` dies (``PR_SET_PDEATHSIG`` on Linux).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import plotly
import tornado.web
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from jupyter_server.utils import url_path_join
from traitlets import Integer
from traitlets.config import Config
from voila.app import Voila
from voila.handler import BaseVoilaHandler
from voila.tornado.contentshandler import VoilaContentsHandler
from voila.tornado.handler import TornadoVoilaHandler
from voila.tornado.treehandler import TornadoVoilaTreeHandler

from funnel_models.app.voila import (
    DEFAULT_KERNEL_TIMEOUT_S,
    DEFAULT_MAX_KERNELS,
    PAGES,
    TEMPLATE,
    TEMPLATE_ROOT,
    TOKEN_ENV,
    cull_settings,
    notebook_path,
)

BUSY_MESSAGE = (
    "All {max_kernels} dashboard sessions are in use. Please try again in a minute or two: "
    "sessions are freed as soon as other visitors close their page."
)
RETRY_AFTER_S = 60
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


class FunnelKernelManager(AsyncMappingKernelManager):
    """Jupyter's kernel manager with a cap on the number of kernels.

    A visitor's kernel past the cap raises a 503 (the "busy, retry" page). Voila's refill of a
    page's preheated kernel waits until there is room instead, so the cap holds for every
    kernel, ready or in use.
    """

    max_kernels = Integer(
        DEFAULT_MAX_KERNELS, config=True, help="At most this many kernels run at once."
    )

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._starting = 0
        self._closing = False

    def kernel_count(self) -> int:
        """Kernels running or starting."""
        return len(self.list_kernel_ids()) + self._starting

    def has_room(self) -> bool:
        """Whether one more kernel may start (a visitor's, or the refill a visit triggers)."""
        return self.kernel_count() < self.max_kernels

    async def start_kernel(self, **kwargs):
        refill = (kwargs.get("env") or {}).get("VOILA_PREHEAT") == "True"
        while not self.has_room():
            if self._closing:
                raise RuntimeError("the server is stopping")
            if not refill:
                raise tornado.web.HTTPError(503, BUSY_MESSAGE.format(max_kernels=self.max_kernels))
            await asyncio.sleep(1.0)
        if self._closing:
            raise RuntimeError("the server is stopping")
        self._starting += 1
        try:
            return await super().start_kernel(**kwargs)
        finally:
            self._starting -= 1

    async def shutdown_all(self, now=False):
        self._closing = True
        await super().shutdown_all(now=now)


class _NoRedirectLogin:
    """Answer 403 to a visitor without the token, as Jupyter's API does, instead of a redirect;
    the 403 page links the login form."""

    def get_login_url(self) -> str:
        if not self.current_user:
            raise tornado.web.HTTPError(403)
        return super().get_login_url()


class PageHandler(_NoRedirectLogin, TornadoVoilaHandler):
    """A dashboard page, or the "busy, retry" page when the kernels are all in use."""

    @tornado.web.authenticated
    async def get(self, path=None):
        if not self.kernel_manager.has_room():
            self.set_header("Retry-After", str(RETRY_AFTER_S))
            raise tornado.web.HTTPError(
                503, BUSY_MESSAGE.format(max_kernels=self.kernel_manager.max_kernels)
            )
        # Voila's page shuts its kernel down on unload with a POST that carries the `_xsrf`
        # cookie; tornado sets that cookie only when the token is read, and Voila never does.
        _ = self.xsrf_token
        await super().get(path)

    def write_error(self, status_code, **kwargs):
        if status_code == 503:
            self.set_header("Retry-After", str(RETRY_AFTER_S))
        super().write_error(status_code, **kwargs)


class LandingHandler(_NoRedirectLogin, BaseVoilaHandler):
    """``/``: the list of dashboard pages."""

    @tornado.web.authenticated
    def get(self):
        pages = [
            {"title": p.title, "summary": p.summary, "url": f"voila/render/{p.name}.ipynb"}
            for p in PAGES
        ]
        self.write(self.render_template("landing.html", pages=pages))


class FunnelVoila(Voila):
    """Voila in directory mode over the dashboard pages, with our handlers."""

    def init_handlers(self):
        handlers = []
        for pattern, handler, *rest in super().init_handlers():
            if handler in (TornadoVoilaTreeHandler, VoilaContentsHandler):
                continue  # no file browser: the landing page lists the pages
            if handler is TornadoVoilaHandler:
                handler = PageHandler
            handlers.append((pattern, handler, *rest))
        landing = (
            url_path_join(self.server_url, r"/?"),
            LandingHandler,
            {"voila_configuration": self.voila_configuration},
        )
        plotly_js = (  # for the figures a cell shows as HTML (see the template)
            url_path_join(self.server_url, r"/voila/funnel_models/(plotly\.min\.js)"),
            tornado.web.StaticFileHandler,
            {"path": str(PLOTLY_JS.parent)},
        )
        return [landing, plotly_js, *handlers]


def _die_with_parent(parent_pid: int | None) -> None:
    """Exit (SIGTERM) when ``funnel-models dashboard`` dies, even by SIGKILL (Linux)."""
    if not parent_pid or not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent_pid:  # it died before we got here
        os.kill(os.getpid(), signal.SIGTERM)


def make_serving_folder() -> Path:
    """A private folder holding exactly the dashboard pages, named by their URL name."""
    root = Path(tempfile.mkdtemp(prefix="funnel_models_pages_"))
    for page in PAGES:
        shutil.copyfile(notebook_path(page.name), root / f"{page.name}.ipynb")
    return root


def voila_config(args: argparse.Namespace, token: str | None) -> Config:
    """The Voila configuration for the options of :func:`main`."""
    cull_idle_s, cull_interval_s = cull_settings(args.kernel_timeout)
    cfg = Config()
    cfg.Voila.ip = args.host
    cfg.Voila.port = args.port
    cfg.Voila.port_retries = 0  # the printed address is the one served, or the server stops
    cfg.Voila.open_browser = False
    cfg.Voila.config_file_paths = []  # no voila.json from the working folder changes this server
    cfg.Voila.token = token  # None: no login (127.0.0.1 only, or --no-auth)
    cfg.VoilaConfiguration.template = TEMPLATE
    cfg.VoilaConfiguration.strip_sources = True
    cfg.VoilaConfiguration.show_tracebacks = False
    cfg.VoilaConfiguration.preheat_kernel = args.preheat
    cfg.VoilaConfiguration.default_pool_size = 1
    cfg.VoilaConfiguration.multi_kernel_manager_class = FunnelKernelManager
    # the template's navigation bar: the landing page and every dashboard page
    cfg.VoilaConfiguration.resources = {
        "funnel_models": {
            "pages": [
                {"name": p.name, "title": p.title, "url": f"voila/render/{p.name}.ipynb"}
                for p in PAGES
            ],
            "plotly_js": "voila/funnel_models/plotly.min.js",
        }
    }
    cfg.FunnelKernelManager.max_kernels = args.max_kernels
    cfg.FunnelKernelManager.cull_idle_timeout = cull_idle_s
    cfg.FunnelKernelManager.cull_interval = cull_interval_s
    cfg.FunnelKernelManager.cull_connected = False  # a page that is open keeps its kernel
    # a page's websocket waits this long for its kernel (Jupyter's 60 s failed on a machine
    # loaded 4x over, leaving the page without its widgets)
    cfg.FunnelKernelManager.kernel_info_timeout = 180
    cfg.KernelManager.shutdown_wait_time = 2.0  # then the kernel is killed: a quick stop
    return cfg


def main_parser() -> argparse.ArgumentParser:
    """The server's options (what :func:`funnel_models.app.voila.server_command` passes)."""
    parser = argparse.ArgumentParser(prog="python -m funnel_models.app._voila_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8866)
    parser.add_argument("--max-kernels", type=int, default=DEFAULT_MAX_KERNELS)
    parser.add_argument("--kernel-timeout", type=int, default=DEFAULT_KERNEL_TIMEOUT_S)
    parser.add_argument("--no-preheat", dest="preheat", action="store_false")
    parser.add_argument("--parent-pid", type=int, default=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = main_parser().parse_args(argv)

    _die_with_parent(args.parent_pid)
    token = os.environ.pop(TOKEN_ENV, None) or None  # the kernels inherit the rest
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        p for p in (str(TEMPLATE_ROOT), os.environ.get("JUPYTER_PATH", "")) if p
    )
    root = make_serving_folder()
    try:
        app = FunnelVoila(config=voila_config(args, token))
        app.initialize([str(root)])
        app.start()  # returns after SIGTERM or SIGINT, once every kernel is shut down
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
