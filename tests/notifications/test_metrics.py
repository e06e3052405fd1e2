"""/metrics: access control and the notification series, computed from the database."""

from __future__ import annotations

import re

import pytest

from certctl import metrics
from certctl.kernel import metrics as kernel_metrics
from notifications.enums import Channel, NotificationStatus
from notifications.services.delivery import deliver_one
from tests.notification_factories import NotificationEventFactory
from tests.sinks import point_channels_at

pytestmark = pytest.mark.django_db


def _value(text: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    assert match, f"{series} not found"
    return float(match.group(1))


def test_metrics_from_an_allowed_ip_needs_no_key(client, settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.0/8"]
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")


def test_metrics_from_elsewhere_needs_an_api_key(client, settings, user_key):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.1"]
    denied = client.get("/metrics", REMOTE_ADDR="192.0.2.7")
    assert denied.status_code == 401
    assert denied.json()["error"] == "unauthorized" and "request_id" in denied.json()
    bad = client.get("/metrics", REMOTE_ADDR="192.0.2.7", HTTP_AUTHORIZATION="Bearer nope")
    assert bad.status_code == 401 and bad.json()["message"] == "Invalid API key"
    ok = client.get("/metrics", REMOTE_ADDR="192.0.2.7", HTTP_AUTHORIZATION=f"Bearer {user_key}")
    assert ok.status_code == 200


def test_notification_series_reflect_the_database(client, settings, http_sink):
    point_channels_at(settings, http_sink)
    http_sink.respond(503, path="/pagerduty")
    NotificationEventFactory.create_batch(2, status=NotificationStatus.DEAD)
    for event in NotificationEventFactory.create_batch(3, channel=Channel.SLACK):
        deliver_one(event.id)
    deliver_one(NotificationEventFactory(channel=Channel.PAGERDUTY).id)

    text = client.get("/metrics").content.decode()
    assert "# TYPE certctl_notification_dead_total gauge" in text
    assert _value(text, "certctl_notification_dead_total") == 2
    assert _value(text, 'certctl_notifications{status="dead"}') == 2
    assert _value(text, 'certctl_notifications{status="sent"}') == 3
    assert _value(text, 'certctl_notifications{status="failed"}') == 1
    assert _value(text, 'certctl_notifications{status="pending"}') == 0
    slack, pagerduty = (
        'channel="Slack",destination="Slack (environment)"',
        'channel="PagerDuty",destination="PagerDuty (environment)"',
    )
    assert _value(text, f'certctl_notification_deliveries_total{{{slack},result="sent"}}') == 3
    assert _value(text, f'certctl_notification_deliveries_total{{{pagerduty},result="failed"}}') == 1
    assert "# TYPE certctl_notification_delivery_seconds histogram" in text
    assert _value(text, f"certctl_notification_delivery_seconds_count{{{slack}}}") == 3
    assert _value(text, f'certctl_notification_delivery_seconds_bucket{{{slack},le="+Inf"}}') == 3
    assert 0 < _value(text, f"certctl_notification_delivery_seconds_sum{{{slack}}}") < 30
    # The django-prometheus (prometheus_client) process registry is served too.
    assert "python_info" in text


def test_histogram_buckets_are_cumulative():
    kernel_metrics.observe_many(
        "certctl_test_seconds", [({"k": "a"}, 0.003), ({"k": "a"}, 0.2), ({"k": "a"}, 99)]
    )
    family = kernel_metrics.histogram_family("certctl_test_seconds", "test", ["k"])
    samples = {(s.name, s.labels.get("le")): s.value for s in family.samples}
    assert samples[("certctl_test_seconds_bucket", "0.005")] == 1
    assert samples[("certctl_test_seconds_bucket", "0.1")] == 1
    assert samples[("certctl_test_seconds_bucket", "0.25")] == 2
    assert samples[("certctl_test_seconds_bucket", "30.0")] == 2
    assert samples[("certctl_test_seconds_bucket", "+Inf")] == 3
    assert samples[("certctl_test_seconds_count", None)] == 3
    assert samples[("certctl_test_seconds_sum", None)] == pytest.approx(99.203)


def test_other_apps_can_register_a_collector(client):
    from prometheus_client.core import GaugeMetricFamily

    def collect():
        family = GaugeMetricFamily("certctl_test_extension", "registered by a test")
        family.add_metric([], 7)
        yield family

    metrics.register(collect)
    try:
        assert _value(client.get("/metrics").content.decode(), "certctl_test_extension") == 7
    finally:
        metrics._registered.remove(collect)
