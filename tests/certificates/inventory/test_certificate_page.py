"""The certificate page in the admin: Issue from CSR, Renew, Export and Revoke call the API's services as the
logged-in operator; the timeline and "who is alerted" show what happened and what will."""

from __future__ import annotations

import pytest
from cryptography import x509
from django.contrib.auth.models import Permission
from django.urls import reverse

from audit.models import AuditEvent
from certificates.models import CertificateRevocation, CertificateVersion, Job
from tests.issuance_helpers import issuable_certificate, make_csr, make_root, names_of

pytestmark = pytest.mark.django_db


def page_url(cert, action: str = "") -> str:
    if not action:
        return reverse("admin:certificates_managedcertificate_change", args=[cert.pk])
    return reverse(f"admin:certificates_managedcertificate_{action}", args=[cert.pk])


@pytest.fixture
def cert(db):
    return issuable_certificate(
        make_root(), sans=["www.shop.example.com"], name="shop", common_name="shop.example.com"
    )


def issue(admin_client, cert) -> CertificateVersion:
    csr, _ = make_csr(names_of(cert))
    response = admin_client.post(page_url(cert, "issue"), {"csr_pem": csr})
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert response["Location"] == page_url(cert)
    return CertificateVersion.objects.get(certificate=cert)


def test_issue_from_csr_signs_it_as_the_operator(admin_client, cert):
    version = issue(admin_client, cert)
    leaf = x509.load_pem_x509_certificates(version.pem_chain.encode())[0]
    assert leaf.subject.rfc4514_string() == "CN=shop.example.com"
    assert AuditEvent.objects.filter(action="certificate_issued", actor="admin", resource_id=cert.pk).exists()


def test_a_csr_for_other_names_is_refused_on_the_form_and_nothing_is_issued(admin_client, cert):
    csr, _ = make_csr(["evil.example.net"])
    response = admin_client.post(page_url(cert, "issue"), {"csr_pem": csr})
    assert response.status_code == 200
    assert response.context["form"].errors["csr_pem"]
    assert not CertificateVersion.objects.filter(certificate=cert).exists()


def test_renew_starts_a_job_and_force_replaces_the_open_one(admin_client, cert):
    issue(admin_client, cert)
    assert admin_client.post(page_url(cert, "renew"), {}).status_code == 302
    first = Job.objects.get(certificate=cert, type="Renewal")
    again = admin_client.post(page_url(cert, "renew"), {})
    assert again.status_code == 200
    assert "already has an open renewal job" in str(again.context["form"].non_field_errors())
    assert admin_client.post(page_url(cert, "renew"), {"force": "on"}).status_code == 302
    first.refresh_from_db()
    assert first.status == "Cancelled"
    assert Job.objects.filter(certificate=cert, type="Renewal").exclude(status="Cancelled").count() == 1


def test_export_downloads_the_chain_and_keys_need_a_superuser(admin_client, client, cert, django_user_model):
    issue(admin_client, cert)
    response = admin_client.post(page_url(cert, "export"), {"format": "pem"})
    assert response["Content-Type"] == "application/x-pem-file"
    assert response.content.count(b"-----BEGIN CERTIFICATE-----") == 2  # leaf and its root
    assert AuditEvent.objects.filter(action="certificate_exported", resource_id=cert.pk).exists()

    viewer = django_user_model.objects.create_user("viewer", password="pw-viewer-123", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_managedcertificate"))
    client.force_login(viewer)
    refused = client.post(page_url(cert, "export"), {"format": "pem", "include_key": "on"})
    assert refused.status_code == 200
    assert "requires a superuser" in str(refused.context["form"].non_field_errors())
    assert client.get(page_url(cert, "renew")).status_code == 403  # view-only: no Renew


def test_revoke_needs_a_reason_and_a_confirmation(admin_client, cert):
    issue(admin_client, cert)
    unconfirmed = admin_client.post(page_url(cert, "revoke"), {"reason": "keyCompromise"})
    assert unconfirmed.status_code == 200
    assert not CertificateRevocation.objects.exists()
    done = admin_client.post(page_url(cert, "revoke"), {"reason": "keyCompromise", "confirm": "on"})
    assert done.status_code == 302
    record = CertificateRevocation.objects.get(certificate=cert)
    assert (record.reason, record.revoked_by) == ("keyCompromise", "admin")
    page = admin_client.get(page_url(cert)).content.decode()
    assert page_url(cert, "revoke") not in page  # no Revoke or Renew on a revoked certificate
    assert page_url(cert, "renew") not in page
    assert admin_client.get(page_url(cert, "revoke")).status_code == 403


def test_the_page_shows_its_buttons_timeline_and_who_is_alerted(admin_client, cert, settings):
    settings.SLACK_WEBHOOK_URL = "http://127.0.0.1:9/hook"
    policy = cert.renewal_policy
    policy.alert_thresholds_days = [30, 7]
    policy.alert_severity_map = {"30": "warning", "7": "critical"}
    policy.alert_channels = {"warning": ["Email"], "critical": ["Email", "Slack"]}
    policy.save()
    before_issue = admin_client.get(page_url(cert)).content.decode()
    assert page_url(cert, "export") not in before_issue  # nothing to export yet
    version = issue(admin_client, cert)
    admin_client.post(page_url(cert, "renew"), {})
    response = admin_client.get(page_url(cert))
    page = response.content.decode()
    for action in ("renew", "issue", "export", "revoke"):
        assert page_url(cert, action) in page
    kinds = [entry.kind for entry in response.context["timeline"]]
    assert {"version", "job", "audit"} <= set(kinds)
    assert f"Issued serial {version.serial_number}" in page
    rows = response.context["panels"][0].rows
    # SMTP is not configured here: the owner's email is still routed and would wait in the dead letter.
    unconfigured = "; its CERTCTL_* variables are not set, so these alerts wait in the dead letter"
    email = [
        "30 days",
        "warning",
        "no",
        "Email (environment)",
        f"policy alert_channels[warning]{unconfigured}",
    ]
    assert [*email, cert.owner.email, "yes"] in rows
    assert [
        "7 days",
        "critical",
        "no",
        "Slack (environment)",
        "policy alert_channels[critical]",
        "Slack",
        "yes",
    ] in rows


def test_an_unknown_certificate_is_404_on_every_button(admin_client, db):
    for action in ("renew", "issue", "export", "revoke"):
        url = reverse(f"admin:certificates_managedcertificate_{action}", args=["cert-missing"])
        assert admin_client.get(url).status_code == 404
