"""Two-person approval: through the services, the admin action functions and the API."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from certificates.enums import ApprovalState, CertificateStatus, JobStatus
from certificates.issuance.admin import approve_selected, decide_requests, reject_selected
from certificates.issuance.models import ApprovalRequest, Job
from certificates.issuance.services import approvals
from certificates.issuance.services.issuance import ApprovalRequired, issue_from_csr
from certificates.issuance.services.jobs import InvalidTransition
from certificates.issuance.services.renewal import request_renewal
from tests.factories import ProfileFactory, make_api_key
from tests.issuance_helpers import issuable_certificate, make_csr, make_root, names_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def gated(db):
    cert = issuable_certificate(make_root(), profile=ProfileFactory(requires_approval=True))
    job = request_renewal(cert, actor="alice")
    return cert, job, ApprovalRequest.objects.get(job=job)


def test_manual_renew_on_a_gated_profile_waits_for_approval(gated):
    cert, job, request = gated
    assert job.status == JobStatus.AWAITING_APPROVAL
    assert (request.state, request.requested_by) == (ApprovalState.PENDING, "alice")
    assert request.metadata["common_name"] == cert.common_name
    assert AuditEvent.objects.filter(
        action="approval_requested", resource_id=request.pk, actor="alice"
    ).exists()


def test_requester_cannot_approve_their_own_request(gated):
    _, job, request = gated
    with pytest.raises(approvals.SelfApprovalForbidden, match="two-person"):
        approvals.approve(request, actor="ALICE")
    request.refresh_from_db()
    job.refresh_from_db()
    assert request.state == ApprovalState.PENDING
    assert job.status == JobStatus.AWAITING_APPROVAL


def test_another_person_approves_and_the_job_becomes_pending(gated):
    _, job, request = gated
    approvals.approve(request, actor="bob", note="change ticket 42")
    request.refresh_from_db()
    job.refresh_from_db()
    assert (request.state, request.decided_by, request.decision_note) == (
        ApprovalState.APPROVED,
        "bob",
        "change ticket 42",
    )
    assert request.decided_at is not None
    assert job.status == JobStatus.PENDING
    assert AuditEvent.objects.filter(action="approval_approved", resource_id=request.pk, actor="bob").exists()


def test_rejection_cancels_the_job_and_settles_the_certificate(gated):
    cert, job, request = gated
    approvals.reject(request, actor="bob", note="not now")
    job.refresh_from_db()
    cert.refresh_from_db()
    assert (job.status, job.last_error) == (JobStatus.CANCELLED, "approval rejected: not now")
    assert cert.status == CertificateStatus.PENDING
    assert AuditEvent.objects.filter(action="approval_rejected", resource_id=request.pk).exists()


def test_a_decided_request_cannot_be_decided_again(gated):
    _, _, request = gated
    approvals.reject(request, actor="bob")
    with pytest.raises(approvals.AlreadyDecided):
        approvals.approve(request, actor="carol")


def test_gated_certificate_is_not_issued_without_an_approved_job(gated, settings):
    cert, job, request = gated
    csr_pem, _ = make_csr(names_of(cert))
    with pytest.raises(ApprovalRequired):
        issue_from_csr(cert, csr_pem, actor="agent")
    with pytest.raises(InvalidTransition):
        issue_from_csr(cert, csr_pem, actor="agent", job=job)
    approvals.approve(request, actor="bob")
    job.refresh_from_db()
    version = issue_from_csr(cert, csr_pem, actor="agent", job=job)
    assert version.certificate_id == cert.pk


def test_admin_path_applies_the_same_rule(gated):
    _, job, request = gated
    decided, refused = decide_requests([request], approvals.approve, actor="alice")
    assert decided == [] and "two-person" in refused[0]
    decided, refused = decide_requests([request], approvals.approve, actor="bob")
    assert decided == [request.pk] and refused == []
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING


class _AdminStub:
    def __init__(self):
        self.messages = []

    def message_user(self, request, message, level):
        self.messages.append((level, message))


class _RequestStub:
    def __init__(self, username):
        self.user = type("U", (), {"get_username": lambda self: username})()


def test_admin_actions_decide_as_the_logged_in_user(gated):
    _, _job, request = gated
    admin = _AdminStub()
    approve_selected(admin, _RequestStub("alice"), ApprovalRequest.objects.filter(pk=request.pk))
    assert "two-person" in admin.messages[-1][1]
    reject_selected(admin, _RequestStub("carol"), ApprovalRequest.objects.filter(pk=request.pk))
    request.refresh_from_db()
    assert (request.state, request.decided_by) == (ApprovalState.REJECTED, "carol")


def test_api_requester_gets_403_and_another_key_approves(api_client):
    cert = issuable_certificate(make_root(), profile=ProfileFactory(requires_approval=True))
    _, alice = make_api_key("alice", scopes=["read", "write", "approve"])
    _, bob = make_api_key("bob", scopes=["read", "write", "approve"])
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {alice}")
    renew = api_client.post(f"/api/v1/certificates/{cert.pk}/renew", {}, format="json")
    assert renew.status_code == 202, renew.json()
    assert renew.json()["job_status"] == "AwaitingApproval"
    request = ApprovalRequest.objects.get(job_id=renew.json()["job_id"])

    own = api_client.post(f"/api/v1/approvals/{request.pk}/approve", {"note": "me"}, format="json")
    assert own.status_code == 403
    assert own.json()["error"] == "forbidden" and "two-person" in own.json()["message"]

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {bob}")
    ok = api_client.post(f"/api/v1/approvals/{request.pk}/approve", {"note": "ok"}, format="json")
    assert ok.status_code == 200
    assert ok.json() == {
        "id": request.pk,
        "action": "approved",
        "decided_by": "bob",
        "state": "approved",
        "job_id": request.job_id,
    }
    again = api_client.post(f"/api/v1/approvals/{request.pk}/reject", {}, format="json")
    assert again.status_code == 409
    assert Job.objects.get(pk=request.job_id).status == JobStatus.PENDING


def test_api_lists_and_filters_approvals(client_with_key, gated):
    _, _, request = gated
    listed = client_with_key.get("/api/v1/approvals?state=pending")
    assert listed.status_code == 200
    assert [r["id"] for r in listed.json()["data"]] == [request.pk]
    assert client_with_key.get("/api/v1/approvals?state=approved").json()["data"] == []
    assert client_with_key.get("/api/v1/approvals?state=bogus").status_code == 400
    detail = client_with_key.get(f"/api/v1/approvals/{request.pk}")
    assert detail.json()["requested_by"] == "alice"
    assert client_with_key.get("/api/v1/approvals/ar-missing").status_code == 404


def test_bulk_renew_applies_the_approval_gate(client_with_key):
    issuer = make_root()
    profile = ProfileFactory(requires_approval=True)
    certs = [issuable_certificate(issuer, profile=profile) for _ in range(2)]
    body = client_with_key.post(
        "/api/v1/certificates/bulk-renew", {"profile_id": profile.pk}, format="json"
    ).json()
    assert body["total_enqueued"] == 2
    jobs = Job.objects.filter(pk__in=[j["job_id"] for j in body["enqueued_jobs"]])
    assert {job.status for job in jobs} == {JobStatus.AWAITING_APPROVAL}
    requests = ApprovalRequest.objects.filter(job__in=jobs, state=ApprovalState.PENDING)
    assert sorted(r.certificate_id for r in requests) == sorted(c.pk for c in certs)


def test_admin_changelist_action_enforces_the_two_person_rule(gated, client):
    from django.contrib.auth import get_user_model

    _, job, request = gated
    url = "/admin/certificates/approvalrequest/"
    form = {"action": "approve_selected", "_selected_action": [request.pk]}
    client.force_login(get_user_model().objects.create_superuser("alice", "alice@example.test", "pw-alice-1"))
    own = client.post(url, form, follow=True)
    assert own.status_code == 200
    assert "two-person" in " ".join(str(m) for m in own.context["messages"])
    request.refresh_from_db()
    assert request.state == ApprovalState.PENDING

    client.force_login(get_user_model().objects.create_superuser("bob", "bob@example.test", "pw-bob-12"))
    assert client.post(url, form).status_code == 302
    request.refresh_from_db()
    job.refresh_from_db()
    assert (request.state, request.decided_by, job.status) == (
        ApprovalState.APPROVED,
        "bob",
        JobStatus.PENDING,
    )
    assert AuditEvent.objects.filter(action="approval_approved", resource_id=request.pk, actor="bob").exists()


def test_api_issue_on_a_gated_profile_waits_for_the_approval(api_client):
    cert = issuable_certificate(make_root(), profile=ProfileFactory(requires_approval=True))
    _, alice = make_api_key("alice", scopes=["read", "write", "approve"])
    _, bob = make_api_key("bob", scopes=["read", "write", "approve"])
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {alice}")
    csr_pem, _ = make_csr(names_of(cert))
    url = f"/api/v1/certificates/{cert.pk}/issue"

    direct = api_client.post(url, {"csr_pem": csr_pem}, format="json")
    assert direct.status_code == 409
    assert direct.json()["error"] == "approval_required" and "requires approval" in direct.json()["message"]

    job_id = api_client.post(f"/api/v1/certificates/{cert.pk}/renew").json()["job_id"]
    assert api_client.post(url, {"csr_pem": csr_pem}, format="json").status_code == 409  # still awaiting
    request = ApprovalRequest.objects.get(job_id=job_id)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {bob}")
    assert api_client.post(f"/api/v1/approvals/{request.pk}/approve").status_code == 200

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {alice}")
    issued = api_client.post(url, {"csr_pem": csr_pem}, format="json")
    assert issued.status_code == 201, issued.json()
    assert Job.objects.get(pk=job_id).status == JobStatus.COMPLETED
    cert.refresh_from_db()
    assert cert.status == CertificateStatus.ACTIVE
