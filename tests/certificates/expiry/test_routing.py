"""Alert routing rules of the expiry check, as pure functions over an in-memory directory (no database)."""

from datetime import UTC, datetime, timedelta

import pytest

from certificates.expiry.services.routes import RoutingDirectory, resolve_tier
from certificates.expiry.services.routing import (
    alert_text,
    days_left,
    dedup_key,
    policy_routing,
    recipient_for,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
FANOUT = {
    "informational": ["Slack"],
    "warning": ["Slack", "Email"],
    "critical": ["PagerDuty", "OpsGenie", "Email"],
}


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(days=5, hours=23), 5),
        (timedelta(hours=12), 0),
        (timedelta(hours=-12), 0),
        (timedelta(days=-1, hours=-12), -1),
        (timedelta(days=30), 30),
    ],
)
def test_days_left_is_whole_days_truncated_toward_zero(delta, expected):
    assert days_left(NOW + delta, NOW) == expected


def test_empty_thresholds_fall_back_to_the_default_list():
    assert policy_routing([], {}, {}).thresholds == (30, 14, 7, 0)
    assert policy_routing(None, {}, {}).thresholds == (30, 14, 7, 0)


def test_tier_resolution_uses_policy_map_then_default_map_then_informational():
    routing = policy_routing([60, 30, 14, 7, 0], {"7": "critical", "oops": "warning"}, {})
    assert routing.tier_for(7) == "critical"
    assert routing.tier_for(14) == "warning"
    assert routing.tier_for(0) == "critical"
    assert routing.tier_for(60) == "informational"


def test_off_enum_tier_in_severity_map_is_coerced_to_informational():
    assert policy_routing([5], {"5": "apocalyptic"}, {}).tier_for(5) == "informational"


CONFIGURED = RoutingDirectory(configured=dict.fromkeys(("Email", "Slack", "PagerDuty", "OpsGenie"), True))


def _channels(routing, tier):
    return tuple(entry.channel for entry in resolve_tier(CONFIGURED, routing, tier, None).included)


def test_empty_channel_map_is_email_for_every_tier():
    routing = policy_routing([30], {}, {})
    for tier in ("informational", "warning", "critical"):
        assert _channels(routing, tier) == ("Email",)


def test_configured_map_without_a_tier_sends_nothing_for_it():
    routing = policy_routing([30], {}, {"critical": ["PagerDuty"]})
    assert _channels(routing, "informational") == ()
    assert _channels(routing, "critical") == ("PagerDuty",)


def test_off_enum_channel_is_separated_from_the_valid_ones():
    routing = policy_routing([30], {}, {"warning": ["Slack", "Carrier Pigeon", "email", "Slack"]})
    route = resolve_tier(CONFIGURED, routing, "warning", None)
    assert tuple(entry.channel for entry in route.included) == ("Slack",)
    assert route.invalid == ("Carrier Pigeon", "email")


def test_an_unconfigured_built_in_channel_is_still_routed_and_says_where_its_alerts_wait():
    """As before destinations existed: its rows go to the dead letter, visible and requeueable, never dropped."""
    routing = policy_routing([30], {}, {"warning": ["Slack", "Teams"]})
    route = resolve_tier(CONFIGURED, routing, "warning", None)
    assert [(e.channel, e.included, e.skipped_reason, e.reason) for e in route.entries] == [
        ("Slack", True, "", "policy alert_channels[warning]"),
        (
            "Teams",
            True,
            "",
            "policy alert_channels[warning]; its CERTCTL_* variables are not set, so these alerts wait in the dead letter",
        ),
    ]


def test_recipient_is_owner_email_only_for_the_email_channel(settings):
    settings.SLACK_CHANNEL = "#certs"
    settings.SLACK_WEBHOOK_URL = "https://hooks.slack.test/services/T000/B000/secret"
    assert recipient_for("Email", "alice@example.test") == "alice@example.test"
    assert recipient_for("Slack", "alice@example.test") == "#certs"
    assert recipient_for("PagerDuty", "alice@example.test") == "PagerDuty"


