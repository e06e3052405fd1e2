"""The console as an operator uses it: the dashboard agrees with the API, a tile opens its list, a certificate is
renewed and revoked from its page, a dead notification is requeued from its page, the demo inbox shows an alert."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from rest_framework.test import APIClient

from certificates.demo_data import seed_demo
from certificates.issuance.services.issuance import issue_from_csr
from certificates.models import CertificateRevocation, Job, ManagedCertificate
from notifications.enums import Channel, NotificationStatus
from notifications.models import NotificationEvent
from notifications.services.delivery import deliver_one
from tests.factories import make_api_key
from tests.issuance_helpers import issuable_certificate, make_csr, make_root, names_of
from tests.notification_factories import NotificationEventFactory
from tests.notifications.test_demo_receiver import receiver  # noqa: F401 - the demo receiver fixture
from tests.sinks import point_channels_at


def summary() -> dict:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_api_key('browser-check')[1]}")
    return client.get("/api/v1/stats/summary").json()


def tile(page, label: str):
    attention = page.get_by_role("region", name="Needs attention")
    return attention.locator(".certctl-tile").filter(has=page.get_by_text(label, exact=True))


def test_the_dashboard_shows_the_stats_api_numbers_and_a_tile_opens_its_list(page):
    seed_demo()
    numbers = summary()
    page.goto("/admin/")
    for label, key in [
        ("Expiring in 7 days", "expiring_within_7_days"),
        ("Expiring in 30 days", "expiring_certificates"),
        ("Expired", "expired_certificates"),
        ("Pending jobs", "pending_jobs"),
    ]:
        expect(tile(page, label).locator(".certctl-tile-value")).to_have_text(f"{numbers[key]:,}")
    expect(page.get_by_role("img", name="Expiries per week")).to_be_visible()

    tile(page, "Expiring in 30 days").get_by_role("link").click()
    page.wait_for_url(re.compile(r"/admin/certificates/managedcertificate/\?expiry=30d$"))
    expect(page.locator("#result_list tbody tr")).to_have_count(numbers["expiring_certificates"])


def test_renew_then_revoke_from_the_certificate_page(page):
    cert = issuable_certificate(make_root(), name="shop-web", common_name="shop.example.com")
    issue_from_csr(cert, make_csr(names_of(cert))[0], actor="setup")
    page.goto(f"/admin/certificates/managedcertificate/{cert.pk}/change/")
    expect(page.get_by_role("heading", name="Timeline")).to_be_visible()

    page.get_by_role("link", name="Renew", exact=True).click()
    page.get_by_label("Force").check()
    page.get_by_role("button", name="Renew").click()
    expect(page.get_by_text(re.compile(r"Renewal job job-\w+ started"))).to_be_visible()
    job = Job.objects.get(certificate=cert, type="Renewal")
    expect(page.get_by_role("link", name=f"Renewal job: {job.status}")).to_be_visible()  # in the timeline

    page.get_by_role("link", name="Revoke", exact=True).click()
    page.get_by_label("Reason").select_option("keyCompromise")
    page.get_by_label("I understand this cannot be undone").check()
    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text(re.compile(r"Revoked serial [0-9a-f]+ \(keyCompromise\)"))).to_be_visible()
    assert CertificateRevocation.objects.get(certificate=cert).revoked_by == "ops"
    assert ManagedCertificate.objects.get(pk=cert.pk).status == "Revoked"
    expect(page.get_by_role("link", name="Revoke", exact=True)).to_have_count(0)


def test_requeue_a_dead_notification_from_its_page(page, settings, http_sink):
    point_channels_at(settings, http_sink)
    dead = NotificationEventFactory(
        channel=Channel.WEBHOOK, status=NotificationStatus.DEAD, last_error="HTTP 500"
    )
    page.goto(f"/admin/notifications/deadletternotification/{dead.pk}/change/")
    expect(page.get_by_role("button", name="Save")).to_have_count(0)
    page.get_by_role("button", name="Requeue").click()
    expect(page.get_by_text(f"{dead.pk} requeued")).to_be_visible()
    assert http_sink.wait_for(1, path="/webhook")
    assert NotificationEvent.objects.get(pk=dead.pk).status == NotificationStatus.SENT


def test_the_demo_inbox_shows_an_alert_the_receiver_got(page, receiver):  # noqa: F811
    alert = NotificationEventFactory(
        channel=Channel.SLACK, subject="[certctl] critical: shop-web expires today"
    )
    assert deliver_one(alert.pk) == NotificationStatus.SENT
    page.goto("/admin/")
    page.get_by_role("link", name="Inbox (demo receiver)").first.click()
    expect(page.get_by_text("critical: shop-web expires today").first).to_be_visible()
