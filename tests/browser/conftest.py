from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import need_service

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    need_service(Path(CHROMIUM).exists(), "Chromium (/usr/bin/chromium)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls of the test
    # itself are synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            yield browser
            browser.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def shots(tmp_path) -> Path:
    """Where screenshots go: docs/screenshots with `make screenshots`, else a temp folder."""
    target = os.environ.get("SCREENSHOT_DIR")
    folder = Path(target) if target else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# axe-core, pinned: tests/browser/vendor/axe.min.js (see the README there). Only tests inject
# it, through contexts that bypass the pages' Content-Security-Policy.
AXE_SOURCE = Path(__file__).parent / "vendor" / "axe.min.js"
FAILING_IMPACTS = ("critical", "serious")
# Pages drawn by a third party (the API reference): their findings are reported, not failed.
THIRD_PARTY = ("/api/v1/docs/",)
# A path's ids and tokens vary from run to run: reports name a page by the shape of its path.
VARIABLE_SEGMENT = re.compile(r"/(?:[0-9a-f-]{32,36}|[A-Za-z0-9_-]{20,}|\d+)(?=/|$)")
AXE_REPORTS: list[str] = []


def _route(url: str) -> str:
    path = urlsplit(url).path
    return VARIABLE_SEGMENT.sub("/*", path)


class Axe:
    """Checks pages with axe-core; a test fails at its end on what the checks found.

    `axe.context(...)` opens a browser context whose pages can be checked (axe is injected
    past the pages' Content-Security-Policy, in tests only). A check runs on the page as the
    test left it: the test waits for the state it wants checked first."""

    def __init__(self, browser) -> None:
        self.browser = browser
        self.failures: list[str] = []
        self.contexts: list = []

    def context(self, **options):
        context = self.browser.new_context(bypass_csp=True, **options)
        self.contexts.append(context)
        return context

    def _run(self, page, attempts: int = 3) -> list[dict]:
        # A click that navigates returns before the next page has loaded: a check that lands
        # on the old document as it goes runs again on the new one.
        from playwright.sync_api import Error as PlaywrightError

        for attempt in range(attempts):
            page.wait_for_load_state("load")
            try:
                if not page.evaluate("() => typeof window.axe === 'object'"):
                    page.add_script_tag(content=AXE_SOURCE.read_text())
                return page.evaluate(
                    "async () => (await axe.run(document, {resultTypes: ['violations']}))"
                    ".violations"
                )
            except PlaywrightError as error:
                if "context was destroyed" not in str(error) or attempt == attempts - 1:
                    raise
        return []

    def check(self, page, state: str = "") -> list[dict]:
        """Runs axe on the page as it is now; returns the serious and critical violations."""
        result = self._run(page)
        route = _route(page.url) if page.url.startswith("http") else page.url
        found = [v for v in result if v["impact"] in FAILING_IMPACTS]
        if not found:
            return found
        where = f"{route} {state}".strip()
        lang = page.evaluate("() => document.documentElement.lang")
        width = page.viewport_size["width"] if page.viewport_size else 0
        lines = [f"{where} ({lang}, {width} px):"]
        for violation in found:
            targets = ", ".join(str(node["target"]) for node in violation["nodes"][:4])
            lines.append(
                f"  {violation['impact']} {violation['id']}: {violation['help']} — {targets}"
            )
        text = "\n".join(lines)
        if any(route.startswith(prefix) for prefix in THIRD_PARTY):
            AXE_REPORTS.append(text)
        else:
            self.failures.append(text)
        return found


@pytest.fixture
def axe(browser) -> Iterator[Axe]:
    """axe-core over the pages of a test; fails it on any serious or critical violation of
    the product's own pages."""
    checker = Axe(browser)
    yield checker
    for context in checker.contexts:
        context.close()
    problems = checker.failures[:]
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def pytest_terminal_summary(terminalreporter) -> None:
    if AXE_REPORTS:
        terminalreporter.section("axe: third-party pages (reported, not failed)")
        for report in AXE_REPORTS:
            terminalreporter.write_line(report)
