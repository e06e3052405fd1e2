"""POST /api/v1/agents/{id}/csrs: many CSRs in one request, each answered on its own, the signed ones written
together (issue_many), with the same checks and outcomes as one POST …/csr each."""

from __future__ import annotations

import pytest
from django.db import connection

from audit.models import AuditEvent
from certificates.inventory.models import CertificateVersion
from certificates.issuance.models import Job
from notifications.models import NotificationEvent
from tests.agent_helpers import agent_client, make_agent
from tests.factories import JobFactory, ProfileFactory, TargetFactory
from tests.issuance_helpers import issuable_certificate, make_csr, make_root

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet():
    """An agent with four certificates on its target, each with a Renewal job waiting for a CSR."""
    agent, credential = make_agent()
    issuer = make_root()
    target = TargetFactory(agent=agent)
    items = []
    for n in range(4):
        certificate = issuable_certificate(issuer, sans=[f"alt{n}.example.test"])
        certificate.targets.add(target)
        items.append((certificate, JobFactory(type="Renewal", status="AwaitingCSR", certificate=certificate)))
    return agent, credential, target, items


def csr_for(certificate) -> str:
    return make_csr([certificate.common_name, *certificate.sans])[0]


def post(api_client, agent, submissions):
    return api_client.post(f"/api/v1/agents/{agent.id}/csrs", {"submissions": submissions}, format="json")


def test_every_csr_is_signed_in_one_request_like_single_submissions(api_client, fleet):
    agent, credential, target, items = fleet
    agent_client(api_client, credential)
    submissions = [{"certificate_id": c.id, "csr_pem": csr_for(c), "job_id": j.id} for c, j in items]

    response = post(api_client, agent, submissions)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["signed"], body["rejected"]) == (4, 0)
    assert [r["certificate_id"] for r in body["results"]] == [c.id for c, _ in items]
    for (certificate, job), result in zip(items, body["results"], strict=True):
        assert result["status"] == "csr_signed" and result["job_id"] == job.id
        version = CertificateVersion.objects.get(pk=result["version_id"])
        assert (version.certificate_id, version.serial_number) == (certificate.id, result["serial_number"])
        job.refresh_from_db()
        assert (job.status, job.agent_id, job.attempts) == ("Completed", agent.id, 1)
        deployment = Job.objects.get(type="Deployment", certificate=certificate)
        assert (deployment.status, deployment.target_id, deployment.agent_id) == (
            "Pending",
            target.id,
            agent.id,
        )
        issued = AuditEvent.objects.get(action="certificate_issued", resource_id=certificate.id)
        assert (issued.actor, issued.actor_type) == (agent.name, "Agent")
    assert NotificationEvent.objects.filter(type="RenewalSuccess").count() == 4


def test_each_refusal_is_answered_on_its_own_and_changes_nothing(api_client, fleet):
    agent, credential, _, items = fleet
    (good, good_job), (wrong_names, wrong_job), (gated, gated_job), _ = items
    gated.profile = ProfileFactory(requires_approval=True)
    gated.save(update_fields=["profile"])
    stranger_cert = issuable_certificate(make_root("stranger-ca"))  # not on this agent's targets
    agent_client(api_client, credential)

    response = post(
        api_client,
        agent,
        [
            {"certificate_id": good.id, "csr_pem": csr_for(good)},
            {"certificate_id": stranger_cert.id, "csr_pem": csr_for(stranger_cert)},
            {"certificate_id": wrong_names.id, "csr_pem": make_csr(["evil.example.org"])[0]},
            {"certificate_id": gated.id, "csr_pem": csr_for(gated)},
            {"certificate_id": good.id, "csr_pem": csr_for(good)},  # its only job is taken by the first
            {"certificate_id": wrong_names.id, "csr_pem": "not a csr"},  # a second job? there is none left
        ],
    )

    assert response.status_code == 200, response.content
    body = response.json()
    answers = [(r["status"], r.get("http_status"), r.get("error")) for r in body["results"]]
    assert answers == [
        ("csr_signed", None, None),
        ("rejected", 404, "not_found"),
        ("rejected", 400, "profile_violation"),
        ("rejected", 409, "approval_required"),
        ("rejected", 409, "conflict"),
        ("rejected", 409, "conflict"),
    ]
    assert (body["signed"], body["rejected"]) == (1, 5)
    assert all(r["message"] for r in body["results"][1:])
    good_job.refresh_from_db()
    assert good_job.status == "Completed"
    for job in (wrong_job, gated_job):  # refused CSRs leave their jobs waiting for a better one, untaken
        job.refresh_from_db()
        assert (job.status, job.attempts, job.agent_id) == ("AwaitingCSR", 0, None)
    assert CertificateVersion.objects.count() == 1
    assert not stranger_cert.versions.exists()


