"""The guard every browser test runs under catches what an air-gapped network would break."""

from __future__ import annotations

from tests.browser.conftest import NetworkGuard


def test_guard_blocks_a_request_to_another_host_and_reports_a_policy_violation(browser, network, live_server):
    context = browser.new_context(base_url=live_server.url)
    context.route("**/*", network.route)
    context.on("console", network.on_console)
    page = context.new_page()
    try:
        page.set_content('<img src="https://cdn.example.test/logo.png">')  # no policy on a blank page
        page.goto("/admin/login/")
        page.evaluate(
            """() => new Promise(done => {
                const image = new Image();
                image.onerror = done;
                image.src = "https://fonts.example.test/font.png";
                document.body.append(image);
            })"""
        )
    finally:
        context.close()

    assert network.foreign == ["https://cdn.example.test/logo.png"]
    assert any("fonts.example.test" in text for text in network.policy_violations)  # refused by our CSP
    assert [problem.split(":", 1)[0] for problem in network.problems()] == [
        "request to another host",
        "Content-Security-Policy violation",
    ]


def test_guard_counts_only_the_live_server_origin_as_local():
    guard = NetworkGuard(origin="http://127.0.0.1:8123")
    assert guard.is_local("http://127.0.0.1:8123/static/admin/css/base.css")
    assert guard.is_local("data:image/svg+xml;base64,AAAA")
    assert not guard.is_local("http://127.0.0.1:9999/")
    assert not guard.is_local("http://localhost:8123/")
    assert not guard.is_local("https://cdn.jsdelivr.net/npm/swagger-ui-dist/swagger-ui.css")
