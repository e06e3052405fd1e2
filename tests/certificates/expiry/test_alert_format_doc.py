"""docs/expiry-alerts.md shows the alert exactly as the code builds it."""

import re
from datetime import timedelta
from pathlib import Path

from certificates.expiry.services.routing import alert_text
from notifications.channels.slack import escape_mrkdwn
from notifications.channels.teams import escape_teams
from tests.expiry_helpers import NOW

DOC = Path(__file__).resolve().parents[3] / "docs" / "expiry-alerts.md"


def _documented_example() -> str:
    match = re.search(
        r"<!-- alert-example:start -->\n```\n(.*?)```\n<!-- alert-example:end -->", DOC.read_text(), re.S
    )
    assert match, "the alert example block is missing from docs/expiry-alerts.md"
    return match.group(1)


def test_documented_alert_example_is_what_the_code_renders(settings):
    settings.PUBLIC_URL = "https://certctl.example.test"
    text = alert_text(
        certificate_id="cert-abc",
        name="shop-web",
        common_name="shop.example.test",
        expires_at=NOW + timedelta(days=5, hours=2),
        now=NOW,
        days=5,
        threshold=7,
        tier="warning",
        owner="Alice <alice@example.test>",
        team="payments",
    )
    assert _documented_example() == f"Subject: {text.subject}\n\n{text.message}\n"


def test_documented_escaping_examples_are_what_the_channels_send():
    doc = DOC.read_text()
    slack = escape_mrkdwn("certificate <!channel> <http://evil.example|click> expires in 5 days")
    teams = escape_teams("[click](http://evil.example) **urgent**")
    assert f"`{slack}`" in doc
    assert f"`{teams}`" in doc