def test_dedup_key_changes_with_the_certificate_expiry():
    first = dedup_key("cert-1", NOW, 7, "Slack")
    assert first == dedup_key("cert-1", NOW, 7, "Slack")
    assert first != dedup_key("cert-1", NOW + timedelta(days=90), 7, "Slack")
    assert first != dedup_key("cert-1", NOW, 7, "Email")
    assert first != dedup_key("cert-1", NOW, 14, "Slack")


def _text(expires_at, days, threshold, tier):
    return alert_text(
        certificate_id="cert-abc",
        name="shop-web",
        common_name="shop.example.test",
        expires_at=expires_at,
        now=NOW,
        days=days,
        threshold=threshold,
        tier=tier,
        owner="Alice <alice@example.test>",
        team="payments",
    )


def test_message_names_certificate_expiry_days_owner_team_tier_and_admin_link(settings):
    settings.PUBLIC_URL = "https://certctl.example.test"
    text = _text(NOW + timedelta(days=5, hours=2), 5, 7, "warning")
    for expected in (
        "Certificate: shop-web",
        "Common name: shop.example.test",
        "Expires: 2026-06-06 14:00 UTC",
        "Days left: 5",
        "Owner: Alice <alice@example.test>",
        "Team: payments",
        "Severity: warning (threshold 7 days)",
        "Admin: https://certctl.example.test/admin/certificates/managedcertificate/cert-abc/change/",
    ):
        assert expected in text.message
    # The threshold is the row's threshold_days; people never see an internal tag.
    assert "[threshold:" not in text.message
    assert text.subject == "[certctl] warning: certificate shop-web expires in 5 days"


def test_message_of_an_expired_certificate_says_expired():
    text = _text(NOW - timedelta(days=2), -2, 0, "critical")
    assert "Days left: EXPIRED" in text.message
    assert "has EXPIRED" in text.subject


def test_message_of_a_certificate_expiring_today_says_within_a_day():
    text = _text(NOW + timedelta(hours=5), 0, 0, "critical")
    assert "Days left: 0" in text.message
    assert text.subject == "[certctl] critical: certificate shop-web expires within a day"


def test_one_day_is_singular_in_the_headline_and_the_threshold():
    text = _text(NOW + timedelta(days=1, hours=3), 1, 1, "critical")
    assert text.subject == "[certctl] critical: certificate shop-web expires in 1 day"
    assert "Severity: critical (threshold 1 day)" in text.message


def test_an_expired_certificate_says_how_long_ago():
    assert "Days left: EXPIRED 2 days ago" in _text(NOW - timedelta(days=2), -2, 0, "critical").message
    assert "Days left: EXPIRED 1 day ago" in _text(NOW - timedelta(days=1), -1, 0, "critical").message


def test_a_name_cannot_forge_extra_lines_in_the_body():
    text = alert_text(
        certificate_id="cert-abc",
        name="shop\nSeverity: informational",
        common_name="shop.example.test",
        expires_at=NOW + timedelta(days=3),
        now=NOW,
        days=3,
        threshold=7,
        tier="warning",
        owner="Alice <alice@example.test>",
        team="payments",
    )
    assert "Certificate: shop Severity: informational" in text.message
    assert [line for line in text.message.splitlines() if line.startswith("Severity:")] == [
        "Severity: warning (threshold 7 days)"
    ]


def test_the_expired_alert_names_no_threshold():
    text = _text(NOW - timedelta(hours=3), 0, -1, "critical")
    assert "Severity: critical (expired)" in text.message


def test_an_expired_certificate_is_critical_whatever_the_policy_maps_its_threshold_to():
    routing = policy_routing([30, 0], {"30": "informational", "0": "informational"}, {})
    assert routing.tier_for(0) == "informational"
    assert routing.tier_for(0, expired=True) == "critical"
    assert routing.tier_for(30, expired=True) == "critical"
