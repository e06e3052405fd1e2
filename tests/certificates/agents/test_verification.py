"""Post-deployment verification against real loopback TLS servers: after an agent reports a deployment Completed,
the server's handshake with the target's verify_endpoint confirms the deployed leaf, or fails the deployment and
notifies the owner; targets without an endpoint are skipped. Also POST /jobs/{id}/verify and GET …/verification."""

from __future__ import annotations

import hashlib

import pytest

from audit.models import AuditEvent
from certificates.agents.services import verification
from certificates.agents.services.verification import EndpointConfigError, endpoint_probe
from certificates.discovery.services.targets import Probe
from certificates.issuance.models import Job
from notifications.models import NotificationEvent
from tests.agent_helpers import add_version, agent_client, make_agent
from tests.discovery_support import Pki, closed_port, tls_server
from tests.factories import CertificateFactory, JobFactory, TargetFactory

pytestmark = pytest.mark.django_db

PKI = Pki()


@pytest.fixture
def deployed():
    """A certificate with one issued version (its leaf and key), mapped to one target of an agent."""
    agent, credential = make_agent()
    target = TargetFactory(
        agent=agent, config={"cert_path": "/etc/ssl/site.crt", "key_path": "/etc/ssl/site.key"}
    )
    certificate = CertificateFactory(common_name="www.example.test")
    certificate.targets.add(target)
    leaf = PKI.leaf("www.example.test")
    version = add_version(certificate, leaf.cert, PKI.intermediate.cert)
    return {"agent": agent, "credential": credential, "target": target, "leaf": leaf, "version": version}


def running_job(deployed) -> Job:
    return JobFactory(
        type="Deployment",
        status="Running",
        certificate=deployed["version"].certificate,
        target=deployed["target"],
        agent=deployed["agent"],
        version=deployed["version"],
        attempts=1,
    )


def point_at(target, port: int, **extra) -> None:
    target.config = {**target.config, "verify_endpoint": f"127.0.0.1:{port}", **extra}
    target.save()


def report_completed(api_client, deployed, job, capture) -> None:
    agent_client(api_client, deployed["credential"])
    with capture(execute=True):
        response = api_client.post(
            f"/api/v1/agents/{deployed['agent'].pk}/jobs/{job.pk}/status",
            {"status": "Completed"},
            format="json",
        )
    assert response.status_code == 200, response.content


def test_a_completed_deployment_served_by_its_endpoint_is_verified(
    api_client, deployed, django_capture_on_commit_callbacks
):
    job = running_job(deployed)
    with tls_server([deployed["leaf"], PKI.intermediate]) as port:
        point_at(deployed["target"], port)
        report_completed(api_client, deployed, job, django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert (job.status, job.verification_status, job.verification_error) == ("Completed", "success", "")
    assert job.verification_fingerprint == deployed["version"].fingerprint_sha256
    assert job.verified_at is not None
    assert AuditEvent.objects.filter(action="deployment_verification_success", resource_id=job.pk).exists()


def test_another_certificate_served_fails_the_deployment_and_notifies_the_owner(
    api_client, deployed, django_capture_on_commit_callbacks
):
    job = running_job(deployed)
    stale = PKI.leaf("www.example.test")
    with tls_server([stale, PKI.intermediate]) as port:
        point_at(deployed["target"], port)
        report_completed(api_client, deployed, job, django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert (job.status, job.verification_status) == ("Failed", "failed")
    assert job.verification_fingerprint == hashlib.sha256(stale.der).hexdigest()
    assert deployed["version"].fingerprint_sha256 in job.verification_error
    assert job.last_error == job.verification_error
    failure = NotificationEvent.objects.get(type="DeploymentFailure", certificate_id=job.certificate_id)
    assert "verification failed" in failure.message
    assert AuditEvent.objects.filter(action="deployment_verification_failed", resource_id=job.pk).exists()


def test_an_endpoint_that_does_not_answer_fails_verification(deployed):
    job = running_job(deployed)
    Job.objects.filter(pk=job.pk).update(status="Completed")
    point_at(deployed["target"], closed_port())
    job = verification.verify(job.pk, timeout=2)
    assert (job.status, job.verification_status) == ("Failed", "failed")
    assert "closed" in job.verification_error


def test_a_target_without_an_endpoint_is_skipped_and_the_job_stays_completed(
    api_client, deployed, django_capture_on_commit_callbacks
):
    job = running_job(deployed)
    report_completed(api_client, deployed, job, django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert (job.status, job.verification_status) == ("Completed", "skipped")
    assert "no verify_endpoint" in job.verification_error


def test_verify_endpoint_syntax():
    assert endpoint_probe({}) is None
    assert endpoint_probe({"verify_endpoint": "www.example.com"}) == Probe(
        "www.example.com", 443, "www.example.com"
    )
    assert endpoint_probe({"verify_endpoint": "10.0.0.5:8443", "verify_sni": "api.example"}) == Probe(
        "10.0.0.5", 8443, "api.example"
    )
    assert endpoint_probe({"verify_endpoint": "[2001:db8::1]:443"}) == Probe("2001:db8::1", 443, "")
    for bad in ("10.0.0.0/24", "host:99999", 443):
        with pytest.raises(EndpointConfigError):
            endpoint_probe({"verify_endpoint": bad})


def test_verify_now_and_read_the_verification_over_the_api(client_with_key, deployed):
    job = running_job(deployed)
    Job.objects.filter(pk=job.pk).update(status="Completed")
    with tls_server([deployed["leaf"], PKI.intermediate], by_sni={}) as port:
        point_at(deployed["target"], port, verify_sni="www.example.test")
        response = client_with_key.post(f"/api/v1/jobs/{job.pk}/verify")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["job_id"], body["verification_status"], body["status"]) == (job.pk, "success", "Completed")
    assert (
        body["expected_fingerprint"]
        == body["verification_fingerprint"]
        == deployed["version"].fingerprint_sha256
    )
    assert body["verified_at"].endswith("Z")
    read = client_with_key.get(f"/api/v1/jobs/{job.pk}/verification").json()
    assert read == body
    assert client_with_key.get(f"/api/v1/jobs/{job.pk}").json()["verification_status"] == "success"


def test_verify_refusals_carry_the_error_envelope(client_with_key, deployed):
    pending = running_job(deployed)
    Job.objects.filter(pk=pending.pk).update(status="Pending")
    renewal = JobFactory(type="Renewal")
    conflict = client_with_key.post(f"/api/v1/jobs/{pending.pk}/verify")
    assert conflict.status_code == 409 and conflict.json()["error"] == "conflict"
    for url in (f"/api/v1/jobs/{renewal.pk}/verify", "/api/v1/jobs/job-nope/verify"):
        response = client_with_key.post(url)
        assert response.status_code == 404 and response.json()["error"] == "not_found"
        assert "request_id" in response.json()
    assert client_with_key.get(f"/api/v1/jobs/{renewal.pk}/verification").status_code == 404
    pending.refresh_from_db()
    assert pending.verification_status == "pending"
