"""The agent API: registration, heartbeats, the offline sweep, work claims, pickup, status reports and retirement."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric import ec
from django.utils import timezone

from audit.models import AuditEvent
from certctl.kernel import counters
from certificates.agents.services.registration import mark_offline
from certificates.inventory.models import Agent
from notifications.models import NotificationEvent
from tests.agent_helpers import add_version, agent_client, deployment_job, make_agent, make_ca, sign_leaf
from tests.factories import CertificateFactory, JobFactory, TargetFactory

pytestmark = pytest.mark.django_db


BOOTSTRAP = "bootstrap-secret-for-tests"


@pytest.fixture
def bootstrap(settings):
    settings.AGENT_BOOTSTRAP_TOKEN = BOOTSTRAP
    return BOOTSTRAP


def test_register_with_bootstrap_token_returns_a_credential_stored_only_hashed(api_client, bootstrap):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {bootstrap}")
    response = api_client.post("/api/v1/agents", {"name": "web-1", "hostname": "web1.example"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    agent = Agent.objects.get(pk=body["id"])
    assert agent.status == "Online" and agent.hostname == "web1.example"
    assert body["api_key"].startswith(f"cagt.{agent.id}.")
    assert body["api_key"] not in agent.api_key_hash and len(agent.api_key_hash) == 64
    assert "api_key_hash" not in body
    event = AuditEvent.objects.get(action="agent_registered", resource_id=agent.id)
    assert body["api_key"] not in str(event.details)

    agent_client(api_client, body["api_key"])
    assert api_client.post(f"/api/v1/agents/{agent.id}/heartbeat", {}, format="json").status_code == 200


def test_register_with_a_wrong_or_missing_bootstrap_token_is_401(api_client, bootstrap):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-the-token")
    response = api_client.post("/api/v1/agents", {"name": "web-1"}, format="json")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_or_missing_bootstrap_token"
    api_client.credentials()
    response = api_client.post("/api/v1/agents", {"name": "web-1"}, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Agent.objects.exists()


def test_without_a_configured_token_only_an_admin_key_registers(api_client, settings, user_key, admin_key):
    settings.AGENT_BOOTSTRAP_TOKEN = ""
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {user_key}")
    assert api_client.post("/api/v1/agents", {"name": "a"}, format="json").status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {admin_key}")
    assert api_client.post("/api/v1/agents", {"name": "a"}, format="json").status_code == 201


def test_duplicate_name_is_409_and_bad_name_is_400(api_client, bootstrap):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {bootstrap}")
    assert api_client.post("/api/v1/agents", {"name": "dup"}, format="json").status_code == 201
    response = api_client.post("/api/v1/agents", {"name": "dup"}, format="json")
    assert response.status_code == 409
    response = api_client.post("/api/v1/agents", {"name": "bad name/../"}, format="json")
    assert response.status_code == 400 and response.json()["error"] == "validation_error"


def test_heartbeat_records_metadata_and_brings_the_agent_online(api_client):
    agent, credential = make_agent(status="Offline")
    agent_client(api_client, credential)
    response = api_client.post(
        f"/api/v1/agents/{agent.id}/heartbeat",
        {
            "version": "1.2.3",
            "hostname": "h",
            "os": "linux",
            "architecture": "amd64",
            "ip_address": "10.0.0.5",
        },
        format="json",
    )
    assert response.status_code == 200
    agent.refresh_from_db()
    assert (agent.status, agent.version, agent.os, agent.ip_address) == (
        "Online",
        "1.2.3",
        "linux",
        "10.0.0.5",
    )


def test_an_agent_cannot_act_as_another_agent_nor_use_an_operator_key(api_client, user_key):
    mine, credential = make_agent()
    other, _ = make_agent()
    agent_client(api_client, credential)
    assert api_client.post(f"/api/v1/agents/{other.id}/heartbeat", {}, format="json").status_code == 404
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {user_key}")
    assert api_client.post(f"/api/v1/agents/{mine.id}/heartbeat", {}, format="json").status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {credential}x")
    assert api_client.get(f"/api/v1/agents/{mine.id}/work").status_code == 401


def test_retired_agent_gets_410(api_client):
    agent, credential = make_agent(retired_at=timezone.now())
    agent_client(api_client, credential)
    assert api_client.post(f"/api/v1/agents/{agent.id}/heartbeat", {}, format="json").status_code == 410
    response = api_client.get(f"/api/v1/agents/{agent.id}/work")
    assert response.status_code == 410 and response.json()["error"] == "gone"


def test_offline_sweep_marks_silent_agents_offline(settings):
    settings.AGENT_OFFLINE_AFTER = 300
    now = timezone.now()
    silent, _ = make_agent(last_heartbeat_at=now - timedelta(minutes=6))
    alive, _ = make_agent(last_heartbeat_at=now - timedelta(minutes=4))
    with time_machine.travel(now, tick=False):
        assert mark_offline() == 1
    silent.refresh_from_db()
    alive.refresh_from_db()
    assert (silent.status, alive.status) == ("Offline", "Online")


def test_work_claims_own_deployments_and_lists_csr_jobs(api_client):
    agent, credential = make_agent()
    target = TargetFactory(agent=agent, config={"cert_path": "/x"})
    deploy = deployment_job(target)
    other_target = TargetFactory()
    foreign = deployment_job(other_target)
    csr_cert = CertificateFactory(sans=["a.example"])
    csr_cert.targets.add(target)
    csr_job = JobFactory(type="Renewal", status="AwaitingCSR", certificate=csr_cert)

    agent_client(api_client, credential)
    response = api_client.get(f"/api/v1/agents/{agent.id}/work")
    assert response.status_code == 200
    items = {item["id"]: item for item in response.json()["jobs"]}
    assert set(items) == {deploy.id, csr_job.id}
    assert items[deploy.id]["target_config"] == {"cert_path": "/x"}
    assert items[csr_job.id]["key_algorithm"] == "ECDSA" and items[csr_job.id]["sans"] == ["a.example"]
    deploy.refresh_from_db()
    foreign.refresh_from_db()
    assert (deploy.status, deploy.agent_id, deploy.attempts) == ("Running", agent.id, 1)
    assert foreign.status == "Pending"
    # A second poll does not hand the claimed deployment out again.
    again = api_client.get(f"/api/v1/agents/{agent.id}/work").json()
    assert [item["id"] for item in again["jobs"]] == [csr_job.id]


def test_certificate_pickup_returns_the_newest_chain_only_for_own_certificates(api_client):
    agent, credential = make_agent()
    target = TargetFactory(agent=agent)
    certificate = CertificateFactory()
    certificate.targets.add(target)
    foreign = CertificateFactory()
    ca = make_ca()
    key = ec.generate_private_key(ec.SECP256R1())
    add_version(certificate, sign_leaf(ca, key.public_key(), "old.example"), ca[0])
    newest = add_version(certificate, sign_leaf(ca, key.public_key(), "new.example"), ca[0])
    add_version(foreign, sign_leaf(ca, key.public_key(), "f.example"), ca[0])

    agent_client(api_client, credential)
    response = api_client.get(f"/api/v1/agents/{agent.id}/certificates/{certificate.id}")
    assert response.status_code == 200
    assert response.json()["certificate_pem"] == newest.pem_chain
    assert api_client.get(f"/api/v1/agents/{agent.id}/certificates/{foreign.id}").status_code == 404


def test_completed_report_stamps_last_deployment_and_queues_success(api_client):
    agent, credential = make_agent()
    job = deployment_job(TargetFactory(agent=agent), status="Running", agent=agent)
    agent_client(api_client, credential)
    response = api_client.post(
        f"/api/v1/agents/{agent.id}/jobs/{job.id}/status", {"status": "Completed"}, format="json"
    )
    assert response.status_code == 200, response.content
    job.refresh_from_db()
    job.certificate.refresh_from_db()
    assert job.status == "Completed" and job.completed_at is not None
    assert job.certificate.last_deployment_at is not None
    note = NotificationEvent.objects.get(type="DeploymentSuccess")
    assert (note.channel, note.recipient, note.certificate_id) == (
        "Email",
        job.certificate.owner.email,
        job.certificate_id,
    )
    event = AuditEvent.objects.get(action="deployment_job_completed", resource_id=job.id)
    assert (event.actor, event.actor_type) == (agent.name, "Agent")
    assert counters.read("certctl_agent_deployments_total") == {
        (("outcome", "success"), ("target_type", "NGINX")): 1
    }


def test_failed_report_queues_failure_with_the_error(api_client):
    agent, credential = make_agent()
    job = deployment_job(TargetFactory(agent=agent), status="Running", agent=agent)
    agent_client(api_client, credential)
    response = api_client.post(
        f"/api/v1/agents/{agent.id}/jobs/{job.id}/status",
        {"status": "Failed", "error": "nginx -t failed: bad cert"},
        format="json",
    )
    assert response.status_code == 200
    job.refresh_from_db()
    assert (job.status, job.last_error) == ("Failed", "nginx -t failed: bad cert")
    note = NotificationEvent.objects.get(type="DeploymentFailure")
    assert "nginx -t failed: bad cert" in note.message
    assert job.certificate.last_deployment_at is None
    assert AuditEvent.objects.filter(action="deployment_job_failed", actor_type="Agent").count() == 1


def test_status_report_is_validated(api_client):
    agent, credential = make_agent()
    job = deployment_job(TargetFactory(agent=agent), status="Running", agent=agent)
    other_job = deployment_job(TargetFactory(), status="Running")
    agent_client(api_client, credential)
    url = f"/api/v1/agents/{agent.id}/jobs/{job.id}/status"
    assert api_client.post(url, {"status": "Bogus"}, format="json").status_code == 400
    assert api_client.post(url, {"status": "Pending"}, format="json").status_code == 400
    foreign = f"/api/v1/agents/{agent.id}/jobs/{other_job.id}/status"
    assert api_client.post(foreign, {"status": "Completed"}, format="json").status_code == 404
    assert api_client.post(url, {"status": "Completed"}, format="json").status_code == 200
    # Completed is terminal: a second report is a conflict, not a second notification.
    assert api_client.post(url, {"status": "Failed", "error": "x"}, format="json").status_code == 409
    assert NotificationEvent.objects.count() == 1


def test_sweep_fails_deployments_held_by_a_silent_agent(settings):
    from certificates.agents.tasks import mark_offline_agents

    settings.AGENT_OFFLINE_AFTER = 300
    now = timezone.now()
    silent, _ = make_agent(last_heartbeat_at=now - timedelta(minutes=6))
    alive, _ = make_agent(last_heartbeat_at=now - timedelta(minutes=1))
    stuck = deployment_job(TargetFactory(agent=silent), status="Running", agent=silent)
    busy = deployment_job(TargetFactory(agent=alive), status="Running", agent=alive)
    with time_machine.travel(now, tick=False):
        mark_offline_agents.delay()
    stuck.refresh_from_db()
    busy.refresh_from_db()
    assert (stuck.status, stuck.last_error) == ("Failed", "agent offline (no heartbeat for >300s)")
    assert busy.status == "Running"
    assert Agent.objects.get(pk=silent.pk).status == "Offline"
    failure = NotificationEvent.objects.get(type="DeploymentFailure")
    assert failure.certificate_id == stuck.certificate_id and "agent offline" in failure.message
    assert AuditEvent.objects.filter(action="deployment_job_failed", actor_type="System").count() == 1


def test_running_report_starts_an_unclaimed_job_and_confirms_a_claimed_one(api_client):
    agent, credential = make_agent()
    target = TargetFactory(agent=agent)
    unclaimed = deployment_job(target)
    claimed = deployment_job(target, status="Running", agent=agent)
    agent_client(api_client, credential)

    response = api_client.post(
        f"/api/v1/agents/{agent.id}/jobs/{unclaimed.id}/status", {"status": "Running"}, format="json"
    )
    assert response.status_code == 200 and response.json()["job_status"] == "Running"
    unclaimed.refresh_from_db()
    assert (unclaimed.status, unclaimed.agent_id, unclaimed.attempts) == ("Running", agent.id, 1)

    response = api_client.post(
        f"/api/v1/agents/{agent.id}/jobs/{claimed.id}/status", {"status": "Running"}, format="json"
    )
    assert response.status_code == 200
    claimed.refresh_from_db()
    assert claimed.status == "Running"
    # Running is not an outcome: nothing stamped, nobody notified.
    assert unclaimed.certificate.last_deployment_at is None
    assert not NotificationEvent.objects.exists()


def test_an_unreported_claim_is_offered_again_only_after_the_lease(api_client, settings):
    settings.AGENT_WORK_LEASE = 600
    agent, credential = make_agent()
    job = deployment_job(TargetFactory(agent=agent))
    agent_client(api_client, credential)
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        assert [i["id"] for i in api_client.get(f"/api/v1/agents/{agent.id}/work").json()["jobs"]] == [job.id]
    with time_machine.travel(now + timedelta(minutes=9), tick=False):
        assert api_client.get(f"/api/v1/agents/{agent.id}/work").json()["jobs"] == []
    with time_machine.travel(now + timedelta(minutes=11), tick=False):
        assert [i["id"] for i in api_client.get(f"/api/v1/agents/{agent.id}/work").json()["jobs"]] == [job.id]
    job.refresh_from_db()
    assert (job.status, job.agent_id) == ("Running", agent.id)


def test_a_deployment_to_another_agents_target_is_never_claimed_nor_reportable(api_client):
    agent, credential = make_agent()
    other, _ = make_agent()
    theirs = deployment_job(TargetFactory(agent=other))
    agent_client(api_client, credential)
    assert api_client.get(f"/api/v1/agents/{agent.id}/work").json() == {
        "jobs": [],
        "count": 0,
        "challenges": [],
    }
    for status in ("Running", "Completed", "Failed"):
        url = f"/api/v1/agents/{agent.id}/jobs/{theirs.id}/status"
        response = api_client.post(url, {"status": status, "error": "x"}, format="json")
        assert response.status_code == 404 and response.json()["error"] == "not_found"
    theirs.refresh_from_db()
    assert (theirs.status, theirs.agent_id) == ("Pending", None)


def test_deployment_reports_are_exported_on_metrics(api_client, client):
    agent, credential = make_agent()
    target = TargetFactory(agent=agent, type="HAProxy")
    done = deployment_job(target, status="Running", agent=agent)
    broken = deployment_job(target, status="Running", agent=agent)
    agent_client(api_client, credential)
    for job, body in ((done, {"status": "Completed"}), (broken, {"status": "Failed", "error": "x"})):
        url = f"/api/v1/agents/{agent.id}/jobs/{job.id}/status"
        assert api_client.post(url, body, format="json").status_code == 200
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    text = response.content.decode()
    assert "# TYPE certctl_agent_deployments_total counter" in text
    assert 'certctl_agent_deployments_total{outcome="success",target_type="HAProxy"} 1.0' in text
    assert 'certctl_agent_deployments_total{outcome="failure",target_type="HAProxy"} 1.0' in text
