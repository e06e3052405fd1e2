"""Property tests of the lifecycle endpoints (issue, renew, jobs, approvals, agent CSRs, export, bulk renew and
revoke): whatever JSON, or non-JSON, a client sends, the answer is never a 500, a 4xx carries the machine-readable
envelope, and a refused request leaves the stored lifecycle state exactly as it was.

Hypothesis draws the bodies: arbitrary JSON values, and objects with each endpoint's own field names holding
hostile values (wrong types, NUL bytes, huge numbers, CSRs that are garbage, of the wrong names, or valid), so most
draws get past the parser into the service layer. The examples of one test share its database transaction: what an
accepted request wrote stays, and later draws meet it (an open renewal, a decided approval, a cancelled job).

The suite draws the same examples on every run (derandomized), so CI cannot turn red by chance;
`CERTCTL_FUZZ=explore` draws new ones, ten times as many, to look for what the fixed ones miss:

    CERTCTL_FUZZ=explore make test PYTEST_ARGS="tests/certificates/test_api_fuzz_lifecycle.py"
"""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certificates.inventory.models import CertificateVersion, ManagedCertificate
from certificates.issuance.models import ApprovalRequest, Job
from certificates.issuance.services.renewal import request_renewal
from notifications.models import NotificationEvent
from tests.agent_helpers import make_agent
from tests.factories import JobFactory, ProfileFactory, TargetFactory, make_api_key
from tests.issuance_helpers import issuable_certificate, make_csr, make_root, names_of

pytestmark = pytest.mark.django_db

EXPLORE = os.environ.get("CERTCTL_FUZZ") == "explore"
FUZZ = settings(
    max_examples=400 if EXPLORE else 40,
    derandomize=not EXPLORE,
    deadline=None,
    database=None,  # no .hypothesis directory in the checkout
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
hostile_scalars = (
    json_scalars
    | st.sampled_from(
        ["", " ", "\u0000", "x" * 5000, "-1", "1e309", "null", "🔥", "-----BEGIN CERTIFICATE REQUEST-----"]
    )
    | st.integers(min_value=-(2**70), max_value=2**70)
)


@pytest.fixture
def world(api_client):
    """Something for every endpoint to act on: an issuable certificate, a gated one with a pending approval
    (requested by alice, decided by the caller bob), an agent with two certificates whose renewals wait for CSRs,
    and CSRs that are valid, of the wrong names, or garbage."""
    issuer = make_root()
    certificate = issuable_certificate(issuer)
    gated = issuable_certificate(issuer, profile=ProfileFactory(requires_approval=True))
    approval = ApprovalRequest.objects.get(job=request_renewal(gated, actor="alice"))
    agent, agent_key = make_agent()
    target = TargetFactory(agent=agent)
    waiting = []
    for n in range(2):
        mine = issuable_certificate(issuer, sans=[f"fuzz{n}.example.test"])
        mine.targets.add(target)
        waiting.append((mine, JobFactory(type="Renewal", status="AwaitingCSR", certificate=mine)))
    csrs = [
        make_csr(names_of(certificate))[0],
        make_csr(names_of(waiting[0][0]))[0],
        make_csr(["someone-else.example.org"])[0],
        "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
    ]
    _, bob = make_api_key("bob", is_admin=True)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {bob}")
    return {
        "client": api_client,
        "agent_key": agent_key,
        "ids": {
            "cert": certificate.pk,
            "gated": gated.pk,
            "approval": approval.pk,
            "job": approval.job_id,
            "agent": agent.pk,
            "agent_cert": waiting[0][0].pk,
            "agent_job": waiting[0][1].pk,
        },
        "csrs": csrs,
    }


def state() -> tuple:
    """The stored lifecycle state a refused request must not touch."""
    return (
        sorted(ManagedCertificate.objects.values_list("id", "status", "expires_at", "revoked_at")),
        sorted(Job.objects.values_list("id", "status", "attempts", "agent_id")),
        sorted(ApprovalRequest.objects.values_list("id", "state", "decided_by")),
        CertificateVersion.objects.count(),
        NotificationEvent.objects.count(),
    )


def not_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except ValueError:
        return True
    return False


def check(response, before, snapshot=state) -> None:
    """Not a 500; a 4xx carries the error envelope and left `snapshot()` as it was `before` the request."""
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body["error"], str) and body["error"], body
        assert isinstance(body["message"], str) and body["message"], body
        assert snapshot() == before, f"a {response.status_code} changed stored state: {body}"


