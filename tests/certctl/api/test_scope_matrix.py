"""The scope matrix: every operator operation in the OpenAPI schema, called with a key of each scope and with a
team-bound key against another team's rows.

- The schema documents the scope of every operator operation (`x-required-scope`); reads need `read`, no change
  needs only `read`, and the sensitive operations the issue names need `admin` (or `approve`).
- A key whose scopes do not grant it gets 403 `insufficient_scope` before anything happens; one that does is never
  refused for its scope (whatever else the answer is: 400 for the empty body, 404, 409 ...).
- A key bound to team A, holding every scope, gets 404 for any operation on a row of another team, and lists show
  it only its team's rows.
"""

from __future__ import annotations

import json

import pytest
from drf_spectacular.generators import SchemaGenerator

from certctl.api.scopes import ADMIN, APPROVE, READ, SCOPES, WRITE, grants
from certctl.kernel.teams import scoped_to, team_scoped
from certificates.models import ApprovalRequest, ManagedCertificate
from tests.certctl.api.test_fuzz_schema import COLLECTIONS, world  # noqa: F401 - the fuzz tests' data set
from tests.factories import (
    CertificateFactory,
    JobFactory,
    OwnerFactory,
    ProfileFactory,
    TeamFactory,
    make_api_key,
)
from tests.notification_factories import NotificationEventFactory

pytestmark = pytest.mark.django_db

SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
OPERATOR = {"apiKey", "staffSession"}
OPERATIONS = sorted(
    (method.upper(), path, operation.get("x-required-scope"))
    for path, operations in SCHEMA["paths"].items()
    for method, operation in operations.items()
    if OPERATOR & {name for requirement in operation.get("security") or [] for name in requirement}
)
# The rights the issue names: a non-admin key must not reach these.
MUST_BE_ADMIN = {
    ("POST", "/api/v1/issuers"),
    ("PATCH", "/api/v1/issuers/{id}"),
    ("DELETE", "/api/v1/issuers/{id}"),
    ("POST", "/api/v1/profiles"),
    ("PUT", "/api/v1/profiles/{id}"),
    ("PATCH", "/api/v1/profiles/{id}"),
    ("PUT", "/api/v1/renewal-policies/{id}"),
    ("PATCH", "/api/v1/renewal-policies/{id}"),
    ("POST", "/api/v1/renewal-policies"),
    ("DELETE", "/api/v1/agents/{agent_id}"),
    ("POST", "/api/v1/certificates/bulk-revoke"),
    ("POST", "/api/v1/certificates/{id}/export/pkcs12"),
    ("POST", "/api/v1/destinations"),
    ("PATCH", "/api/v1/destinations/{id}"),
    ("POST", "/api/v1/compliance/rules"),
    ("POST", "/api/v1/teams"),
    ("POST", "/api/v1/admin/expiry-check"),
}
MUST_BE_APPROVE = {("POST", "/api/v1/approvals/{id}/approve"), ("POST", "/api/v1/approvals/{id}/reject")}


def test_every_operator_operation_documents_its_scope_and_the_sensitive_ones_need_admin():
    documented = {(method, path): scope for method, path, scope in OPERATIONS}
    assert len(documented) > 80
    assert all(scope in SCOPES for scope in documented.values()), documented
    for (method, path), scope in documented.items():
        if method == "GET":
            assert scope in (READ, ADMIN), (method, path)
        else:
            assert scope != READ, f"{method} {path} changes state with only the read scope"
        description = SCHEMA["paths"][path][method.lower()]["description"]
        assert f"Scope: `{scope}`" in description
    missing = (MUST_BE_ADMIN | MUST_BE_APPROVE) - documented.keys()
    assert not missing, f"renamed? {missing}"
    assert {op: documented[op] for op in MUST_BE_ADMIN} == dict.fromkeys(MUST_BE_ADMIN, ADMIN)
    assert {op: documented[op] for op in MUST_BE_APPROVE} == dict.fromkeys(MUST_BE_APPROVE, APPROVE)


def _url(path: str, row_of) -> str:
    """The path with a real id of the collection it names (another team's, for the team-bound calls)."""
    parts = path.split("/")
    collection = "/".join(parts[3:5]) if "/".join(parts[3:5]) in COLLECTIONS else parts[3]
    model = COLLECTIONS.get(collection)
    row = row_of(model) if model is not None else None
    values = {"id": row or "none", "agent_id": row_of(None, agent=True), "job_id": "none", "cert_id": "none"}
    return path.format(**{key: values.get(key, "none") for key in _names(path)})


