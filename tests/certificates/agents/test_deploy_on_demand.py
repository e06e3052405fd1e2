"""POST /certificates/{id}/deploy creates the deployment jobs agents claim (all targets, one, or an agent group's),
never two in flight for one version and target; GET …/deployments shows each target's latest deployment."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from audit.models import AuditEvent
from certificates.agents.models import AgentGroup
from certificates.agents.services.work import claim_work
from certificates.issuance.models import Job
from tests.agent_helpers import add_version, make_agent, make_ca, sign_leaf
from tests.factories import CertificateFactory, TargetFactory

pytestmark = pytest.mark.django_db


def issued_certificate(*targets):
    certificate = CertificateFactory()
    certificate.targets.set(targets)
    ca = make_ca()
    leaf = sign_leaf(ca, ec.generate_private_key(ec.SECP256R1()).public_key(), certificate.common_name)
    return certificate, add_version(certificate, leaf, ca[0])


def deploy(client, certificate, **body):
    return client.post(f"/api/v1/certificates/{certificate.pk}/deploy", body, format="json")


def assert_envelope(response, status: int, error: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"] == error and body["message"] and "request_id" in body


def test_deploy_creates_a_pending_job_per_live_target_that_its_agent_claims(client_with_key):
    agent, _ = make_agent()
    live, other = TargetFactory(agent=agent, name="a"), TargetFactory(name="b")
    disabled = TargetFactory(agent=agent, name="c", enabled=False)
    certificate, version = issued_certificate(live, other, disabled)

    response = deploy(client_with_key, certificate)

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "deployment_triggered" and body["version_id"] == version.pk
    jobs = Job.objects.filter(pk__in=body["job_ids"])
    assert {(j.type, j.status, j.target_id, j.agent_id, j.version_id) for j in jobs} == {
        ("Deployment", "Pending", live.pk, agent.pk, version.pk),
        ("Deployment", "Pending", other.pk, other.agent_id, version.pk),
    }
    assert [job.target_id for job in claim_work(agent).deployments] == [live.pk]
    event = AuditEvent.objects.get(action="deployment_triggered", resource_id=certificate.pk)
    assert sorted(event.details["job_ids"]) == sorted(body["job_ids"])


def test_deploy_to_one_target_leaves_the_others_alone(client_with_key):
    first, second = TargetFactory(), TargetFactory()
    certificate, _ = issued_certificate(first, second)
    response = deploy(client_with_key, certificate, target_id=second.pk)
    assert response.status_code == 202
    assert list(Job.objects.values_list("target_id", flat=True)) == [second.pk]


def test_a_second_trigger_returns_the_job_already_in_flight(client_with_key):
    target = TargetFactory()
    certificate, _ = issued_certificate(target)
    first = deploy(client_with_key, certificate).json()
    Job.objects.filter(pk__in=first["job_ids"]).update(status="Running")
    second = deploy(client_with_key, certificate).json()
    assert second["job_ids"] == first["job_ids"] and second["created_job_ids"] == []
    assert Job.objects.count() == 1
    Job.objects.update(status="Completed")
    third = deploy(client_with_key, certificate).json()
    assert len(third["created_job_ids"]) == 1 and Job.objects.count() == 2


def test_deploy_to_an_agent_group_takes_only_targets_of_member_agents(client_with_key):
    linux, _ = make_agent(os="linux", ip_address="10.1.2.3")
    windows, _ = make_agent(os="windows", ip_address="10.1.2.4")
    on_linux, on_windows = TargetFactory(agent=linux), TargetFactory(agent=windows)
    certificate, _ = issued_certificate(on_linux, on_windows)
    group = AgentGroup.objects.create(name="linux-dc1", match_os="Linux", match_cidr="10.0.0.0/8")

    response = deploy(client_with_key, certificate, agent_group_id=group.pk)

    assert response.status_code == 202, response.content
    assert list(Job.objects.values_list("target_id", flat=True)) == [on_linux.pk]


def test_deploy_refusals_carry_the_error_envelope_and_create_nothing(client_with_key):
    mapped, unmapped = TargetFactory(), TargetFactory()
    certificate, _ = issued_certificate(mapped)
    never_issued = CertificateFactory()
    never_issued.targets.add(mapped)
    disabled_group = AgentGroup.objects.create(name="off", enabled=False)
    empty_group = AgentGroup.objects.create(name="nobody", match_os="plan9")

    assert_envelope(deploy(client_with_key, certificate, target_id="target-nope"), 404, "not_found")
    assert_envelope(deploy(client_with_key, certificate, target_id=unmapped.pk), 400, "validation_error")
    assert_envelope(deploy(client_with_key, certificate, agent_group_id="agrp-nope"), 404, "not_found")
    assert_envelope(
        deploy(client_with_key, certificate, agent_group_id=disabled_group.pk), 400, "validation_error"
    )
    assert_envelope(deploy(client_with_key, certificate, agent_group_id=empty_group.pk), 409, "conflict")
    assert_envelope(deploy(client_with_key, never_issued), 409, "conflict")
    assert_envelope(
        client_with_key.post("/api/v1/certificates/cert-nope/deploy", {}, format="json"), 404, "not_found"
    )
    assert not Job.objects.exists()
    assert not AuditEvent.objects.filter(action="deployment_triggered").exists()


def test_deployments_list_each_target_with_its_latest_job_and_verification(client_with_key):
    deployed, untouched = TargetFactory(name="a-edge"), TargetFactory(name="b-edge")
    certificate, version = issued_certificate(deployed, untouched)
    job_id = deploy(client_with_key, certificate, target_id=deployed.pk).json()["job_ids"][0]
    Job.objects.filter(pk=job_id).update(status="Completed", verification_status="success")

    body = client_with_key.get(f"/api/v1/certificates/{certificate.pk}/deployments").json()

    assert body["total"] == 2
    first, second = body["data"]
    assert (first["name"], second["name"], second["latest_deployment"]) == ("a-edge", "b-edge", None)
    latest = first["latest_deployment"]
    assert (latest["job_id"], latest["status"], latest["verification_status"]) == (
        job_id,
        "Completed",
        "success",
    )
    assert (latest["version_id"], latest["fingerprint_sha256"]) == (version.pk, version.fingerprint_sha256)
    assert client_with_key.get("/api/v1/certificates/cert-nope/deployments").status_code == 404
