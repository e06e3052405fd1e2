"""POST /api/v1/certificates/{id}/revoke: reasons, errors and everything a revocation writes."""

from __future__ import annotations

import json

import pytest
from cryptography import x509

from audit.models import AuditEvent
from certctl.kernel import counters
from certificates.enums import CertificateStatus
from certificates.revocation.models import CertificateRevocation, CRLCache, OCSPResponseCache
from certificates.revocation.services import crl as crl_cache
from notifications.models import NotificationEvent
from tests.factories import CertificateFactory, RenewalPolicyFactory
from tests.revocation_support import issue_leaf, make_local_ca

pytestmark = pytest.mark.django_db


@pytest.fixture
def ca():
    return make_local_ca()


def revoke(client, cert_id, body=None, content_type="application/json"):
    data = json.dumps(body) if body is not None else ""
    return client.post(f"/api/v1/certificates/{cert_id}/revoke", data=data, content_type=content_type)


def test_revoke_with_charset_content_type_records_everything(client_with_key, ca):
    cert, version, _ = issue_leaf(ca)
    response = revoke(
        client_with_key, cert.id, {"reason": "keyCompromise"}, "application/json; charset=utf-8"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "revoked"
    assert body["reason"] == "keyCompromise"
    assert body["serial"] == version.serial_number

    cert.refresh_from_db()
    assert cert.status == CertificateStatus.REVOKED
    assert cert.revocation_reason == "keyCompromise"
    assert cert.revoked_at is not None
    row = CertificateRevocation.objects.get(certificate=cert)
    assert (row.issuer_id, row.serial_number, row.reason) == (
        ca.issuer.id,
        version.serial_number,
        "keyCompromise",
    )
    assert row.revoked_by == "automation"
    assert row.issuer_notified is True

    event = AuditEvent.objects.get(action="certificate_revoked", resource_id=cert.id)
    assert event.actor == "automation"
    assert event.actor_type == "User"
    assert event.details["serial"] == version.serial_number
    assert event.details["reason"] == "keyCompromise"


def test_revocation_notifies_webhook_owner_email_and_critical_channels(client_with_key, ca):
    policy = RenewalPolicyFactory(alert_channels={"critical": ["Slack", "Email"], "warning": ["Teams"]})
    cert, _, _ = issue_leaf(ca, renewal_policy=policy)
    assert revoke(client_with_key, cert.id, {"reason": "superseded"}).status_code == 200
    events = NotificationEvent.objects.filter(certificate=cert, type="Revocation")
    assert sorted(events.values_list("channel", flat=True)) == ["Email", "Slack", "Webhook"]
    email = events.get(channel="Email")
    assert email.recipient == cert.owner.email
    assert email.status == "pending"
    assert "superseded" in email.message


def test_revocation_with_unrouted_policy_falls_back_to_email(client_with_key, ca):
    cert, _, _ = issue_leaf(ca, renewal_policy=RenewalPolicyFactory(alert_channels={}))
    assert revoke(client_with_key, cert.id).status_code == 200
    channels = NotificationEvent.objects.filter(certificate=cert).values_list("channel", flat=True)
    assert sorted(channels) == ["Email", "Webhook"]


def test_missing_empty_or_null_reason_and_empty_body_mean_unspecified(client_with_key, ca):
    certs = [issue_leaf(ca)[0] for _ in range(4)]
    for cert, body in zip(certs, [{}, None, {"reason": None}, {"reason": ""}], strict=True):
        response = revoke(client_with_key, cert.id, body)
        assert response.status_code == 200, (body, response.content)
        assert response.json()["reason"] == "unspecified"
        assert CertificateRevocation.objects.get(certificate=cert).reason == "unspecified"


def test_unknown_reason_is_400_listing_the_valid_ones(client_with_key, ca):
    cert, _, _ = issue_leaf(ca)
    response = revoke(client_with_key, cert.id, {"reason": "KeyCompromise"})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "validation_error"
    for name in ("unspecified", "keyCompromise", "caCompromise", "affiliationChanged", "superseded",
                 "cessationOfOperation", "certificateHold", "privilegeWithdrawn"):  # fmt: skip
        assert name in body["message"]
    cert.refresh_from_db()
    assert cert.status == CertificateStatus.ACTIVE


def test_malformed_json_is_400_not_500(client_with_key, ca):
    cert, _, _ = issue_leaf(ca)
    response = client_with_key.post(
        f"/api/v1/certificates/{cert.id}/revoke", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


def test_already_revoked_is_409(client_with_key, ca):
    cert, _, _ = issue_leaf(ca)
    assert revoke(client_with_key, cert.id).status_code == 200
    response = revoke(client_with_key, cert.id, {"reason": "keyCompromise"})
    assert response.status_code == 409
    assert "already revoked" in response.json()["message"]
    assert CertificateRevocation.objects.filter(certificate=cert).count() == 1


def test_archived_is_409(client_with_key, ca):
    cert, _, _ = issue_leaf(ca, status=CertificateStatus.ARCHIVED)
    response = revoke(client_with_key, cert.id)
    assert response.status_code == 409
    assert response.json()["error"] == "conflict"


def test_certificate_without_issued_version_is_409(client_with_key, ca):
    cert = CertificateFactory(issuer=ca.issuer)
    assert revoke(client_with_key, cert.id).status_code == 409


def test_unknown_certificate_is_404(client_with_key):
    response = revoke(client_with_key, "cert-doesnotexist")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_revoke_requires_an_api_key(api_client, ca):
    cert, _, _ = issue_leaf(ca)
    assert revoke(api_client, cert.id).status_code == 401


def test_trailing_slash_is_accepted(client_with_key, ca):
    cert, _, _ = issue_leaf(ca)
    response = client_with_key.post(
        f"/api/v1/certificates/{cert.id}/revoke/",
        data='{"reason":"superseded"}',
        content_type="application/json",
    )
    assert response.status_code == 200


def test_revoked_counter_counts_by_reason(client_with_key, ca):
    for reason in ("keyCompromise", "keyCompromise", "superseded"):
        cert, _, _ = issue_leaf(ca)
        revoke(client_with_key, cert.id, {"reason": reason})
    series = counters.read("certctl_certificates_revoked_total")
    assert series[(("reason", "keyCompromise"),)] == 2
    assert series[(("reason", "superseded"),)] == 1


def test_after_commit_the_crl_is_regenerated_and_cached_ocsp_dropped(
    client_with_key, ca, django_capture_on_commit_callbacks
):
    cert, _, leaf = issue_leaf(ca)
    before = crl_cache.current_crl(ca.issuer.id)
    OCSPResponseCache.objects.create(
        issuer=ca.issuer,
        serial_hex=format(leaf.serial_number, "x"),
        hash_algorithm="sha1",
        response_der=b"stale",
        cert_status="good",
        this_update=before.this_update,
        next_update=before.next_update,
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert revoke(client_with_key, cert.id, {"reason": "caCompromise"}).status_code == 200

    assert not OCSPResponseCache.objects.filter(issuer=ca.issuer).exists()
    after = CRLCache.objects.get(issuer=ca.issuer)
    assert after.crl_number == before.crl_number + 1
    crl = x509.load_der_x509_crl(bytes(after.crl_der))
    entry = crl.get_revoked_certificate_by_serial_number(leaf.serial_number)
    assert entry is not None
    assert (
        entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        == x509.ReasonFlags.ca_compromise
    )


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_revocations_of_one_certificate_make_one_record():
    import threading

    from django.db import connection

    from certificates.revocation.services import revoke as revocation

    ca = make_local_ca()
    cert, _, _ = issue_leaf(ca)
    barrier = threading.Barrier(2)
    outcomes = []

    def attempt(reason):
        try:
            barrier.wait()
            revocation.revoke_certificate(cert.id, reason, actor=reason)
            outcomes.append("revoked")
        except revocation.NotRevocable:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(r,)) for r in ("keyCompromise", "superseded")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "revoked"]
    assert CertificateRevocation.objects.filter(certificate=cert).count() == 1
    assert AuditEvent.objects.filter(action="certificate_revoked", resource_id=cert.id).count() == 1


@pytest.mark.parametrize("failing", ["record_many", "enqueue_many", "drop_ocsp_cache"])
def test_a_failure_midway_leaves_nothing_behind(ca, monkeypatch, failing):
    """Status, revocation row, audit event and notifications are one transaction: all or nothing."""
    from certificates.revocation.services import revoke as revocation

    cert, _, _ = issue_leaf(ca)

    def boom(*args, **kwargs):
        raise RuntimeError(f"{failing} failed")

    monkeypatch.setattr(revocation, failing, boom)
    with pytest.raises(RuntimeError):
        revocation.revoke_certificate(cert.id, "keyCompromise", actor="tester")
    cert.refresh_from_db()
    assert cert.status == CertificateStatus.ACTIVE
    assert cert.revoked_at is None
    assert not CertificateRevocation.objects.filter(certificate=cert).exists()
    assert not AuditEvent.objects.filter(action="certificate_revoked").exists()
    assert not NotificationEvent.objects.filter(certificate=cert).exists()