def field_bodies(fields: dict[str, st.SearchStrategy]) -> st.SearchStrategy:
    """A third each: objects with every one of the endpoint's fields holding a plausible value (these get to the
    service layer and are often accepted), objects with some of its fields holding plausible or hostile values,
    and any JSON value at all."""
    plausible = st.fixed_dictionaries(fields)
    mixed = st.fixed_dictionaries(
        {}, optional={name: values | hostile_scalars for name, values in fields.items()}
    )
    return st.one_of(plausible, mixed, json_values)


# Each endpoint: its path (ids filled from `world`), who calls it, and the fields its body knows.
ENDPOINTS = {
    "issue": ("/api/v1/certificates/{cert}/issue", "bob", lambda w: {"csr_pem": st.sampled_from(w["csrs"])}),
    "renew": ("/api/v1/certificates/{cert}/renew", "bob", lambda w: {"force": st.booleans()}),
    "cancel": ("/api/v1/jobs/{agent_job}/cancel", "bob", lambda w: {"reason": st.text(max_size=20)}),
    "approve": ("/api/v1/approvals/{approval}/approve", "bob", lambda w: {"note": st.text(max_size=20)}),
    "reject": ("/api/v1/approvals/{approval}/reject", "bob", lambda w: {"note": st.text(max_size=20)}),
    "bulk-renew": (
        "/api/v1/certificates/bulk-renew",
        "bob",
        lambda w: {
            "certificate_ids": st.lists(st.sampled_from([w["ids"]["cert"], w["ids"]["gated"], "cert-nope"])),
            "status": st.sampled_from(["Active", "Expiring", "Nope"]),
            "team_id": st.text(max_size=8),
            "force": st.booleans(),
        },
    ),
    "bulk-revoke": (
        "/api/v1/certificates/bulk-revoke",
        "bob",
        lambda w: {
            "certificate_ids": st.lists(st.sampled_from([w["ids"]["cert"], "cert-nope"]), min_size=1),
            "reason": st.sampled_from(["keyCompromise", "superseded", "removeFromCRL", "bogus"]),
        },
    ),
    "export-pkcs12": (
        "/api/v1/certificates/{cert}/export/pkcs12",
        "bob",
        lambda w: {"password": st.text(max_size=30)},
    ),
    "agent-csr": (
        "/api/v1/agents/{agent}/csr",
        "agent",
        lambda w: {
            "certificate_id": st.sampled_from([w["ids"]["agent_cert"], w["ids"]["cert"], "cert-nope"]),
            "job_id": st.sampled_from([w["ids"]["agent_job"], w["ids"]["job"], "job-nope"]),
            "csr_pem": st.sampled_from(w["csrs"]),
        },
    ),
    "agent-csrs": (
        "/api/v1/agents/{agent}/csrs",
        "agent",
        lambda w: {
            "submissions": st.lists(
                st.fixed_dictionaries(
                    {
                        "certificate_id": st.sampled_from(
                            [w["ids"]["agent_cert"], w["ids"]["cert"], "cert-nope"]
                        ),
                        "csr_pem": st.sampled_from(w["csrs"]),
                    },
                    optional={"job_id": st.sampled_from([w["ids"]["agent_job"], "job-nope"])},
                ),
                min_size=1,
                max_size=6,
            )
        },
    ),
}


def caller_of(world: dict, name: str):
    """The client, holding the key of the endpoint's caller (bob's operator key, or the agent's), and the path."""
    template, caller, _ = ENDPOINTS[name]
    client = world["client"]
    if caller == "agent":
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {world['agent_key']}")
    return client, template.format(**world["ids"])


@pytest.mark.parametrize("name", ENDPOINTS)
def test_any_json_body_gets_an_answer_and_a_refusal_changes_nothing(world, name):
    client, path = caller_of(world, name)
    fields = ENDPOINTS[name][2]
    answered: set[int] = set()

    @FUZZ
    @given(body=field_bodies(fields(world)))
    def run(body):
        before = state()
        response = client.post(path, body, format="json")
        answered.add(response.status_code)
        check(response, before)

    run()
    # The draws reached past the parser: a check that only ever saw one answer would prove little.
    assert len(answered) >= 2, answered


@pytest.mark.parametrize("name", ["issue", "renew", "approve", "agent-csrs"])
def test_bodies_that_are_not_json_are_a_400_that_changes_nothing(world, name):
    client, path = caller_of(world, name)

    @FUZZ
    @given(raw=st.binary(min_size=1, max_size=200).filter(not_json))
    def run(raw):
        before = state()
        response = client.generic("POST", path, raw, content_type="application/json")
        check(response, before)
        assert response.status_code == 400, response.content[:300]

    run()
