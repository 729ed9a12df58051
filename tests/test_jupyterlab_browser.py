"""Analysts in JupyterLab, for real (#14 §5).

``funnel-models notebooks DIR --source DATA`` writes the analyst notebooks; ``jupyter lab``
serves DIR on 127.0.0.1 with a token; Debian's Chromium (Playwright) opens each notebook, runs
all cells through JupyterLab's own "Run All Cells" command and then checks what an analyst
sees: every code cell ran, no cell produced an error, every plotly chart is drawn and every
widget is live (rendered, not "Loading widget" or "Error displaying widget"). Screenshots go to
test-artifacts/.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import time

import pytest
from _voila import CHROMIUM, CHROMIUM_ARGS, free_port, get

from funnel_models.cli import main

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOKS = ("explore_funnel", "explore_lead_scoring")
RUN_TIMEOUT_MS = 600_000  # under the test's own 900 s


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} not found; run `make browser-deps` (installs Debian's chromium)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory, small_dataset, artifacts_dir):
    """``jupyter lab`` on the folder ``funnel-models notebooks`` wrote; yields (url, token)."""
    root = tmp_path_factory.mktemp("lab")
    notebooks = root / "notebooks"
    assert main(["notebooks", str(notebooks), "--source", str(small_dataset)]) == 0
    token, port = secrets.token_hex(24), free_port()
    env = {
        **os.environ,
        "JUPYTER_TOKEN": token,  # the token by environment, not argv
        "JUPYTER_CONFIG_DIR": str(root / "config"),  # no user configuration applies
        "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(root / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(root / "workspaces"),
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]]),
    }
    for name in ("FUNNEL_MODELS_SOURCE", "FUNNEL_MODELS_AS_OF"):
        env.pop(name, None)  # the notebooks' own parameters cell names the data
    log = open(artifacts_dir / "jupyterlab.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
            f"--port={port}", f"--ServerApp.root_dir={notebooks}",
            "--ServerApp.port_retries=0",
            "--allow-root",  # CI runs as root; harmless otherwise
            "--LabApp.extension_manager=readonly",  # no look-ups on PyPI
            "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: run commands as menus do
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while _status(f"{base}api/status?token={token}") != 200:
            assert proc.poll() is None, "jupyter lab exited; see test-artifacts/jupyterlab.log"
            assert time.monotonic() < deadline, "jupyter lab did not answer in 120 s"
            time.sleep(0.5)
        assert get(f"{base}api/status", timeout=5)[0] == 403  # the token is required
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
            proc.wait(timeout=10)
        log.close()


def _status(url: str) -> int | None:
    try:
        return get(url, timeout=5)[0]
    except OSError:  # not listening yet
        return None


# The notebook panel of one file (never "the current tab": JupyterLab may restore others).
_PANEL = """const panel = (() => {
  const app = window.jupyterapp;
  if (!app) return null;
  for (const w of app.shell.widgets('main')) if (w.context && w.context.path === path) return w;
  return null;
})();"""

_KERNEL_IDLE = (
    "path => { "
    + _PANEL
    + """
  const k = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;
  return Boolean(k) && k.status === 'idle'; }"""
)

_RUN_ALL = (
    "async path => { "
    + _PANEL
    + """
  window.jupyterapp.shell.activateById(panel.id);
  if (window.jupyterapp.shell.currentWidget !== panel) throw new Error('not activated');
  await window.jupyterapp.commands.execute('notebook:run-all-cells');
  return true; }"""
)

_RAN_ALL = (
    "path => { "
    + _PANEL
    + """
  if (!panel) return false;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  if (!kernel || kernel.status !== 'idle') return false;
  const cells = panel.content.widgets.filter(c => c.model.type === 'code');
  return cells.length > 0 && cells.every(c => c.model.executionCount !== null); }"""
)

_OUTPUTS = (
    "path => { "
    + _PANEL
    + """
  const out = {errors: [], plotly: 0, widgets: 0};
  for (const cell of panel.content.widgets) {
    if (cell.model.type !== 'code') continue;
    for (const o of cell.model.outputs.toJSON()) {
      if (o.output_type === 'error') out.errors.push(`${o.ename}: ${o.evalue}`);
      const data = o.data || {};
      if (data['application/vnd.plotly.v1+json']) out.plotly += 1;
      if (data['application/vnd.jupyter.widget-view+json']) out.widgets += 1;
    }
  }
  return out; }"""
)


@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_jupyterlab(browser, lab, name, artifacts_dir):
    base, token = lab
    path = f"{name}.ipynb"
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    js_errors: list[str] = []
    page.on("pageerror", lambda exc: js_errors.append(str(exc)))
    # ?reset: a fresh workspace, so only this notebook is open
    page.goto(f"{base}lab/tree/{path}?reset&token={token}", timeout=120_000)
    page.wait_for_function(_KERNEL_IDLE, arg=path, timeout=180_000)
    page.evaluate(_RUN_ALL, path)  # Run > Run All Cells
    page.wait_for_function(_RAN_ALL, arg=path, timeout=RUN_TIMEOUT_MS, polling=1000)
    outputs = page.evaluate(_OUTPUTS, path)
    assert not outputs["errors"], outputs["errors"]
    assert outputs["plotly"] >= 1, "the notebook shows no chart"
    page.wait_for_function(
        "n => document.querySelectorAll('.jp-OutputArea .js-plotly-plot .main-svg').length >= 2 * n",
        arg=outputs["plotly"],
        timeout=60_000,
    )
    if outputs["widgets"]:
        page.wait_for_function(
            "n => document.querySelectorAll('.jp-OutputArea .jupyter-widgets').length >= n",
            arg=outputs["widgets"],
            timeout=60_000,
        )
    text = page.locator(".jp-NotebookPanel:visible").inner_text()
    for bad in ("Error displaying widget", "Loading widget", "Traceback"):
        assert bad not in text, f"{bad!r} in {name}"
    page.screenshot(path=str(artifacts_dir / f"jupyterlab_{name}.png"), full_page=False)
    assert not js_errors, js_errors
    page.close()
