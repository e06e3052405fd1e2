"""The API docs page: Swagger UI from our own static files (the product runs air-gapped), usable with a key."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from playwright.sync_api import expect

from tests.factories import make_api_key

SWAGGER_UI_FILES = {"swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"}


def reveal(page, locator) -> None:
    """Swagger UI renders operations as they scroll into view: scroll down from the top until this one is there."""
    page.mouse.wheel(0, -100_000)
    for _ in range(80):
        if locator.count():
            break
        page.mouse.wheel(0, 500)
        page.wait_for_timeout(100)
    locator.scroll_into_view_if_needed()


def test_swagger_ui_runs_from_our_static_files_and_calls_the_api_with_a_key(anonymous_page, network):
    key, raw_key = make_api_key("swagger-operator")
    page = anonymous_page

    page.goto("/api/docs/")

    expect(page.get_by_role("heading", name=re.compile(r"^certctl API"))).to_be_visible()
    # An operation drawn from the schema ("/" escaped: Playwright passes the pattern on as a JS regex).
    check = page.get_by_role("button", name=re.compile(r"^GET \/api\/v1\/auth\/check\b"))
    reveal(page, check)
    expect(check).to_be_visible()
    paths = [urlsplit(url).path for url in network.requests]
    static_files = {path.rsplit("/", 1)[1] for path in paths if path.startswith("/static/")}
    assert static_files >= SWAGGER_UI_FILES, paths
    assert "/api/v1/schema/" in paths
    assert network.foreign == [] and all(network.is_local(url) for url in network.requests)
    assert network.broken_assets == [] and network.policy_violations == []

    page.get_by_role("button", name="Authorize", exact=True).click()
    expect(page.get_by_role("heading", name="Available authorizations")).to_be_visible()
    api_key_scheme = page.locator("form").filter(
        has=page.get_by_role("heading", name=re.compile(r"^apiKey\b"))
    )
    api_key_scheme.get_by_role("textbox").fill(raw_key)
    api_key_scheme.get_by_role("button", name="Apply credentials").click()
    expect(api_key_scheme.get_by_role("button", name=re.compile("Logout|Remove"))).to_be_visible()
    page.get_by_role("button", name="Close").first.click()
    expect(page.get_by_role("heading", name="Available authorizations")).to_be_hidden()

    reveal(page, check)
    check.click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()

    answer = page.get_by_text('"user": "swagger-operator"')
    expect(answer).to_be_visible()
    answer.scroll_into_view_if_needed()  # the screenshot shows the answer
    key.refresh_from_db()
    assert key.last_used_at is not None
    assert network.foreign == []