def _names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _call(client, method: str, url: str, key: str):
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    body = json.dumps({}) if method in ("POST", "PUT", "PATCH") else None
    return client.generic(method, url, body or "", content_type="application/json")


@pytest.mark.parametrize(("method", "path", "needed"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_each_scope_is_refused_or_let_through_as_documented(world, method, path, needed):  # noqa: F811
    keys = {scope: make_api_key(f"only-{scope}", scopes=[scope])[1] for scope in SCOPES}
    agent = world["agent"]

    def row_of(model, agent: bool = False):
        if agent:
            return world["agent"].pk
        return model.objects.order_by("pk").values_list("pk", flat=True).first()

    url = _url(path, row_of)
    assert agent.pk  # the agent paths name the fuzz world's agent
    refused = [scope for scope in SCOPES if not grants([scope], needed)]
    allowed = [scope for scope in (READ, APPROVE, WRITE, ADMIN) if grants([scope], needed)]
    for scope in refused:  # first: a refusal changes nothing, so the row is still there for the others
        response = _call(world["client"], method, url, keys[scope])
        assert response.status_code == 403, (scope, response.status_code, response.content[:200])
        assert response.json()["error"] == "insufficient_scope"
        assert f"`{needed}`" in response.json()["message"]
    for scope in allowed:
        response = _call(world["client"], method, url, keys[scope])
        assert response.status_code < 500, (scope, response.content[:300])
        refused_for_scope = (
            response.status_code == 403 and response.json().get("error") == "insufficient_scope"
        )
        assert not refused_for_scope, (scope, response.content[:200])


TEAM_ROUTES = [
    (method, path)
    for method, path, _ in OPERATIONS
    if "{id}" in path
    and (
        (
            collection := (
                "/".join(path.split("/")[3:5])
                if "/".join(path.split("/")[3:5]) in COLLECTIONS
                else path.split("/")[3]
            )
        )
        in COLLECTIONS
    )
    and team_scoped(COLLECTIONS[collection])
]
TEAM_LISTS = [
    path
    for method, path, _ in OPERATIONS
    if method == "GET"
    and "{" not in path
    and path.split("/")[3] in COLLECTIONS
    and team_scoped(COLLECTIONS[path.split("/")[3]])
]


@pytest.fixture
def team_bound(world):  # noqa: F811
    theirs = ManagedCertificate.objects.order_by("pk").first()
    job = JobFactory(certificate=theirs)
    ApprovalRequest.objects.create(
        certificate=theirs, job=job, profile=ProfileFactory(), requested_by="someone"
    )
    NotificationEventFactory(certificate=theirs)
    mine = TeamFactory(name="team-a")
    own = CertificateFactory(team=mine, owner=OwnerFactory(team=mine))
    _, key = make_api_key("team-a-bot", scopes=list(SCOPES), teams=[mine])
    return {**world, "team": mine, "own": own, "key": key}


def _foreign_row(model, team):
    visible = scoped_to(model.objects.all(), [team.pk]).values("pk")
    return model.objects.exclude(pk__in=visible).order_by("pk").values_list("pk", flat=True).first()


@pytest.mark.parametrize(("method", "path"), TEAM_ROUTES, ids=[f"{m} {p}" for m, p in TEAM_ROUTES])
def test_a_team_bound_key_finds_no_row_of_another_team(team_bound, method, path):
    def row_of(model, agent: bool = False):
        if agent:
            return team_bound["agent"].pk
        row = _foreign_row(model, team_bound["team"])
        assert row is not None, f"the data set has no other team's {model.__name__}"
        return row

    url = _url(path, row_of)
    response = _call(team_bound["client"], method, url, team_bound["key"])
    assert response.status_code == 404, (url, response.status_code, response.content[:300])
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize("path", TEAM_LISTS)
def test_a_team_bound_key_lists_only_its_teams_rows(team_bound, path):
    model = COLLECTIONS[path.split("/")[3]]
    foreign = {str(pk) for pk in model.objects.values_list("pk", flat=True)} - {
        str(pk) for pk in scoped_to(model.objects.all(), [team_bound["team"].pk]).values_list("pk", flat=True)
    }
    assert foreign, f"the data set has no other team's {model.__name__}"
    response = _call(team_bound["client"], "GET", path, team_bound["key"])
    assert response.status_code == 200, response.content[:300]
    listed = json.dumps(response.json())
    assert not [pk for pk in foreign if f'"{pk}"' in listed]
    if model is type(team_bound["own"]):
        assert team_bound["own"].pk in listed
