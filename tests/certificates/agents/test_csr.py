"""CSR submission by an agent: signed for its own AwaitingCSR jobs, refused otherwise."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from audit.models import AuditEvent
from certctl_agent import keys
from certificates.issuance.models import Job
from notifications.models import NotificationEvent
from tests.agent_helpers import agent_client, make_agent
from tests.factories import JobFactory, TargetFactory
from tests.issuance_helpers import issuable_certificate, make_csr, make_root

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    agent, credential = make_agent()
    certificate = issuable_certificate(make_root(), sans=["api.example.test"])
    target = TargetFactory(agent=agent)
    certificate.targets.add(target)
    job = JobFactory(type="Renewal", status="AwaitingCSR", certificate=certificate)
    return agent, credential, certificate, target, job


def csr_for(certificate) -> str:
    return make_csr([certificate.common_name, *certificate.sans])[0]


def test_csr_for_an_awaiting_job_is_signed_and_deployments_are_created(api_client, setup):
    agent, credential, certificate, target, job = setup
    agent_client(api_client, credential)
    response = api_client.post(
        f"/api/v1/agents/{agent.id}/csr",
        {"certificate_id": certificate.id, "csr_pem": csr_for(certificate), "job_id": job.id},
        format="json",
    )
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "csr_signed"
    job.refresh_from_db()
    assert (job.status, job.agent_id) == ("Completed", agent.id)
    deployment = Job.objects.get(type="Deployment", certificate=certificate)
    assert (deployment.status, deployment.target_id, deployment.agent_id) == ("Pending", target.id, agent.id)
    pickup = api_client.get(f"/api/v1/agents/{agent.id}/certificates/{certificate.id}").json()
    assert pickup["certificate_pem"] == certificate.versions.get().pem_chain


def test_a_second_submission_for_the_same_job_is_refused(api_client, setup):
    agent, credential, certificate, _, _ = setup
    agent_client(api_client, credential)
    url = f"/api/v1/agents/{agent.id}/csr"
    body = {"certificate_id": certificate.id, "csr_pem": csr_for(certificate)}
    assert api_client.post(url, body, format="json").status_code == 202
    response = api_client.post(url, body, format="json")
    assert response.status_code == 409
    assert certificate.versions.count() == 1


def test_csr_for_another_agents_certificate_is_404(api_client, setup):
    _, _, certificate, _, _ = setup
    stranger, credential = make_agent()
    agent_client(api_client, credential)
    response = api_client.post(
        f"/api/v1/agents/{stranger.id}/csr",
        {"certificate_id": certificate.id, "csr_pem": csr_for(certificate)},
        format="json",
    )
    assert response.status_code == 404
    assert not certificate.versions.exists()


def test_a_csr_with_names_outside_the_certificate_is_400_and_the_job_keeps_waiting(api_client, setup):
    agent, credential, certificate, _, job = setup
    agent_client(api_client, credential)
    response = api_client.post(
        f"/api/v1/agents/{agent.id}/csr",
        {"certificate_id": certificate.id, "csr_pem": make_csr(["evil.example.org"])[0]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"] in {"csr_invalid", "profile_violation"}
    job.refresh_from_db()
    # Left exactly as it was: still waiting, and not taken by the agent whose CSR was refused.
    assert (job.status, job.agent_id, job.attempts) == ("AwaitingCSR", None, 0)


def test_a_job_another_agent_took_meanwhile_is_a_409_and_nothing_is_issued(setup):
    """Two agents deploy the certificate; the second took the job (its poll) after the first read it
    unassigned: the first one's issuance loses the job's conditional move and writes nothing."""
    from certificates.agents.services import work as agent_work
    from certificates.issuance.services.jobs import InvalidTransition

    agent, _, certificate, _, job = setup
    other, _ = make_agent()
    certificate.targets.add(TargetFactory(agent=other))
    real = agent_work._job_awaiting_csr

    def read_then_lose_it(*args):
        seen = real(*args)
        Job.objects.filter(pk=seen.pk).update(agent=other)  # the other agent's poll, between read and write
        return seen

    agent_work._job_awaiting_csr = read_then_lose_it
    try:
        with pytest.raises(InvalidTransition, match="taken by another agent"):
            agent_work.submit_csr(agent, certificate_id=certificate.id, csr_pem=csr_for(certificate))
    finally:
        agent_work._job_awaiting_csr = real
    job.refresh_from_db()
    assert (job.status, job.agent_id, job.attempts) == ("AwaitingCSR", other.id, 0)
    assert not certificate.versions.exists()


def test_garbage_csr_is_400(api_client, setup):
    agent, credential, certificate, _, _ = setup
    agent_client(api_client, credential)
    response = api_client.post(
        f"/api/v1/agents/{agent.id}/csr",
        {"certificate_id": certificate.id, "csr_pem": "not a csr"},
        format="json",
    )
    assert response.status_code == 400


def test_agent_reporting_a_csr_job_failed_fails_it_with_renewal_failure(api_client, setup):
    agent, credential, certificate, _, job = setup
    certificate.status = "RenewalInProgress"
    certificate.save(update_fields=["status"])
    agent_client(api_client, credential)
    response = api_client.post(
        f"/api/v1/agents/{agent.id}/jobs/{job.id}/status",
        {"status": "Failed", "error": "no entropy"},
        format="json",
    )
    assert response.status_code == 200, response.content
    job.refresh_from_db()
    assert job.status == "Failed" and "no entropy" in job.last_error
    certificate.refresh_from_db()
    assert certificate.status == "Failed"  # not left RenewalInProgress (reference SRC-BUG 13)
    assert AuditEvent.objects.filter(action="renewal_job_failed", actor_type="Agent").exists()
    assert NotificationEvent.objects.filter(type="RenewalFailure", certificate=certificate).exists()
    completed = api_client.post(
        f"/api/v1/agents/{agent.id}/jobs/{job.id}/status", {"status": "Completed"}, format="json"
    )
    assert completed.status_code == 400


def test_csr_for_a_gated_profile_without_approval_is_409(api_client, setup):
    agent, credential, certificate, _, _ = setup
    certificate.profile.requires_approval = True
    certificate.profile.save(update_fields=["requires_approval"])
    agent_client(api_client, credential)
    response = api_client.post(
        f"/api/v1/agents/{agent.id}/csr",
        {"certificate_id": certificate.id, "csr_pem": csr_for(certificate)},
        format="json",
    )
    assert response.status_code == 409 and response.json()["error"] == "approval_required"
    assert not certificate.versions.exists()


def test_csr_creates_one_deployment_job_per_enabled_mapped_target(api_client, setup):
    agent, credential, certificate, target, job = setup
    second = TargetFactory(agent=agent, type="HAProxy")
    elsewhere = TargetFactory()  # another agent's host deploys the same certificate
    disabled = TargetFactory(agent=agent, enabled=False)
    certificate.targets.add(second, elsewhere, disabled)
    agent_client(api_client, credential)
    response = api_client.post(
        f"/api/v1/agents/{agent.id}/csr",
        {"certificate_id": certificate.id, "csr_pem": csr_for(certificate), "job_id": job.id},
        format="json",
    )
    assert response.status_code == 202, response.content
    deployments = Job.objects.filter(type="Deployment", certificate=certificate)
    assert {(d.target_id, d.agent_id, d.status) for d in deployments} == {
        (target.id, agent.id, "Pending"),
        (second.id, agent.id, "Pending"),
        (elsewhere.id, elsewhere.agent_id, "Pending"),
    }


@pytest.mark.parametrize(
    ("allowed", "expected"),
    [
        ([{"algorithm": "RSA", "min_size": 3072}], ("RSA", 3072)),
        ([{"algorithm": "ECDSA", "min_size": 384}], ("ECDSA", 384)),
    ],
)
def test_a_profile_that_rules_out_p256_gets_the_key_it_requires(api_client, setup, allowed, expected):
    agent, credential, certificate, _, job = setup
    certificate.profile.allowed_key_algorithms = allowed
    certificate.profile.save(update_fields=["allowed_key_algorithms"])
    agent_client(api_client, credential)
    (item,) = api_client.get(f"/api/v1/agents/{agent.id}/work").json()["jobs"]
    assert (item["id"], item["key_algorithm"], item["key_size"]) == (job.id, *expected)

    # What the agent program does with the work item: the key it makes satisfies the profile and is signed.
    key = keys.generate_key(item["key_algorithm"], item["key_size"])
    csr = keys.build_csr(key, item["common_name"], item["sans"])
    response = api_client.post(
        f"/api/v1/agents/{agent.id}/csr",
        {"certificate_id": certificate.id, "csr_pem": csr, "job_id": job.id},
        format="json",
    )
    assert response.status_code == 202, response.content
    version = certificate.versions.get()
    assert (version.key_algorithm, version.key_size) == expected


def test_the_default_key_request_is_ecdsa_p256(api_client, setup):
    agent, credential, _, _, _ = setup
    agent_client(api_client, credential)
    (item,) = api_client.get(f"/api/v1/agents/{agent.id}/work").json()["jobs"]
    assert (item["key_algorithm"], item["key_size"]) == ("ECDSA", 256)
    key = keys.generate_key(item["key_algorithm"], item["key_size"])
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
