"""The executive dashboard as a person sees it: Voila on 127.0.0.1, Debian's Chromium.

Skipped when /usr/bin/chromium is missing, except under CI=true where that is a failure
(`make browser-deps` installs it).
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import pytest
from _voila import CHROMIUM, CHROMIUM_ARGS, REPO, serve_voila

import funnel_models as fm

pytestmark = pytest.mark.browser

NOTEBOOK = REPO / "notebooks" / "dashboard_executive.ipynb"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
RENDER_TIMEOUT_MS = 180_000


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} not found; run `make browser-deps` (installs Debian's chromium)"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in {"data", "blob", "about"}:
        return True
    return parts.hostname in LOCAL_HOSTS


@pytest.fixture(scope="module")
def browser():
    _require_chromium()
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_executive_dashboard_renders_offline(browser, small_dataset, artifacts_dir):
    table = fm.stage_counts(fm.load(small_dataset))
    requests: list[str] = []
    page_errors: list[str] = []
    log_path = artifacts_dir / "voila_dashboard_executive.log"
    with serve_voila(
        NOTEBOOK, env={"FUNNEL_MODELS_SOURCE": str(small_dataset)}, log_path=log_path
    ) as url:
        page = browser.new_page(viewport={"width": 1366, "height": 1700})
        page.on("request", lambda request: requests.append(request.url))
        page.on("websocket", lambda ws: requests.append(ws.url))
        page.on("pageerror", lambda exc: page_errors.append(str(exc)))
        try:
            page.goto(url, timeout=RENDER_TIMEOUT_MS)
            # the funnel is drawn: one bar per stage in plotly's funnel layer
            bars = page.locator(".js-plotly-plot .funnellayer .point path")
            bars.first.wait_for(state="visible", timeout=RENDER_TIMEOUT_MS)
            page.wait_for_function(
                "n => document.querySelectorAll('.js-plotly-plot .funnellayer .point path')"
                ".length >= n",
                arg=len(table),
                timeout=30_000,
            )
            page.locator(".fm-headline").wait_for(state="visible", timeout=30_000)
            page.wait_for_load_state("networkidle", timeout=30_000)
            page.screenshot(path=str(artifacts_dir / "dashboard_executive.png"), full_page=True)
            body_text = page.locator("body").inner_text()
            svg_text = " ".join(page.locator(".js-plotly-plot svg text").all_text_contents())
        finally:
            page.close()

    seen = f"{body_text}\n{svg_text}"
    for stage, count in table["entered"].items():
        assert stage in seen, f"stage {stage!r} not shown"
        assert f"{int(count):,}" in seen, f"{stage}: {int(count):,} leads not shown"
    for bad in ("Traceback", "Error"):
        assert bad not in body_text, f"{bad!r} on the page; see {log_path}"
    assert not page_errors, f"JavaScript errors: {page_errors}"
    external = sorted({u for u in requests if not _is_local(u)})
    assert not external, f"requests leaving 127.0.0.1: {external}"
    assert any(u.startswith(url) for u in requests)
