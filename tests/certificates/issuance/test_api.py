"""The lifecycle endpoints: renew, issue, jobs, export, bulk renew and the issuer test."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12

from audit.models import AuditEvent
from certificates.enums import CertificateStatus, JobStatus
from certificates.issuance.models import Job
from certificates.issuance.services.job_processor import process_pending
from tests.factories import CertificateFactory, IssuerFactory, JobFactory, TargetFactory
from tests.issuance_helpers import issuable_certificate, make_csr, make_root, names_of, split_chain

pytestmark = pytest.mark.django_db


@pytest.fixture
def issuer(db):
    return make_root()


def _issued(issuer, client, **kwargs):
    cert = issuable_certificate(issuer, **kwargs)
    response = client.post(
        f"/api/v1/certificates/{cert.pk}/issue", {"csr_pem": make_csr(names_of(cert))[0]}, format="json"
    )
    assert response.status_code == 201, response.json()
    return cert, response.json()


# --- renew ---------------------------------------------------------------------------------------------


def test_renew_in_agent_mode_waits_for_a_csr(issuer, client_with_key, settings):
    settings.KEYGEN_MODE = "agent"
    cert = CertificateFactory(issuer=issuer)
    response = client_with_key.post(f"/api/v1/certificates/{cert.pk}/renew")
    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["job_type"], body["job_status"]) == (
        "renewal_triggered",
        "Renewal",
        "AwaitingCSR",
    )
    cert.refresh_from_db()
    assert cert.status == CertificateStatus.RENEWAL_IN_PROGRESS
    assert AuditEvent.objects.filter(
        action="renewal_triggered", resource_id=cert.pk, actor="automation"
    ).exists()


def test_renew_of_a_never_issued_certificate_is_an_issuance_job(issuer, client_with_key, settings):
    settings.KEYGEN_MODE = "server"
    cert = issuable_certificate(issuer)
    body = client_with_key.post(f"/api/v1/certificates/{cert.pk}/renew/").json()
    assert (body["job_type"], body["job_status"]) == ("Issuance", "Pending")


def test_second_renew_conflicts_unless_forced(issuer, client_with_key):
    cert = CertificateFactory(issuer=issuer)
    first = client_with_key.post(f"/api/v1/certificates/{cert.pk}/renew").json()
    conflict = client_with_key.post(f"/api/v1/certificates/{cert.pk}/renew")
    assert conflict.status_code == 409
    assert conflict.json()["error"] == "conflict"
    forced = client_with_key.post(f"/api/v1/certificates/{cert.pk}/renew?force=true")
    assert forced.status_code == 202
    assert Job.objects.get(pk=first["job_id"]).status == JobStatus.CANCELLED
    body_forced = client_with_key.post(
        f"/api/v1/certificates/{cert.pk}/renew", {"force": True}, format="json"
    )
    assert body_forced.status_code == 202
    assert Job.objects.open().filter(certificate=cert).count() == 1


def test_renew_refuses_archived_and_unknown(issuer, client_with_key):
    archived = CertificateFactory(issuer=issuer, status=CertificateStatus.ARCHIVED)
    response = client_with_key.post(f"/api/v1/certificates/{archived.pk}/renew")
    assert response.status_code == 400
    assert "archived" in response.json()["message"]
    assert client_with_key.post("/api/v1/certificates/cert-nope/renew").status_code == 404


@pytest.mark.parametrize("payload", [[1, 2], "force", {"force": "maybe"}])
def test_renew_with_a_malformed_body_is_400_and_opens_no_job(issuer, client_with_key, payload):
    cert = CertificateFactory(issuer=issuer)
    response = client_with_key.post(f"/api/v1/certificates/{cert.pk}/renew", payload, format="json")
    assert response.status_code == 400
    assert set(response.json()) >= {"error", "message", "request_id"}
    assert not Job.objects.filter(certificate=cert).exists()
    cert.refresh_from_db()
    assert cert.status == CertificateStatus.ACTIVE


def test_renew_requires_a_key(issuer, api_client):
    cert = CertificateFactory(issuer=issuer)
    assert api_client.post(f"/api/v1/certificates/{cert.pk}/renew").status_code == 401


# --- issue ---------------------------------------------------------------------------------------------


def test_issue_returns_the_new_version(issuer, client_with_key):
    cert, body = _issued(issuer, client_with_key)
    assert body["certificate_id"] == cert.pk
    assert body["issuer_id"] == issuer.pk
    assert len(body["serial_number"]) == 40
    assert body["not_after"].endswith("Z")
    assert split_chain(body["pem_chain"])[0].serial_number == int(body["serial_number"], 16)


def test_issue_completes_the_job_waiting_for_a_csr(issuer, client_with_key):
    cert = issuable_certificate(issuer)
    cert.targets.add(TargetFactory())
    job = JobFactory(certificate=cert, type="Issuance", status=JobStatus.AWAITING_CSR)
    response = client_with_key.post(
        f"/api/v1/certificates/{cert.pk}/issue", {"csr_pem": make_csr(names_of(cert))[0]}, format="json"
    )
    assert response.status_code == 201
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert Job.objects.filter(certificate=cert, type="Deployment", status="Pending").count() == 1


def test_issue_profile_violation_is_a_clear_400(issuer, client_with_key):
    cert = issuable_certificate(issuer)
    response = client_with_key.post(
        f"/api/v1/certificates/{cert.pk}/issue",
        {"csr_pem": make_csr(["other.example.org"])[0]},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "profile_violation"
    assert "other.example.org" in body["message"]
    assert body["request_id"]


@pytest.mark.parametrize("payload", [{}, {"csr_pem": ""}, {"csr_pem": "junk"}, {"csr_pem": 5}, []])
def test_issue_bad_body_is_400(issuer, client_with_key, payload):
    cert = issuable_certificate(issuer)
    response = client_with_key.post(f"/api/v1/certificates/{cert.pk}/issue", payload, format="json")
    assert response.status_code == 400
    assert set(response.json()) >= {"error", "message", "request_id"}


# --- jobs ----------------------------------------------------------------------------------------------


def test_jobs_list_filters_and_detail(issuer, client_with_key):
    a = JobFactory(type="Renewal", status=JobStatus.PENDING)
    b = JobFactory(type="Deployment", status=JobStatus.FAILED)
    listed = client_with_key.get("/api/v1/jobs").json()
    assert listed["total"] == 2
    assert [j["id"] for j in client_with_key.get("/api/v1/jobs?status=Failed").json()["data"]] == [b.pk]
    assert [j["id"] for j in client_with_key.get("/api/v1/jobs?type=Renewal").json()["data"]] == [a.pk]
    by_cert = client_with_key.get(f"/api/v1/jobs?certificate_id={a.certificate_id}").json()["data"]
    assert [j["id"] for j in by_cert] == [a.pk]
    assert client_with_key.get("/api/v1/jobs?status=Nope").status_code == 400
    detail = client_with_key.get(f"/api/v1/jobs/{a.pk}").json()
    assert {"attempts", "max_attempts", "started_at", "completed_at", "last_error"} <= set(detail)


def test_cancel_job_and_409_when_not_cancellable(client_with_key):
    job = JobFactory(status=JobStatus.PENDING)
    response = client_with_key.post(f"/api/v1/jobs/{job.pk}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "Cancelled"
    again = client_with_key.post(f"/api/v1/jobs/{job.pk}/cancel")
    assert again.status_code == 409
    assert again.json()["error"] == "conflict"


def test_cancelling_a_renewal_job_returns_the_certificate_to_its_expiry_status(issuer, client_with_key):
    cert = CertificateFactory(issuer=issuer)  # Active, expires in 60 days
    job_id = client_with_key.post(f"/api/v1/certificates/{cert.pk}/renew").json()["job_id"]
    cert.refresh_from_db()
    assert cert.status == CertificateStatus.RENEWAL_IN_PROGRESS

    response = client_with_key.post(f"/api/v1/jobs/{job_id}/cancel")

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["last_error"]) == ("Cancelled", "cancelled by user")
    assert response.json()["completed_at"] is not None
    cert.refresh_from_db()
    assert cert.status == CertificateStatus.ACTIVE
    assert AuditEvent.objects.filter(action="job_cancelled", resource_id=job_id).exists()


# --- export --------------------------------------------------------------------------------------------


def test_export_pem_for_any_key(issuer, client_with_key):
    cert, issued = _issued(issuer, client_with_key)
    body = client_with_key.get(f"/api/v1/certificates/{cert.pk}/export/pem").json()
    assert body["full_pem"] == issued["pem_chain"]
    assert body["cert_pem"] + body["chain_pem"] == body["full_pem"]
    assert "private_key_pem" not in body
    download = client_with_key.get(f"/api/v1/certificates/{cert.pk}/export/pem?download=true")
    assert download["Content-Type"] == "application/x-pem-file"
    assert AuditEvent.objects.filter(action="certificate_exported", resource_id=cert.pk).count() == 2


def test_export_before_issuance_is_409(issuer, client_with_key):
    cert = issuable_certificate(issuer)
    assert client_with_key.get(f"/api/v1/certificates/{cert.pk}/export/pem").status_code == 409


def test_server_generated_key_only_for_admin(issuer, api_client, user_key, admin_key, settings):
    settings.KEYGEN_MODE = "server"
    cert = issuable_certificate(issuer)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {user_key}")
    assert api_client.post(f"/api/v1/certificates/{cert.pk}/renew").status_code == 202
    process_pending()

    assert api_client.get(f"/api/v1/certificates/{cert.pk}/export/pem?include_key=true").status_code == 403
    assert (
        api_client.post(
            f"/api/v1/certificates/{cert.pk}/export/pkcs12", {"password": "s3cret!!"}, format="json"
        ).status_code
        == 403
    )

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {admin_key}")
    pem = api_client.get(f"/api/v1/certificates/{cert.pk}/export/pem?include_key=true").json()
    assert "PRIVATE KEY" in pem["private_key_pem"]
    p12 = api_client.post(
        f"/api/v1/certificates/{cert.pk}/export/pkcs12", {"password": "s3cret!!"}, format="json"
    )
    assert p12.status_code == 200
    assert p12["Content-Type"] == "application/x-pkcs12"
    key, leaf, cas = pkcs12.load_key_and_certificates(p12.content, b"s3cret!!")
    assert key is not None and leaf.serial_number == int(pem["serial_number"], 16)
    assert len(cas) == 1
    events = AuditEvent.objects.filter(action="certificate_exported", resource_id=cert.pk)
    assert {e.details["format"] for e in events} == {"pem", "pkcs12"}
    assert all("PRIVATE KEY" not in str(e.details) for e in events)


def test_pkcs12_without_a_server_key_is_409(issuer, admin_client_with_key):
    cert, _ = _issued(issuer, admin_client_with_key)
    response = admin_client_with_key.post(
        f"/api/v1/certificates/{cert.pk}/export/pkcs12", {"password": "abcd1234"}, format="json"
    )
    assert response.status_code == 409
    assert "where the certificate is used" in response.json()["message"]


# --- bulk renew -----------------------------------------------------------------------------------------


def test_bulk_renew_has_no_row_cap_and_skips_what_cannot_renew(issuer, client_with_key):
    certs = [CertificateFactory(issuer=issuer) for _ in range(60)]
    revoked = CertificateFactory(issuer=issuer, status=CertificateStatus.REVOKED)
    other = CertificateFactory()
    response = client_with_key.post(
        "/api/v1/certificates/bulk-renew", {"issuer_id": issuer.pk}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["total_matched"], body["total_enqueued"], body["total_skipped"]) == (61, 60, 1)
    assert {j["certificate_id"] for j in body["enqueued_jobs"]} == {c.pk for c in certs}
    assert not Job.objects.filter(certificate__in=[revoked, other]).exists()
    again = client_with_key.post(
        "/api/v1/certificates/bulk-renew", {"issuer_id": issuer.pk}, format="json"
    ).json()
    assert (again["total_enqueued"], again["total_skipped"]) == (0, 61)
    assert AuditEvent.objects.filter(action="bulk_renewal_initiated").count() == 2


def test_bulk_renew_needs_criteria(client_with_key):
    response = client_with_key.post("/api/v1/certificates/bulk-renew", {}, format="json")
    assert response.status_code == 400
    assert "at least one criterion" in response.json()["message"]


def test_bulk_renew_by_agent_and_ids(issuer, client_with_key):
    target = TargetFactory()
    mapped, unmapped = CertificateFactory(issuer=issuer), CertificateFactory(issuer=issuer)
    mapped.targets.add(target)
    body = client_with_key.post(
        "/api/v1/certificates/bulk-renew",
        {"agent_id": target.agent_id, "certificate_ids": [mapped.pk, unmapped.pk]},
        format="json",
    ).json()
    assert [j["certificate_id"] for j in body["enqueued_jobs"]] == [mapped.pk]


# --- issuer test ---------------------------------------------------------------------------------------


def test_issuer_test_signs_and_records_the_outcome(issuer, client_with_key):
    response = client_with_key.post(f"/api/v1/issuers/{issuer.pk}/test")
    assert response.status_code == 200
    assert response.json()["status"] == "success"
    issuer.refresh_from_db()
    assert issuer.test_status == "success" and issuer.last_tested_at is not None

    empty = IssuerFactory()
    failed = client_with_key.post(f"/api/v1/issuers/{empty.pk}/test").json()
    assert failed["status"] == "failed"
    assert "init_ca" in failed["message"]
    assert client_with_key.post("/api/v1/issuers/issuer-none/test").status_code == 404


@pytest.mark.parametrize("payload", [{}, {"password": ""}, {"password": "abc"}, {"password": 5}])
def test_pkcs12_without_a_usable_password_is_400(issuer, admin_client_with_key, payload):
    cert, _ = _issued(issuer, admin_client_with_key)
    response = admin_client_with_key.post(
        f"/api/v1/certificates/{cert.pk}/export/pkcs12", payload, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) >= {"error", "message", "request_id"}
    assert not AuditEvent.objects.filter(action="certificate_exported", resource_id=cert.pk).exists()


def test_an_issuer_type_without_a_backend_is_refused_clearly(issuer, client_with_key):
    from certificates.issuance.services.renewal import run_renewal_check

    acme = IssuerFactory(type="StepCA")  # a valid type with no backend in this server
    cert = issuable_certificate(acme)

    renew = client_with_key.post(f"/api/v1/certificates/{cert.pk}/renew")
    assert renew.status_code == 400
    assert renew.json()["error"] == "renewal_refused" and "unsupported" in renew.json()["message"]
    issue = client_with_key.post(
        f"/api/v1/certificates/{cert.pk}/issue", {"csr_pem": make_csr(names_of(cert))[0]}, format="json"
    )
    assert issue.status_code == 400
    assert "StepCA" in issue.json()["message"]
    tested = client_with_key.post(f"/api/v1/issuers/{acme.pk}/test").json()
    assert tested["status"] == "failed" and "no backend" in tested["message"]

    due = CertificateFactory(issuer=acme)
    due.expires_at = due.expires_at - timedelta(days=59)  # 1 day left, inside any window
    due.save(update_fields=["expires_at"])
    assert run_renewal_check().created == 0
    assert not Job.objects.filter(certificate__issuer=acme).exists()
