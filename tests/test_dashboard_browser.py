"""The dashboards as a person sees them: `funnel-models dashboard` on 127.0.0.1, Debian's
Chromium through Playwright.

One server for the whole module serves every page; each page is reached from the landing page
or the navigation bar. For each page: it loads, every chart is drawn, the headline stall
sentence is there, changing a filter changes the numbers shown, no traceback or error text, no
request leaves 127.0.0.1; screenshots go to test-artifacts/. Expected numbers come from plain
pandas on the generated tables, not from the dashboard code. Also: a dashboard on an empty
source, or on a database it cannot reach, shows a plain message (the password redacted), and
the static report and the slides open with the network off and draw every chart.

Skipped when /usr/bin/chromium is missing, except under CI=true where that is a failure
(`make browser-deps` installs it).
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

import pandas as pd
import pytest
from _voila import CHROMIUM, CHROMIUM_ARGS, serve_dashboard, wait_for

# a few minutes in all (three servers, the report, the slides): slow as well
pytestmark = [pytest.mark.browser, pytest.mark.slow]

LOCAL_HOSTS = {"127.0.0.1", "localhost"}
RENDER_TIMEOUT_MS = 240_000
BAD_WORDS = ("Traceback", "Error", "Exception")
NAV = {"executive": "Executive overview", "handoff": "Hand-off scorecard", "workshop": "Workshop"}


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} not found; run `make browser-deps` (installs Debian's chromium)"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in {"data", "blob", "about", "file"}:
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


@pytest.fixture(scope="module")
def tables(small_dataset):
    """The generated tables, read with plain pandas (the independent side of every check)."""
    return {
        name: pd.read_parquet(small_dataset / f"{name}.parquet")
        for name in ("leads", "stage_events")
    }


@pytest.fixture(scope="module")
def server(small_dataset, artifacts_dir):
    """`funnel-models dashboard SOURCE`: every page on one port."""
    with serve_dashboard(small_dataset, log_path=artifacts_dir / "dashboard_server.log") as served:
        yield served


class Page:
    """A browser tab on the dashboard server; records requests and JavaScript errors."""

    def __init__(self, browser, url, name, artifacts_dir):
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.name = name
        self.artifacts_dir = artifacts_dir
        self.url = url
        self.page = browser.new_page(viewport={"width": 1366, "height": 1700})
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("websocket", lambda ws: self.requests.append(ws.url))
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.goto(url, timeout=RENDER_TIMEOUT_MS)

    def follow(self, link_text: str, *, nav: bool = True) -> None:
        """Click a link of the navigation bar (or a landing-page card) and wait for the page."""
        scope = self.page.locator("nav.fm-nav") if nav else self.page.locator(".fm-cards")
        with self.page.expect_navigation(timeout=RENDER_TIMEOUT_MS):
            scope.get_by_text(link_text, exact=True).click()

    def wait_for_charts(self, n: int) -> None:
        self.page.wait_for_function(
            "n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 2 * n",
            arg=n,
            timeout=RENDER_TIMEOUT_MS,
        )

    def text(self) -> str:
        return self.page.locator("body").inner_text()

    def svg_text(self) -> str:
        return " ".join(self.page.locator(".js-plotly-plot svg text").all_text_contents())

    def select(self, label: str, value: str) -> None:
        box = self.page.locator(".widget-dropdown", has_text=label)
        box.locator("select").select_option(value)

    def shot(self, suffix: str = "") -> None:
        path = self.artifacts_dir / f"{self.name}{suffix}.png"
        self.page.screenshot(path=str(path), full_page=True)


def _from_landing(browser, server, name, artifacts_dir) -> Page:
    """Open the landing page and click the card of page ``name``."""
    page = Page(browser, server.base, f"dashboard_{name}", artifacts_dir)
    page.follow(NAV[name], nav=False)
    assert page.page.url.startswith(server.page_url(name))
    return page


@pytest.fixture(scope="module")
def executive(browser, server, artifacts_dir):
    page = _from_landing(browser, server, "executive", artifacts_dir)
    page.wait_for_charts(4)
    page.page.locator(".fm-headline").wait_for(state="visible", timeout=30_000)
    page.shot()
    yield page
    page.page.close()


@pytest.fixture(scope="module")
def handoff(browser, server, artifacts_dir):
    page = _from_landing(browser, server, "handoff", artifacts_dir)
    page.wait_for_charts(6)
    page.shot()
    yield page
    page.page.close()


def _lead_visits(tables, source=None, months=12) -> int:
    """Lead-stage entries in the last ``months`` calendar months up to the latest event (the
    executive page's default period), counted in plain pandas; optionally for one source."""
    ev = tables["stage_events"]
    entered = pd.to_datetime(ev["entered_at"], utc=True)
    last = entered.max().tz_convert(None).to_period("M")
    in_period = entered.dt.tz_convert(None).dt.to_period("M") > last - months
    ev = ev[(ev["stage"] == "Lead") & in_period]
    if source is not None:
        leads = tables["leads"]
        ev = ev[ev["lead_id"].isin(leads.loc[leads["source"] == source, "lead_id"])]
    return len(ev)


def _assert_clean(page: Page) -> None:
    body = page.text()
    for bad in BAD_WORDS:
        assert bad not in body, f"{bad!r} on the {page.name} page"
    assert not page.errors, f"JavaScript errors: {page.errors}"
    external = sorted({u for u in page.requests if not _is_local(u)})
    assert not external, f"requests leaving 127.0.0.1: {external}"
    assert any(u.startswith(page.url) for u in page.requests)


# ---- executive ---------------------------------------------------------------------------------
def test_executive_draws_every_chart_and_the_headline(executive, tables):
    assert executive.page.locator(".js-plotly-plot .funnellayer .point path").count() == 6
    assert executive.page.locator(".js-plotly-plot .sankey .sankey-node").count() >= 8
    headline = executive.page.locator(".fm-headline h2").inner_text()
    # the sentence of a ranked stall: a share, a wait against the SLA or a leak, and its owner
    assert re.search(r"\d+%", headline) and "owns" in headline, headline
    seen = executive.text() + executive.svg_text()
    for stage in ("Lead", "MQL", "SAL", "SQL", "Opportunity", "Won"):
        assert stage in seen
    assert f"{_lead_visits(tables):,}" in seen, "lead count of the last 12 months not shown"
    assert "vs previous" in executive.page.locator(".fm-kpi-card").inner_text()
    assert "Top stalls" in seen and "still maturing" in seen


def test_executive_filter_changes_the_numbers(executive, tables):
    before = executive.page.locator(".fm-kpi-card").inner_text()
    executive.select("Channel", "paid_search")
    expected = f"{_lead_visits(tables, 'paid_search'):,}"
    executive.page.wait_for_function(
        "t => document.querySelector('.fm-kpi-card').innerText.includes(t)",
        arg=expected,
        timeout=30_000,
    )
    executive.page.wait_for_timeout(500)  # the figures follow the tiles in the same callback
    after = executive.page.locator(".fm-kpi-card").inner_text()
    assert after != before
    assert expected in executive.svg_text(), "funnel not redrawn for the filter"
    executive.shot("_paid_search")
    executive.select("Channel", "All")


def test_executive_is_clean_and_offline(executive):
    _assert_clean(executive)


# ---- hand-off ----------------------------------------------------------------------------------
def test_handoff_draws_every_chart_and_the_headline(handoff, tables):
    text = handoff.text()
    headline = handoff.page.locator(".fm-headline h2").inner_text()
    assert re.search(r"\d+%", headline) and "owns" in headline, headline
    assert "MQL" in headline or "SAL" in headline  # a hand-off stall, not a later stage
    assert "MQLs in limbo" in text and "neither accepted nor rejected past the SLA" in text
    seen = text + handoff.svg_text()
    for team in tables["leads"]["sdr_team"].dropna().unique():
        assert team in seen, f"team {team} not shown"
    for source in ("paid_search", "web_form"):
        assert source in seen
    assert "within 1 h" in seen and "after 24 h" in seen and "3+ touches" in seen


def test_handoff_filter_changes_the_numbers(handoff, tables):
    before = handoff.svg_text()
    leads = tables["leads"]
    region = leads["region"].value_counts().index[-1]  # the smallest region
    handoff.select("Region", region)
    handoff.page.wait_for_function(
        "b => Array.from(document.querySelectorAll('.js-plotly-plot svg text'))"
        ".map(t => t.textContent).join(' ') !== b",
        arg=before,
        timeout=30_000,
    )
    # the marketing chart labels each source with its MQLs: those of this region only
    ev = tables["stage_events"]
    region_leads = leads.loc[leads["region"] == region, ["lead_id", "source"]]
    mqls = ev[ev["stage"] == "MQL"].merge(region_leads, on="lead_id")["source"].value_counts()
    handoff.page.wait_for_timeout(500)
    svg = handoff.svg_text()
    top_source, count = mqls.index[0], int(mqls.iloc[0])
    assert f"{top_source} ({count:,})" in svg, f"{top_source} ({count:,}) not in {svg[:400]}"
    handoff.shot(f"_{region}")


def test_handoff_is_clean_and_offline(handoff):
    _assert_clean(handoff)


# ---- one server: landing page and navigation -----------------------------------------------
def test_landing_page_lists_every_dashboard(browser, server, artifacts_dir):
    page = Page(browser, server.base, "dashboard_landing", artifacts_dir)
    cards = page.page.locator(".fm-card h2").all_inner_texts()
    assert cards == list(NAV.values())
    page.shot()
    _assert_clean(page)
    page.page.close()


def test_every_page_is_reached_from_the_navigation(browser, server, artifacts_dir):
    """Executive -> hand-off -> workshop -> executive through the navigation bar, each drawn."""
    page = Page(browser, server.page_url("executive"), "dashboard_navigation", artifacts_dir)
    page.wait_for_charts(4)
    for name, charts in (("handoff", 6), ("workshop", 5), ("executive", 4)):
        page.follow(NAV[name])
        assert page.page.url == server.page_url(name)
        page.wait_for_charts(charts)
        current = page.page.locator("nav.fm-nav a.fm-current").inner_text()
        assert current == NAV[name]
        if name == "workshop":  # the what-if simulator is live: sliders with a kernel behind them
            page.page.locator(".widget-slider").first.wait_for(timeout=RENDER_TIMEOUT_MS)
            assert page.page.locator(".widget-slider").count() >= 3
            page.shot("_workshop")
        for bad in BAD_WORDS:
            assert bad not in page.text(), f"{bad!r} on the {name} page"
    _assert_clean(page)
    page.follow("Funnel dashboards")  # back to the landing page, which has no kernel
    # leaving a page shut its kernel down at once (Voila's unload request): at most the
    # ready kernel of each page and the two pages the other tests keep open are left
    assert wait_for(lambda: len(server.kernels()) <= len(NAV) + 2, 30), len(server.kernels())
    assert "403 POST /voila/api/shutdown" not in server.log_path.read_text(errors="replace")
    page.page.close()


def test_with_a_token_the_pages_and_their_widgets_work(browser, small_dataset, artifacts_dir):
    """Signed in once through the printed address, a visitor moves between pages with the
    cookie, and the kernel websocket (every chart is a widget) works; without it, 403."""
    token = "a-long-enough-test-token-0123456789"
    log = artifacts_dir / "dashboard_server_token.log"
    with serve_dashboard(small_dataset, env={"FUNNEL_MODELS_TOKEN": token}, log_path=log) as served:
        anonymous = browser.new_page()
        response = anonymous.goto(served.page_url("executive"))
        assert response.status == 403 and "Sign in" in anonymous.locator("body").inner_text()
        anonymous.close()
        page = Page(browser, f"{served.base}?token={token}", "dashboard_token", artifacts_dir)
        page.follow(NAV["executive"], nav=False)
        page.wait_for_charts(4)
        page.follow(NAV["handoff"])  # no token in this address: the cookie signs it in
        assert page.page.url == served.page_url("handoff")
        page.wait_for_charts(6)
        assert not page.errors, page.errors
        page.page.close(run_before_unload=True)


# ---- bad input ---------------------------------------------------------------------------------
def _message_page(browser, source, name, artifacts_dir) -> str:
    log = artifacts_dir / f"dashboard_server_{name}.log"
    with serve_dashboard(source, args=["--no-preheat"], log_path=log) as served:
        page = Page(browser, served.page_url("executive"), f"dashboard_{name}", artifacts_dir)
        page.page.locator(".fm-message").wait_for(state="visible", timeout=RENDER_TIMEOUT_MS)
        page.shot()
        text = page.page.locator(".fm-message").inner_text()
        _assert_clean(page)
        page.page.close()
    return text


def test_empty_source_shows_a_message_not_a_traceback(browser, tmp_path, artifacts_dir):
    empty = tmp_path / "empty"
    empty.mkdir()
    text = _message_page(browser, empty, "empty_source", artifacts_dir)
    assert "cannot be shown" in text and str(empty) in text


def test_unreachable_database_shows_the_url_without_its_password(browser, artifacts_dir):
    secret = "s3cr3t-Pa55"
    url = f"postgresql://ann:{secret}@127.0.0.1:9/crm"  # port 9: nothing answers
    text = _message_page(browser, url, "database_source", artifacts_dir)
    assert "cannot be shown" in text
    assert "postgresql://ann:***@127.0.0.1:9/crm" in text and secret not in text


# ---- static report -----------------------------------------------------------------------------
def test_report_opens_offline_with_every_chart(browser, small_dataset, tmp_path, artifacts_dir):
    from funnel_models.cli import main

    out = tmp_path / "report.html"
    assert main(["report", str(small_dataset), "--out", str(out)]) == 0
    n_charts = out.read_text().count('class="plotly-graph-div"')
    assert n_charts == 9
    context = browser.new_context(viewport={"width": 1300, "height": 1200})
    context.set_offline(True)
    requests: list[str] = []
    context.route(
        "**/*",
        lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort(),
    )
    page = context.new_page()
    page.on("request", lambda r: requests.append(r.url))
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(out.as_uri())
    page.wait_for_function(
        "n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 2 * n",
        arg=n_charts,
        timeout=60_000,
    )
    page.screenshot(path=str(artifacts_dir / "report.png"), full_page=True)
    assert "Where leads stall" in page.locator("body").inner_text()
    assert not errors, errors
    assert all(u.startswith(("file:", "data:", "blob:", "about:")) for u in requests), requests
    context.close()


# ---- workshop slides ---------------------------------------------------------------------------
def test_workshop_slides_open_offline(browser, small_dataset, tmp_path, artifacts_dir):
    from funnel_models.cli import main

    out = tmp_path / "workshop.html"
    assert main(["report", str(small_dataset), "--out", str(out), "--slides"]) == 0
    html_text = out.read_text()
    assert not re.search(r"<(script|link)[^>]+(src|href)=", html_text)
    assert "import funnel_models" not in html_text  # code cells are hidden
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_offline(True)
    aborted: list[str] = []

    def route(r):
        if r.request.url.startswith("file:"):
            r.continue_()
        else:
            aborted.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(out.as_uri())
    page.wait_for_function("document.querySelector('.reveal.ready') !== null", timeout=30_000)
    assert page.evaluate("Reveal.getTotalSlides()") >= 8
    n_figures = page.evaluate("document.querySelectorAll('.plotly-graph-div').length")
    assert n_figures == 5
    page.wait_for_function(
        "n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 2 * n",
        arg=n_figures,
        timeout=30_000,
    )
    page.keyboard.press("ArrowRight")
    page.screenshot(path=str(artifacts_dir / "workshop_slides.png"))
    assert not errors, errors
    assert not aborted, aborted
    context.close()
