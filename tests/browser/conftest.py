"""Browser tests: Debian's Chromium, driven by Playwright, against a live server of the app on 127.0.0.1.

`make test` installs Chromium (scripts/ensure-chromium.sh) and Playwright (a dev dependency). Without a
Chromium on PATH these tests fail when CI is set and are skipped otherwise. One browser serves all browser tests;
each test gets a fresh context and page. Every page runs under a network guard: a request to any host but the
live server is aborted and fails the test, as do Content-Security-Policy violations, uncaught script errors and
static files that do not load. Each test's last page, the failure when it failed, is saved as
.tmp/browser-artifacts/<test name>.png.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response, Route, sync_playwright
from pytest_django.live_server_helper import LiveServer

from tests import REPO_ROOT

ARTIFACTS = REPO_ROOT / ".tmp" / "browser-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TIMEOUT_MS = 15_000
FULL_PAGE_SCREENSHOT_MAX_PX = 4_000
STAFF_USERNAME = "ops"
STAFF_PASSWORD = "browser-test-password-1"
FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # password hashing is not under test here
LOCAL_SCHEMES = ("data", "blob", "about")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _chromium() -> str:
    """The system Chromium; fails under CI, where a missing browser must not pass unnoticed, skips elsewhere."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable:
        return executable
    reason = "no chromium on PATH; scripts/ensure-chromium.sh installs Debian's (make test runs it)"
    if _in_ci():
        pytest.fail(f"browser tests cannot run: {reason}. CI is set, so this is an error, not a skip.")
    pytest.skip(f"browser tests skipped: {reason}")


@pytest.fixture(scope="package")
def browser(django_db_setup) -> Iterator[Browser]:
    """One Chromium for all browser tests, closed when the last of them is done.

    Between calls Playwright's sync API marks its event loop as running in this thread, and Django refuses ORM
    calls from a running loop. So the test database exists before the browser starts, the ORM's check is off
    while the browser lives, and the browser stops with this package (pytest-django runs its tests in one
    block) instead of staying up, loop marked, through the rest of the suite.
    """
    executable = _chromium()
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    # launch() gives Chromium a new temporary user-data dir and removes it on close.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def live_server() -> Iterator[LiveServer]:
    """pytest-django's live server on 127.0.0.1 and a free port; it serves /static/ from the static finders."""
    server = LiveServer("127.0.0.1")
    yield server
    server.stop()


@dataclass
class NetworkGuard:
    """Every request a page made, and what of it broke the self-hosted rule or did not load."""

    origin: str
    requests: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    broken_assets: list[str] = field(default_factory=list)
    policy_violations: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def is_local(self, url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in LOCAL_SCHEMES or f"{parts.scheme}://{parts.netloc}" == self.origin

    def route(self, route: Route) -> None:
        if self.is_local(route.request.url):
            route.continue_()
        else:
            self.foreign.append(route.request.url)
            # Where the product runs there is no internet: fail the request at once, as a closed network would.
            route.abort("blockedbyclient")

    def on_request(self, request: Request) -> None:
        self.requests.append(request.url)

    def on_response(self, response: Response) -> None:
        if urlsplit(response.url).path.startswith("/static/") and response.status >= 400:
            self.broken_assets.append(f"{response.status} {response.url}")

    def on_console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.policy_violations.append(message.text)

    def problems(self) -> list[str]:
        return [
            *(f"request to another host: {url}" for url in self.foreign),
            *(f"static file did not load: {line}" for line in self.broken_assets),
            *(f"Content-Security-Policy violation: {text}" for text in self.policy_violations),
            *(f"uncaught script error: {text}" for text in self.page_errors),
        ]


@pytest.fixture
def network(live_server: LiveServer) -> NetworkGuard:
    return NetworkGuard(origin=live_server.url)


_failure_screenshot = pytest.StashKey[Path]()


def _screenshot(page: Page, test_name: str) -> Path:
    """The whole page, or only what is in view when the page is very long (Swagger UI: ~16,000 px)."""
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', test_name)}.png"
    height = page.evaluate("document.documentElement.scrollHeight")
    page.screenshot(path=path, full_page=height <= FULL_PAGE_SCREENSHOT_MAX_PX)
    return path


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator:
    report = yield
    page = getattr(item, "funcargs", {}).get("anonymous_page")
    if report.when == "call" and report.failed and page is not None:
        path = _screenshot(page, item.name)
        item.stash[_failure_screenshot] = path
        report.sections.append(("browser screenshot", str(path)))
    return report


@pytest.fixture
def anonymous_page(
    browser: Browser, live_server: LiveServer, network: NetworkGuard, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """A page in a fresh browser context, not logged in, under the network guard."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    context.route("**/*", network.route)
    context.on("request", network.on_request)
    context.on("response", network.on_response)
    context.on("console", network.on_console)
    page = context.new_page()
    page.on("pageerror", lambda error: network.page_errors.append(str(error)))
    yield page
    if _failure_screenshot not in request.node.stash:
        _screenshot(page, request.node.name)
    context.close()
    problems = network.problems()
    if problems:
        pytest.fail("the page broke the self-hosted rule:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def staff_user(settings):
    settings.PASSWORD_HASHERS = FAST_HASHER
    return get_user_model().objects.create_superuser(STAFF_USERNAME, "ops@example.test", STAFF_PASSWORD)


def log_in(page: Page, username: str, password: str) -> None:
    """Fill in and send the admin's real login form."""
    page.goto("/admin/login/?next=/admin/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


@pytest.fixture
def page(anonymous_page: Page, staff_user) -> Page:
    """A page logged in as a superuser through the login form."""
    log_in(anonymous_page, STAFF_USERNAME, STAFF_PASSWORD)
    anonymous_page.wait_for_url(re.compile(r"/admin/$"))
    return anonymous_page
