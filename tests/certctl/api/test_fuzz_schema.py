"""Property tests of every other write operation of the API (inventory, issuers, policies, profiles, targets,
certificates, notifications, agents), driven by the API's own OpenAPI schema: for each POST/PUT/PATCH with a JSON
body, Hypothesis draws bodies from the request schema (ids of real rows for `*_id` fields, values inside and
outside the documented limits) and hostile ones, on top of the demo data set. Whatever the body, the answer is
never a 500, a 4xx carries the error envelope, and a refused request leaves every stored row as it was.

The lifecycle endpoints have their own hand-written strategies in test_api_fuzz_lifecycle.py; the examples are
derandomized the same way (`CERTCTL_FUZZ=explore` draws new ones)."""

from __future__ import annotations

import json

import pytest
from django.apps import apps
from drf_spectacular.generators import SchemaGenerator
from hypothesis import given
from hypothesis import strategies as st

from certificates import models as m
from certificates.demo_data import seed_demo
from notifications.models import Destination, NotificationEvent
from tests.agent_helpers import make_agent
from tests.certificates.discovery.inventory_support import imported
from tests.certificates.test_api_fuzz_lifecycle import FUZZ, check, hostile_scalars, json_values
from tests.discovery_support import issue
from tests.factories import JobFactory, TargetFactory, make_api_key

pytestmark = pytest.mark.django_db

SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
COVERED_ELSEWHERE = (  # test_api_fuzz_lifecycle.py
    "/issue",
    "/renew",
    "/csr",
    "/csrs",
    "/approve",
    "/reject",
    "/bulk-renew",
    "/bulk-revoke",
    "/export/pkcs12",
    "/cancel",
    "/discovery/import",  # test_import.py draws real PEM, DER and PKCS#12 bodies
)
OPERATIONS = sorted(
    (method.upper(), path)
    for path, operations in SCHEMA["paths"].items()
    for method, operation in operations.items()
    if method in ("post", "put", "patch")
    and "application/json" in operation.get("requestBody", {}).get("content", {})
    and not path.endswith(COVERED_ELSEWHERE)
)
# Which rows an id names, by field name or by the path's collection.
ID_MODELS = {
    "owner_id": m.Owner,
    "team_id": m.Team,
    "issuer_id": m.Issuer,
    "renewal_policy_id": m.RenewalPolicy,
    "certificate_profile_id": m.CertificateProfile,
    "profile_id": m.CertificateProfile,
    "agent_id": m.Agent,
    "target_ids": m.DeploymentTarget,
    "certificate_ids": m.ManagedCertificate,
    "certificate_id": m.ManagedCertificate,
    "ids": NotificationEvent,
    "job_id": m.Job,
    "managed_certificate_id": m.ManagedCertificate,
    "target_id": m.DeploymentTarget,
    "agent_group_id": m.AgentGroup,
    "member_ids": m.Agent,
}
# Values the schema cannot describe (a string's grammar), by field name.
KNOWN_VALUES = {"targets": ["127.0.0.1:443", "www.example.com", "10.0.0.0/30", "a.example@10.0.0.5:8443"]}
COLLECTIONS = {
    "teams": m.Team,
    "owners": m.Owner,
    "issuers": m.Issuer,
    "renewal-policies": m.RenewalPolicy,
    "profiles": m.CertificateProfile,
    "targets": m.DeploymentTarget,
    "certificates": m.ManagedCertificate,
    "notifications": NotificationEvent,
    "destinations": Destination,
    "jobs": m.Job,
    "approvals": m.ApprovalRequest,
    "compliance/rules": m.ComplianceRule,
    "discovery/certificates": m.DiscoveredCertificate,
    "discovered-certificates": m.DiscoveredCertificate,
    "discovery/endpoints": m.DiscoveryEndpoint,
    "discovery/profiles": m.ScanProfile,
    "network-scan-targets": m.ScanProfile,
    "discovery/scans": m.ScanRun,
    "agent-groups": m.AgentGroup,
}


