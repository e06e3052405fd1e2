"""The certificate inventory in the admin: the status filter and a certificate's issued versions."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from certificates.enums import CertificateStatus
from certificates.inventory.models import CertificateVersion, ManagedCertificate
from tests.factories import CertificateFactory

CHANGELIST = "/admin/certificates/managedcertificate/"


def add_version(certificate: ManagedCertificate, serial: str, age_days: int) -> CertificateVersion:
    issued = timezone.now() - timedelta(days=age_days)
    version = CertificateVersion.objects.create(
        certificate=certificate,
        serial_number=serial,
        not_before=issued,
        not_after=issued + timedelta(days=90),
        fingerprint_sha256=hashlib.sha256(serial.encode()).hexdigest(),
        pem_chain="-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
        key_algorithm="ECDSA",
        key_size=256,
    )
    CertificateVersion.objects.filter(pk=version.pk).update(created_at=issued)  # auto_now_add ignores a value
    return version


def test_status_filter_in_the_sidebar_narrows_the_list_and_the_url(page):
    CertificateFactory(name="web-frontend", status=CertificateStatus.ACTIVE)
    CertificateFactory(name="billing-api", status=CertificateStatus.ACTIVE)
    expired_at = timezone.now() - timedelta(days=3)
    CertificateFactory(name="legacy-vpn", status=CertificateStatus.EXPIRED, expires_at=expired_at)
    names = ("web-frontend", "billing-api", "legacy-vpn")
    page.goto(CHANGELIST)
    for name in names:
        expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()

    # The status filter's link, told from other filters' "Expired" (the expiry window) by where it leads.
    by_status = page.locator("[href*='status__exact=Expired']")
    page.get_by_role("link", name="Expired", exact=True).and_(by_status).click()

    page.wait_for_url(re.compile(r"[?&]status__exact=Expired\b"))
    shown = {name for name in names if page.get_by_role("link", name=name, exact=True).count()}
    expired = ManagedCertificate.objects.filter(status=CertificateStatus.EXPIRED)
    assert shown == set(expired.values_list("name", flat=True)) == {"legacy-vpn"}


def test_certificate_page_lists_its_issued_versions_newest_first(page):
    certificate = CertificateFactory(name="payments-gateway")
    add_version(certificate, "0a" * 20, age_days=100)
    add_version(certificate, "0b" * 20, age_days=10)
    CertificateFactory(name="unrelated-service")
    page.goto(CHANGELIST)

    page.get_by_role("link", name="payments-gateway", exact=True).click()

    page.wait_for_url(re.compile(rf"/managedcertificate/{certificate.pk}/change/$"))
    versions = page.get_by_role("group", name="Certificate versions")
    newest, oldest = ("0b" * 20, "0a" * 20)
    for serial in (newest, oldest):
        expect(versions.get_by_text(serial, exact=True)).to_be_visible()
    text = versions.inner_text()
    assert text.index(newest) < text.index(oldest)  # the current certificate on top
    assert hashlib.sha256(newest.encode()).hexdigest() in text
    assert certificate.versions.count() == 2
