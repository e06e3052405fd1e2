"""Operators on agents: listing by status and retiring, with or without the agent's work still attached."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from certificates.inventory.models import DeploymentTarget
from tests.agent_helpers import deployment_job, make_agent
from tests.factories import CertificateFactory, JobFactory, TargetFactory

pytestmark = pytest.mark.django_db


def test_retire_with_dependencies_is_409_with_counts_unless_forced(admin_client_with_key):
    agent, _ = make_agent()
    target = TargetFactory(agent=agent)
    job = deployment_job(target)
    response = admin_client_with_key.delete(f"/api/v1/agents/{agent.id}")
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "blocked_by_dependencies"
    assert body["counts"] == {"active_targets": 1, "active_certificates": 1, "pending_jobs": 1}

    assert admin_client_with_key.delete(f"/api/v1/agents/{agent.id}?force=true").status_code == 400
    response = admin_client_with_key.delete(
        f"/api/v1/agents/{agent.id}?force=true&reason=host+decommissioned"
    )
    assert response.status_code == 200
    assert response.json()["cascade"] is True
    agent.refresh_from_db()
    job.refresh_from_db()
    assert agent.retired_at is not None and agent.retired_reason == "host decommissioned"
    assert DeploymentTarget.objects.get(pk=target.pk).retired_at is not None
    assert job.status == "Cancelled"
    assert admin_client_with_key.delete(f"/api/v1/agents/{agent.id}").status_code == 204
    assert admin_client_with_key.get("/api/v1/agents").json()["total"] == 0
    assert admin_client_with_key.get("/api/v1/agents/retired").json()["data"][0]["id"] == agent.id


def test_retire_without_dependencies_and_unknown_agent(admin_client_with_key):
    agent, _ = make_agent()
    assert admin_client_with_key.delete("/api/v1/agents/agent-nope").status_code == 404
    response = admin_client_with_key.delete(f"/api/v1/agents/{agent.id}")
    assert response.status_code == 200 and response.json()["cascade"] is False
    assert admin_client_with_key.get(f"/api/v1/agents/{agent.id}").json()["retired_at"] is not None


def test_agent_list_filters_by_status_and_rejects_unknown_status(admin_client_with_key):
    make_agent(status="Online")
    offline, _ = make_agent(status="Offline")
    body = admin_client_with_key.get("/api/v1/agents?status=Offline").json()
    assert [item["id"] for item in body["data"]] == [offline.id]
    assert "api_key_hash" not in body["data"][0]
    assert admin_client_with_key.get("/api/v1/agents?status=Sleeping").status_code == 400


def test_forced_retirement_is_audited_and_hands_csr_jobs_back_to_the_pool(admin_client_with_key):
    agent, credential = make_agent()
    target = TargetFactory(agent=agent)
    certificate = CertificateFactory()
    certificate.targets.add(target)
    csr_job = JobFactory(type="Renewal", status="AwaitingCSR", certificate=certificate, agent=agent)
    response = admin_client_with_key.delete(f"/api/v1/agents/{agent.id}?force=true&reason=host+gone")
    assert response.status_code == 200, response.content
    assert response.json()["counts"] == {"active_targets": 1, "active_certificates": 1, "pending_jobs": 1}
    csr_job.refresh_from_db()
    assert (csr_job.status, csr_job.agent_id) == ("AwaitingCSR", None)
    event = AuditEvent.objects.get(action="agent_retired", resource_id=agent.id)
    assert event.details["reason"] == "host gone" and event.details["cascade"] is True
    assert credential not in str(event.details)


def test_a_reserved_scanner_agent_cannot_be_retired(admin_client_with_key):
    response = admin_client_with_key.delete("/api/v1/agents/server-scanner?force=true&reason=x")
    assert response.status_code == 403 and response.json()["error"] == "forbidden"