def resolve(node: dict) -> dict:
    while "$ref" in node:
        node = SCHEMA["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    if "allOf" in node and len(node["allOf"]) == 1:
        return {**resolve(node["allOf"][0]), **{k: v for k, v in node.items() if k != "allOf"}}
    return node


def plausible(name: str, node: dict, ids: dict[type, list[str]]) -> st.SearchStrategy:
    """Values of a schema node: mostly what the schema documents, sometimes just outside it."""
    node = resolve(node)
    model = ID_MODELS.get(name)
    if "enum" in node:
        values = [value for value in node["enum"] if value is not None]
        strategy = st.sampled_from(values) if values else st.none()
    elif name in KNOWN_VALUES and node.get("type") == "array":
        strategy = st.lists(st.sampled_from([*KNOWN_VALUES[name], "nope:0"]), max_size=3)
    elif node.get("type") == "array":
        item = plausible(name, node.get("items", {}), ids)
        strategy = st.lists(item, min_size=node.get("minItems", 0), max_size=min(node.get("maxItems", 4), 4))
    elif model is not None:
        strategy = st.sampled_from([*ids[model], "nope", ""])

    elif node.get("type") == "string":
        if node.get("format") == "email":
            strategy = st.emails() | st.text(max_size=10)
        elif node.get("format") == "date-time":
            strategy = st.datetimes().map(lambda d: d.isoformat() + "Z") | st.text(max_size=10)
        elif node.get("pattern"):
            strategy = st.from_regex(node["pattern"], fullmatch=True) | st.text(max_size=10)
        else:
            low, high = node.get("minLength", 0), node.get("maxLength", 30)
            strategy = st.text(min_size=low, max_size=min(high, 30)) | st.just("x" * (high + 1))
    elif node.get("type") == "integer":
        low, high = node.get("minimum", -(2**31)), node.get("maximum", 2**31)
        strategy = st.integers(low, high) | st.sampled_from([low - 1, high + 1])
    elif node.get("type") == "boolean":
        strategy = st.booleans()
    elif node.get("type") == "object":
        strategy = st.dictionaries(st.text(max_size=10), json_values, max_size=3)
    else:  # documented free-form (alert maps, thresholds)
        strategy = json_values | st.lists(st.integers(-5, 400), max_size=6)
    return strategy | st.none() if node.get("nullable") else strategy


def bodies(method: str, path: str, ids: dict[type, list[str]]) -> st.SearchStrategy:
    operation = SCHEMA["paths"][path][method.lower()]
    schema = resolve(operation["requestBody"]["content"]["application/json"]["schema"])
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    fields = {
        name: plausible(name, node, ids) for name, node in properties.items() if not node.get("readOnly")
    }
    documented = st.fixed_dictionaries(
        {name: values for name, values in fields.items() if name in required},
        optional={name: values for name, values in fields.items() if name not in required},
    )
    mixed = st.fixed_dictionaries(
        {}, optional={name: values | hostile_scalars for name, values in fields.items()}
    )
    return st.one_of(documented, mixed, json_values)


def stored() -> list:
    """Every row of the inventory, lifecycle and notification tables."""
    rows = []
    for label in ("certificates", "notifications"):
        for model in apps.get_app_config(label).get_models():
            rows.append(sorted(model.objects.values_list(), key=repr))
    return rows


@pytest.fixture
def world(api_client):
    """The demo data set, plus an agent whose credential is known, with a target and a claimed deployment."""
    seed_demo()
    imported(issue("fuzz.example"))  # a discovered certificate to claim, dismiss and edit
    agent, agent_key = make_agent()
    target = TargetFactory(agent=agent)
    certificate = m.ManagedCertificate.objects.first()
    job = JobFactory(type="Deployment", status="Running", certificate=certificate, target=target, agent=agent)
    m.AgentGroup.objects.create(name="fuzz-group", match_os="linux").explicit_members.add(agent)
    _, admin_key = make_api_key("fuzzer", is_admin=True)
    ids = {model: list(model.objects.values_list("pk", flat=True)[:20]) for model in {*ID_MODELS.values()}}
    ids[m.Agent] = [agent.pk, *[pk for pk in ids[m.Agent] if pk != agent.pk]]
    return {
        "client": api_client,
        "admin_key": admin_key,
        "agent": agent,
        "agent_key": agent_key,
        "job": job,
        "ids": ids,
    }


def concrete(path: str, world: dict) -> tuple[str, str]:
    """The path with real ids, and the key that may call it."""
    if path.startswith("/api/v1/agents/{agent_id}"):
        return path.format(agent_id=world["agent"].pk, job_id=world["job"].pk), world["agent_key"]
    if "{id}" in path:
        parts = path.split("/")
        collection = "/".join(parts[3:5]) if "/".join(parts[3:5]) in COLLECTIONS else parts[3]
        row = COLLECTIONS[collection].objects.order_by("pk").values_list("pk", flat=True).first()
        return path.format(id=row), world["admin_key"]
    return path, world["admin_key"]


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_any_body_gets_an_answer_and_a_refusal_changes_no_stored_row(world, method, path):
    url, key = concrete(path, world)
    client = world["client"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    answered: set[int] = set()

    @FUZZ
    @given(body=bodies(method, path, world["ids"]))
    def run(body):
        before = stored()
        response = client.generic(method, url, json.dumps(body), content_type="application/json")
        answered.add(response.status_code)
        check(response, before, stored)

    run()
    # The draws reached past the parser: a check that only ever saw one answer would prove little.
    assert len(answered) >= 2, answered
