"""The dashboard server, safe to leave running (#13 §1-3, #14 §3).

Every server test runs the real ``funnel-models dashboard`` as a subprocess on a free
127.0.0.1 port and talks HTTP to it (the pages as a person sees them are in
test_dashboard_browser.py):

* one server, three pages and a landing page; SIGTERM and SIGINT leave no process and close
  the port within 10 s; killing the command itself takes the server down too;
* a cap on kernels with a "busy, retry" page, idle kernels culled, memory bounded over 50
  requests in a row;
* beyond 127.0.0.1 the page and the kernel websocket answer 403 without the token;
* a database password never reaches argv, the start-up line, the log or the error panel.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _voila import (
    PAGE_NAMES,
    command_env,
    get,
    port_open,
    serve_dashboard,
    wait_for,
)

from funnel_models.app.voila import (
    DEFAULT_KERNEL_TIMEOUT_S,
    DEFAULT_MAX_KERNELS,
    ServerOptions,
    cull_settings,
    resolve_token,
    server_command,
)
from funnel_models.cli import main

SECRET = "s3cr3t-Pa55"
PG_URL = f"postgresql://ann:{SECRET}@127.0.0.1:9/crm"  # port 9: nothing answers


def _cli(*args, env=None, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "funnel_models.cli", *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=command_env(env),
        timeout=timeout,
    )


# ---- options, without a server ------------------------------------------------------------------
def test_documented_defaults():
    assert DEFAULT_MAX_KERNELS == 8
    assert DEFAULT_KERNEL_TIMEOUT_S == 120
    help_text = _cli("dashboard", "--help").stdout
    assert "--max-kernels" in help_text and "(default: 8)" in help_text
    assert "--kernel-timeout" in help_text and "(default: 120)" in help_text


@pytest.mark.parametrize("timeout_s", [2, 3, 8, 60, 120, 121, 3600])
def test_cull_settings_shut_an_unconnected_kernel_down_within_the_timeout(timeout_s):
    idle_s, interval_s = cull_settings(timeout_s)
    # culled at the first check after idle_s: at the latest idle_s + interval_s
    assert idle_s >= 1 and interval_s >= 1
    assert idle_s + interval_s <= timeout_s


def test_token_rules():
    assert resolve_token("127.0.0.1", no_auth=False, environ={}) == (None, False)
    token, generated = resolve_token("0.0.0.0", no_auth=False, environ={})
    assert generated and len(token) >= 32
    other, _ = resolve_token("0.0.0.0", no_auth=False, environ={})
    assert other != token  # not a constant
    given = "x" * 24
    assert resolve_token("0.0.0.0", no_auth=False, environ={"FUNNEL_MODELS_TOKEN": given}) == (
        given,
        False,
    )
    assert resolve_token("0.0.0.0", no_auth=True, environ={}) == (None, False)


@pytest.mark.parametrize("token", ["", "short"])
def test_refuses_to_start_with_an_empty_or_short_token(token):
    result = _cli("dashboard", "--host", "0.0.0.0", env={"FUNNEL_MODELS_TOKEN": token})
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "--no-auth" in result.stderr and "Traceback" not in result.stderr


def test_no_auth_beyond_localhost_warns(tmp_path):
    result = _cli(
        "dashboard", str(tmp_path), "--host", "0.0.0.0", "--no-auth", "--dry-run",
        env={"XDG_DATA_HOME": str(tmp_path / "xdg")},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "WARNING" in result.stderr and "no login" in result.stderr


def test_max_kernels_leaves_room_for_a_visitor():
    with pytest.raises(ValueError, match="at least 4"):
        ServerOptions(source="x", max_kernels=3)
    assert ServerOptions(source="x", max_kernels=1, preheat=False).max_kernels == 1


def test_server_command_holds_no_secret_and_dry_run_redacts(tmp_path):
    opts = ServerOptions(source=PG_URL, token="t" * 40)
    assert not [part for part in server_command(opts) if SECRET in part or "t" * 40 in part]
    result = _cli("dashboard", PG_URL, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert "postgresql://ann:***@127.0.0.1:9/crm" in result.stdout


def test_server_is_local_offline_and_code_free_by_default():
    """What the server process configures Voila with (moved from test_report.py)."""
    from funnel_models.app._voila_server import FunnelKernelManager, main_parser, voila_config

    cfg = voila_config(main_parser().parse_args([]), token=None)
    assert cfg.Voila.ip == "127.0.0.1" and cfg.Voila.token is None
    assert cfg.Voila.port_retries == 0 and cfg.Voila.config_file_paths == []
    voila = cfg.VoilaConfiguration
    assert voila.template == "funnel_models"  # offline: no CDN (see the browser tests)
    assert voila.strip_sources is True and voila.show_tracebacks is False
    assert voila.preheat_kernel is True and voila.default_pool_size == 1
    assert voila.multi_kernel_manager_class is FunnelKernelManager
    assert cfg.FunnelKernelManager.max_kernels == DEFAULT_MAX_KERNELS
    assert cfg.FunnelKernelManager.cull_connected is False
    args = main_parser().parse_args(["--host=0.0.0.0", "--no-preheat", "--kernel-timeout=60"])
    cfg = voila_config(args, token="t" * 32)
    assert cfg.Voila.ip == "0.0.0.0" and cfg.Voila.token == "t" * 32
    assert cfg.VoilaConfiguration.preheat_kernel is False
    idle_s, interval_s = cull_settings(60)
    assert cfg.FunnelKernelManager.cull_idle_timeout == idle_s
    assert cfg.FunnelKernelManager.cull_interval == interval_s


def test_dry_run_writes_no_sample(tmp_path):
    xdg = tmp_path / "xdg"
    result = _cli("dashboard", "--dry-run", env={"XDG_DATA_HOME": str(xdg)})
    assert result.returncode == 0, result.stderr
    assert str(xdg / "funnel_models" / "sample") in result.stdout
    assert not xdg.exists()


def test_bundled_sample_goes_to_the_user_data_folder_once(tmp_path, monkeypatch):
    from funnel_models.app import voila

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    sample = voila.default_source()
    assert sample == tmp_path / "xdg" / "funnel_models" / "sample"
    truth = json.loads((sample / "ground_truth.json").read_text())
    assert truth["rows"]["leads"] == voila.SAMPLE_LEADS
    stamp = (sample / "leads.parquet").stat().st_mtime_ns
    assert voila.default_source() == sample  # not generated again
    assert (sample / "leads.parquet").stat().st_mtime_ns == stamp
    assert sorted(p.name for p in sample.parent.iterdir()) == ["sample"]  # no temporary left
    package = Path(voila.__file__).resolve().parents[1]
    assert not sample.resolve().is_relative_to(package)


def test_error_panel_redacts_the_password():
    """The panel a dashboard shows for an unreadable source (what the page draws)."""
    from funnel_models.app.widgets import executive_dashboard, handoff_dashboard

    for build in (executive_dashboard, handoff_dashboard):
        panel = build(PG_URL).value
        assert "cannot be shown" in panel
        assert SECRET not in panel
        assert "ann:***@127.0.0.1" in panel


# ---- notebooks DIR ---------------------------------------------------------------------------
def test_notebooks_command_copies_them_reading_the_source(tmp_path, small_dataset):
    import nbformat

    out = tmp_path / "nb"
    assert main(["notebooks", str(out), "--source", str(small_dataset)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "explore_funnel.ipynb",
        "explore_lead_scoring.ipynb",
        "workshop_smarketing.ipynb",
    ]
    for path in out.iterdir():
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        params = nb.cells[0]
        assert "parameters" in params.metadata["tags"]
        assert f"source = {json.dumps(str(small_dataset))}" in params.source
        assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
    # an existing folder of notebooks is kept unless --force
    (out / "explore_funnel.ipynb").write_text("mine")
    assert main(["notebooks", str(out), "--source", str(small_dataset)]) == 2
    assert (out / "explore_funnel.ipynb").read_text() == "mine"
    assert main(["notebooks", str(out), "--source", str(small_dataset), "--force"]) == 0
    assert (out / "explore_funnel.ipynb").read_text() != "mine"


def test_notebooks_command_never_writes_a_password(tmp_path, capsys):
    assert main(["notebooks", str(tmp_path / "nb"), "--source", PG_URL]) == 2
    err = capsys.readouterr().err
    assert SECRET not in err and "FUNNEL_MODELS_SOURCE" in err
    assert not (tmp_path / "nb").exists()


# ---- one server, every page --------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(small_dataset, artifacts_dir):
    with serve_dashboard(small_dataset, log_path=artifacts_dir / "serve_module.log") as served:
        yield served


@pytest.mark.slow
def test_landing_page_links_every_page(server):
    status, body, _ = get(server.base)
    assert status == 200
    for name in PAGE_NAMES:
        assert f'href="/voila/render/{name}.ipynb"' in body
    for title in ("Executive overview", "Hand-off scorecard", "Workshop"):
        assert title in body
    assert not re.search(r"(src|href)=\"https?://", body), "the landing page loads nothing external"


@pytest.mark.slow
@pytest.mark.parametrize("name", PAGE_NAMES)
def test_each_page_is_served_with_the_navigation(server, name):
    status, body, _ = get(server.page_url(name))
    assert status == 200
    nav = re.search(r'<nav class="fm-nav".*?</nav>', body, re.S).group(0)
    for other in PAGE_NAMES:
        assert f"/voila/render/{other}.ipynb" in nav
    assert re.search(rf'fm-current" href="/voila/render/{name}.ipynb"', nav)
    assert "Traceback" not in body


@pytest.mark.slow
def test_only_the_dashboard_pages_are_served(server):
    assert get(server.page_url("explore_funnel"))[0] == 404
    assert get(f"{server.base}voila/tree")[0] == 404
    assert get(f"{server.base}voila/api/contents/")[0] == 404


@pytest.mark.slow
def test_pages_are_preheated(server):
    # one ready kernel per page once started, without any visitor
    assert wait_for(lambda: len(server.kernels()) >= len(PAGE_NAMES), 240)


# ---- signals ------------------------------------------------------------------------------------
def _stop_and_check(served, sig):
    tree = served.tree()
    assert len(tree) >= 2 + len(PAGE_NAMES)  # command, server, a kernel per page at least
    started = time.monotonic()
    served.proc.send_signal(sig)
    served.proc.wait(timeout=10)
    import psutil

    _, alive = psutil.wait_procs(tree, timeout=max(0.1, 10 - (time.monotonic() - started)))
    elapsed = time.monotonic() - started
    assert not alive, f"left running {elapsed:.1f} s after the signal: {alive}"
    assert elapsed <= 10
    assert not port_open(served.port), "the port still answers"
    return served.proc.returncode


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_the_server_and_every_kernel(small_dataset, artifacts_dir, sig):
    log = artifacts_dir / f"serve_{sig.name}.log"
    with serve_dashboard(small_dataset, log_path=log) as served:
        assert wait_for(lambda: len(served.kernels()) >= len(PAGE_NAMES), 240)
        assert get(served.page_url("executive"))[0] == 200  # a visitor's kernel as well
        assert _stop_and_check(served, sig) == 0


@pytest.mark.slow
def test_killing_the_command_takes_the_server_down(small_dataset, artifacts_dir):
    with serve_dashboard(small_dataset, log_path=artifacts_dir / "serve_SIGKILL.log") as served:
        assert wait_for(lambda: len(served.kernels()) >= len(PAGE_NAMES), 240)
        rest = served.tree()[1:]
        served.proc.kill()  # no chance to clean up: the server must notice by itself
        import psutil

        _, alive = psutil.wait_procs(rest, timeout=10)
        assert not alive, alive
        assert not port_open(served.port)


# ---- kernels: cap, culling, memory ------------------------------------------------------------
MAX_KERNELS = 5  # three ready (one per page) + two visitors: a light test on two cores
KERNEL_TIMEOUT_S = 8
KERNEL_RSS_BOUND = 600e6  # a dashboard kernel measured about 300 MB
SERVER_RSS_BOUND = 400e6  # the command and the server


@pytest.mark.slow
def test_fifty_requests_keep_kernels_and_memory_bounded(small_dataset, artifacts_dir):
    args = [f"--max-kernels={MAX_KERNELS}", f"--kernel-timeout={KERNEL_TIMEOUT_S}"]
    with serve_dashboard(
        small_dataset, args=args, log_path=artifacts_dir / "serve_fifty.log"
    ) as served:
        assert wait_for(lambda: len(served.kernels()) >= len(PAGE_NAMES), 240)
        statuses, peak_kernels, peak_rss = [], 0, 0
        for i in range(50):
            status, body, headers = get(served.page_url(PAGE_NAMES[i % 3]))
            statuses.append(status)
            if status == 503:
                assert "Busy: please retry" in body and headers["Retry-After"]
            else:
                assert status == 200, body[:500]
            peak_kernels = max(peak_kernels, len(served.kernels()))
            peak_rss = max(peak_rss, served.rss_bytes())
        served_ok = statuses.count(200)
        # the first visitors get a page, the rest a busy page, and the server stays up
        assert served_ok >= MAX_KERNELS - len(PAGE_NAMES), statuses
        assert 503 in statuses
        assert get(served.base)[0] == 200
        assert peak_kernels <= MAX_KERNELS
        assert peak_rss <= MAX_KERNELS * KERNEL_RSS_BOUND + SERVER_RSS_BOUND, peak_rss / 1e6
        (artifacts_dir / "serve_fifty.json").write_text(
            json.dumps(
                {"statuses": statuses, "peak_kernels": peak_kernels, "peak_rss_mb": peak_rss / 1e6}
            )
        )
        # nobody is connected: the visitors' kernels are shut down within the timeout and the
        # pages are ready again (one kernel each)
        started = time.monotonic()
        assert wait_for(
            lambda: len(served.kernels()) <= len(PAGE_NAMES), KERNEL_TIMEOUT_S + 20, 0.5
        ), [p.pid for p in served.kernels()]
        assert time.monotonic() - started <= KERNEL_TIMEOUT_S + 20
        assert wait_for(lambda: get(served.page_url("executive"))[0] == 200, 120, 2)


# ---- a login beyond 127.0.0.1 ------------------------------------------------------------------
def _kernel_id(body: str) -> str:
    config = re.search(
        r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', body, re.S
    )
    return json.loads(config.group(1))["kernelId"]


async def _websocket_status(url: str, headers: dict) -> int:
    from tornado.httpclient import HTTPClientError, HTTPRequest
    from tornado.websocket import websocket_connect

    try:
        conn = await websocket_connect(HTTPRequest(url, headers=headers, connect_timeout=30))
    except HTTPClientError as exc:
        return exc.code
    conn.close()
    return 101  # switched protocols: the socket is open


@pytest.mark.slow
def test_beyond_localhost_page_and_websocket_need_the_token(small_dataset, artifacts_dir):
    log = artifacts_dir / "serve_token.log"
    with serve_dashboard(small_dataset, args=["--host=0.0.0.0"], log_path=log) as served:
        token = re.search(r"\?token=(\S+)", served.announced).group(1)
        assert len(token) >= 32
        page = served.page_url("executive")
        # without the token: 403 for the landing page, a page and the kernel websocket
        assert get(served.base)[0] == 403
        status, body, _ = get(page)
        assert status == 403 and "Sign in" in body and "kernelId" not in body
        # with it: 200, and the page's kernel accepts a websocket with the token only
        assert get(f"{served.base}?token={token}")[0] == 200
        status, body, _ = get(f"{page}?token={token}")
        assert status == 200
        ws = f"ws://127.0.0.1:{served.port}/api/kernels/{_kernel_id(body)}/channels"
        assert asyncio.run(_websocket_status(ws, {})) == 403
        assert asyncio.run(_websocket_status(ws, {"Authorization": "token wrong"})) == 403
        assert asyncio.run(_websocket_status(ws, {"Authorization": f"token {token}"})) == 101
    text = log.read_text(errors="replace")
    assert token not in text, "the token is printed once, by the command, not logged"


# ---- secrets -----------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("how", ["argument", "environment"])
def test_the_password_reaches_no_command_line_line_or_log(artifacts_dir, how):
    log = artifacts_dir / f"serve_secret_{how}.log"
    source, env = (PG_URL, None) if how == "argument" else (None, {"FUNNEL_MODELS_SOURCE": PG_URL})
    with serve_dashboard(source, env=env, log_path=log) as served:
        assert "postgresql://ann:***@127.0.0.1:9/crm" in served.announced
        assert wait_for(lambda: len(served.kernels()) >= len(PAGE_NAMES), 240)
        status, body, _ = get(served.page_url("executive"))
        assert status == 200 and SECRET not in body
        tree = served.tree()
        # what `ps` shows: the server's and the kernels' command lines never hold it; the
        # command's own holds what the user typed (pass it in FUNNEL_MODELS_SOURCE to avoid that)
        server_and_kernels = tree[1:]
        assert len(server_and_kernels) >= 1 + len(PAGE_NAMES)
        for p in server_and_kernels if how == "argument" else tree:
            assert SECRET not in " ".join(p.cmdline()), p.cmdline()
        # the kernels have it, in their environment: that is how it reaches them
        assert any(SECRET in p.environ().get("FUNNEL_MODELS_SOURCE", "") for p in served.kernels())
    assert SECRET not in "\n".join(served.lines)
    assert SECRET not in log.read_text(errors="replace")