@pytest.mark.parametrize(
    "payload",
    [{"submissions": []}, {"submissions": "x"}, {}, {"submissions": [{"certificate_id": "cert-x"}]}],
    ids=["empty", "not-a-list", "missing", "no-csr"],
)
def test_a_malformed_request_is_400_and_issues_nothing(api_client, fleet, payload):
    agent, credential, _, _ = fleet
    agent_client(api_client, credential)
    response = api_client.post(f"/api/v1/agents/{agent.id}/csrs", payload, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert not CertificateVersion.objects.exists()


def test_more_than_a_hundred_submissions_are_refused_whole(api_client, fleet):
    agent, credential, _, items = fleet
    certificate, _ = items[0]
    agent_client(api_client, credential)
    submission = {"certificate_id": certificate.id, "csr_pem": csr_for(certificate)}
    response = post(api_client, agent, [submission] * 101)
    assert response.status_code == 400
    assert "100" in response.json()["message"]
    assert not CertificateVersion.objects.exists()


def test_another_agents_endpoint_is_404_and_a_retired_agent_410(api_client, fleet):
    agent, credential, _, items = fleet
    certificate, _ = items[0]
    _, other_credential = make_agent()
    agent_client(api_client, other_credential)
    submission = [{"certificate_id": certificate.id, "csr_pem": csr_for(certificate)}]
    assert post(api_client, agent, submission).status_code == 404
    agent_client(api_client, credential)
    agent.retired_at = agent.last_heartbeat_at
    agent.save(update_fields=["retired_at"])
    assert post(api_client, agent, submission).status_code == 410
    assert not CertificateVersion.objects.exists()


def test_an_issuance_the_database_refuses_is_answered_alone_and_the_others_are_signed(
    api_client, fleet, caplog
):
    """PostgreSQL refuses one version row (a trigger): the batch is retried one by one, that submission answers
    500 with nothing written for it and its job still waiting, and the others are signed and committed."""
    agent, credential, _, items = fleet
    (first, _), (refused, refused_job), (third, _), _ = items
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_refuse_version() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'refused by the test'; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER test_refuse_version BEFORE INSERT ON certificates_certificateversion FOR EACH ROW "
            f"WHEN (NEW.certificate_id = '{refused.id}') EXECUTE FUNCTION test_refuse_version()"
        )
    agent_client(api_client, credential)

    response = post(
        api_client, agent, [{"certificate_id": c.id, "csr_pem": csr_for(c)} for c in (first, refused, third)]
    )

    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["csr_signed", "rejected", "csr_signed"]
    assert (results[1]["http_status"], results[1]["error"]) == (500, "internal_error")
    assert "retry" in results[1]["message"] and "refused by the test" not in results[1]["message"]
    assert not refused.versions.exists() and first.versions.exists() and third.versions.exists()
    refused_job.refresh_from_db()
    assert (refused_job.status, refused_job.attempts) == ("AwaitingCSR", 0)
    assert "agent CSR batch: issuance failed" in caplog.text
