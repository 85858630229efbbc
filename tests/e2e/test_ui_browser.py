"""The Streamlit app in a real browser: ``streamlit run ui/app.py`` on loopback, driven by Playwright on
Debian's Chromium (never a downloaded browser). A question against a curated bundle gets its decision."""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.config import PROJECT_ROOT
from tests.e2e.servers import Daemon, free_port, wait_until

pytestmark = pytest.mark.e2e

APP = PROJECT_ROOT / "ui" / "app.py"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-gpu"]
# The first question loads the embedding model and ingests the handbook: slow on a busy machine.
ANSWER_TIMEOUT_MS = 240_000
STEP_TIMEOUT_MS = 30_000


@contextmanager
def chromium_page(chromium: str) -> Iterator[Any]:
    """A Playwright page in Debian's Chromium, with the tests' step timeouts; the browser closed after."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.set_default_timeout(STEP_TIMEOUT_MS)
            expect.set_options(timeout=STEP_TIMEOUT_MS)
            yield page
        finally:
            browser.close()


@pytest.fixture
def ui_url(tmp_path, bianque_home) -> Iterator[str]:
    """The app served by ``streamlit run`` on a free loopback port, with its own BIANQUE_HOME."""
    port = free_port()
    assert os.environ["BIANQUE_HOME"] == str(bianque_home)  # the child inherits the test's home
    args = [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "minimal",
    ]  # fmt: skip
    daemon = Daemon(args, tmp_path / "streamlit.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: httpx.get(f"{url}/_stcore/health", timeout=2).text == "ok", "streamlit", daemon.log, daemon.proc
        )
        yield url
    finally:
        daemon.stop()


def test_chat_against_a_curated_bundle_in_chromium(ui_url, system_binary, tmp_path):
    from playwright.sync_api import expect

    with chromium_page(system_binary("chromium", CHROMIUM)) as page:
        page.goto(ui_url)
        sidebar = page.get_by_test_id("stSidebar")
        expect(sidebar.get_by_text("offline evidence reasoner")).to_be_visible()

        sidebar.get_by_test_id("stSelectbox").first.click()
        page.get_by_role("option", name="release-bad-canary").click()
        expect(sidebar.get_by_text(re.compile(r"Event: release_interception \| canary canary-25"))).to_be_visible()

        box = page.get_by_test_id("stChatInputTextArea")
        box.fill("is this canary safe to roll out?")
        box.press("Enter")
        expect(page.get_by_text("Decision: BLOCK")).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
        expect(page.get_by_text("Case id:")).to_be_visible()
        page.screenshot(path=str(tmp_path / "chat.png"), full_page=True)

        page.get_by_role("button", name="Open in Cases").click()
        expect(page.get_by_role("heading", name=re.compile(r"^Case [0-9a-f]{12}"))).to_be_visible()
        expect(page.get_by_text("Correct this answer")).to_be_visible()
        page.screenshot(path=str(tmp_path / "cases.png"), full_page=True)
    assert (tmp_path / "chat.png").stat().st_size > 10_000


def test_an_alert_annotation_that_looks_like_markdown_is_shown_as_text(ui_url, system_binary, tmp_path):
    """An image in an alert's summary annotation is never fetched: the sidebar and the report show its text."""
    from playwright.sync_api import expect

    image = "http://127.0.0.1:9/pixel.png"  # the discard port: nothing would answer
    bundle = shutil.copytree(PROJECT_ROOT / "examples" / "scenarios" / "rca-slow-dependency", tmp_path / "hostile")
    event = bundle / "event.yaml"
    event.write_text(event.read_text().replace("summary: gateway p99 latency above 280ms",
                                               f"summary: 'p99 ![pixel]({image}) <b>bold</b> :red[red]'"))
    fetched: list[str] = []
    with chromium_page(system_binary("chromium", CHROMIUM)) as page:
        page.on("request", lambda request: fetched.append(request.url) if request.url == image else None)
        page.goto(ui_url)
        sidebar = page.get_by_test_id("stSidebar")
        sidebar.get_by_test_id("stSelectbox").first.click()
        page.get_by_role("option", name="Another bundle directory…").click()
        path = sidebar.get_by_test_id("stTextInput").locator("input")
        path.fill(str(bundle))
        path.press("Enter")
        expect(sidebar.get_by_text(f"![pixel]({image}) <b>bold</b> :red[red]", exact=False)).to_be_visible()

        box = page.get_by_test_id("stChatInputTextArea")
        box.fill("why is the gateway slow?")
        box.press("Enter")
        expect(page.get_by_text("Case id:")).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
        page.get_by_text("Full report").click()
        expect(page.get_by_role("heading", name=re.compile(r"!\[pixel\]"))).to_be_visible()
        assert page.locator("img[src*='pixel']").count() == 0
    assert fetched == []


def test_the_schedules_page_shows_a_schedule_and_its_runs_in_chromium(ui_url, system_binary, tmp_path):
    """A schedule's row and its run history render; a stored reason that looks like markdown fetches nothing."""
    from playwright.sync_api import expect

    from agent.memory import Memory

    image = "http://127.0.0.1:9/reason.png"  # the discard port: nothing would answer
    with Memory() as memory:  # the served app's database: the child inherits this test's BIANQUE_HOME
        memory.save_schedule("nightly", "disk-inspection", "0 2 * * *", ["cache"])
        memory.record_schedule_run("nightly", "failed", reason=f"OSError: ![x]({image}) <b>disk</b> gone")
    fetched: list[str] = []
    with chromium_page(system_binary("chromium", CHROMIUM)) as page:
        page.on("request", lambda request: fetched.append(request.url) if request.url == image else None)
        page.goto(ui_url)
        page.get_by_test_id("stSidebarNav").get_by_text("Schedules").click()
        expect(page.get_by_role("heading", name="Schedules", exact=True)).to_be_visible()
        expect(page.get_by_role("heading", name="Runs of nightly")).to_be_visible()
        expect(page.get_by_test_id("stDataFrame")).to_have_count(2)  # the schedules, the runs of the one shown
        page.screenshot(path=str(tmp_path / "schedules.png"), full_page=True)
        assert page.locator("img[src*='reason']").count() == 0
    assert fetched == []
