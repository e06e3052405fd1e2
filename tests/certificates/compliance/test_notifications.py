"""A newly opened Critical violation notifies once per destination, routed like alerts: the team's destinations,
else the defaults; never again for the same open violation."""

from __future__ import annotations

import datetime as dt

import pytest

from certificates.compliance.models import Violation
from certificates.compliance.services import evaluate
from certificates.compliance.services.evaluate import evaluate_discovered, evaluate_managed
from certificates.discovery.models import DiscoveredCertificate
from notifications.channels.targets import write_secrets
from notifications.enums import DestinationKind, NotificationType
from notifications.models import Destination, NotificationEvent
from notifications.services.delivery import process_pending
from tests.certificates.compliance.support import discovered, managed, only_rule
from tests.discovery_support import Pki, issue
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

PKI = Pki()


def webhook(name: str, url: str, **fields) -> Destination:
    destination = Destination(name=name, kind=DestinationKind.WEBHOOK, **fields)
    write_secrets(destination, {"url": url})
    destination.save()
    return destination


def policy_rows():
    return NotificationEvent.objects.filter(type=NotificationType.POLICY_VIOLATION)


def test_a_critical_violation_reaches_the_team_webhook_once(http_sink):
    team = TeamFactory()
    hook = webhook("Team hook", http_sink.url_for("/team"), team=team)
    webhook("Default hook", http_sink.url_for("/default"), is_default=True)
    only_rule("forbidden_signature_algorithms", {"hashes": ["sha1"]}, severity="Critical", name="No SHA-1")
    found = discovered(PKI.leaf("legacy.example", hash_name="sha1"))
    DiscoveredCertificate.objects.filter(pk=found.pk).update(team=team)

    assert evaluate_discovered([found.pk]) == 1
    assert evaluate_discovered([found.pk]) == 0  # the same open violation: no second notification
    evaluate.evaluate_all()

    (row,) = policy_rows()
    violation = Violation.objects.get()
    assert (
        row.destination == hook and row.discovered_certificate_id == found.pk and row.certificate_id is None
    )
    assert row.dedup_key == f"violation:{violation.pk}:{hook.pk}" and row.severity_tier == "critical"
    assert violation.notified_at is not None
    assert process_pending(min_age_seconds=0).sent == 1
    (delivered,) = http_sink.received()
    body = delivered.json()
    assert delivered.path == "/team" and body["type"] == "PolicyViolation"
    assert "No SHA-1" in body["message"] and "legacy.example" in body["message"]


def test_without_team_destinations_the_defaults_are_notified(http_sink):
    default = webhook("Default hook", http_sink.url_for("/default"), is_default=True)
    webhook("Warning-only hook", http_sink.url_for("/warn"), is_default=True, tiers=["warning"])
    only_rule("expired", severity="Critical")
    certificate = managed(PKI.leaf("old.example", not_before=dt.datetime(2020, 1, 1, tzinfo=dt.UTC), days=30))
    assert evaluate_managed([certificate.pk]) == 1
    (row,) = policy_rows()
    assert row.destination == default and row.certificate_id == certificate.pk


def test_warnings_and_errors_do_not_notify(http_sink):
    webhook("Default hook", http_sink.url_for("/default"), is_default=True)
    only_rule("self_signed", severity="Error")
    evaluate_discovered([discovered(issue("alone.example")).pk])
    assert Violation.objects.count() == 1 and not policy_rows().exists()
    assert Violation.objects.get().notified_at is None
