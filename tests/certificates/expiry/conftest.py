"""Every expiry test starts with all built-in channels configured (as an installation that set its CERTCTL_*
variables): routing skips a built-in destination whose variables are not set. Loopback port 9 refuses at once,
so a test that commits and delivers fails fast; tests of delivery point the channels at their sinks instead."""

import pytest

CLOSED = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def _builtin_channels_configured(settings):
    settings.SMTP_HOST = "127.0.0.1"
    settings.SMTP_PORT = 9
    settings.SMTP_FROM_ADDRESS = "certctl@example.test"
    settings.WEBHOOK_URL = f"{CLOSED}/webhook"
    settings.SLACK_WEBHOOK_URL = f"{CLOSED}/slack/T000/B000/token"
    settings.TEAMS_WEBHOOK_URL = f"{CLOSED}/teams/token"
    settings.PAGERDUTY_ROUTING_KEY = "pd-routing-key"
    settings.PAGERDUTY_EVENTS_URL = f"{CLOSED}/pagerduty/v2/enqueue"
    settings.OPSGENIE_API_KEY = "og-api-key"
    settings.OPSGENIE_API_URL = f"{CLOSED}/opsgenie/v2/alerts"
