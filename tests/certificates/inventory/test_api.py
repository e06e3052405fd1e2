import pytest

from certificates.inventory.models import Owner, RenewalPolicy
from tests.factories import (
    AgentFactory,
    CertificateFactory,
    OwnerFactory,
    ProfileFactory,
    RenewalPolicyFactory,
    TargetFactory,
    TeamFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_with_key(admin_client_with_key):
    """Teams, profiles and policies need the admin scope (tests/certctl/api/test_scope_matrix.py checks who may);
    these tests are about what the endpoints do."""
    return admin_client_with_key


def test_team_crud_round_trip(client_with_key):
    created = client_with_key.post("/api/v1/teams", {"name": "payments", "description": "PSP"}, format="json")
    assert created.status_code == 201
    team_id = created.json()["id"]
    assert team_id.startswith("team-")
    assert created.json()["created_at"].endswith("Z")

    updated = client_with_key.put(f"/api/v1/teams/{team_id}", {"description": "cards"}, format="json")
    assert updated.status_code == 200
    assert updated.json() == {
        **created.json(),
        "description": "cards",
        "updated_at": updated.json()["updated_at"],
    }

    assert client_with_key.delete(f"/api/v1/teams/{team_id}").status_code == 204
    assert client_with_key.get(f"/api/v1/teams/{team_id}").status_code == 404


def test_renaming_onto_an_existing_name_is_a_409(client_with_key):
    TeamFactory(name="taken")
    team = TeamFactory(name="free")
    response = client_with_key.put(f"/api/v1/teams/{team.id}", {"name": "taken"}, format="json")
    assert response.status_code == 409
    assert "'taken' already exists" in response.json()["message"]


def test_owner_needs_an_existing_team(client_with_key):
    response = client_with_key.post(
        "/api/v1/owners", {"name": "Ann", "email": "ann@example.test", "team_id": "team-nope"}, format="json"
    )
    assert response.status_code == 400
    assert "team_id" in response.json()["fields"]


def test_owner_with_a_bad_email_is_a_400(client_with_key):
    team = TeamFactory()
    response = client_with_key.post(
        "/api/v1/owners", {"name": "Ann", "email": "not-an-email", "team_id": team.id}, format="json"
    )
    assert response.status_code == 400
    assert "email" in response.json()["fields"]


def test_deleting_a_team_that_still_has_owners_is_a_409_naming_them(client_with_key):
    owner = OwnerFactory()
    response = client_with_key.delete(f"/api/v1/teams/{owner.team_id}")
    assert response.status_code == 409
    assert "owner" in response.json()["message"]
    assert Owner.objects.filter(pk=owner.pk).exists()


def test_deleting_an_owner_with_certificates_is_a_409(client_with_key):
    cert = CertificateFactory()
    response = client_with_key.delete(f"/api/v1/owners/{cert.owner_id}")
    assert response.status_code == 409
    assert response.json()["message"] == "still referenced by 1 certificate"


def test_deleting_a_policy_in_use_is_a_409(client_with_key):
    cert = CertificateFactory()
    assert client_with_key.delete(f"/api/v1/renewal-policies/{cert.renewal_policy_id}").status_code == 409
    assert RenewalPolicy.objects.filter(pk=cert.renewal_policy_id).exists()


def test_deleting_a_target_unmaps_it_from_its_certificates(client_with_key):
    target = TargetFactory()
    cert = CertificateFactory()
    cert.targets.set([target])
    assert client_with_key.delete(f"/api/v1/targets/{target.id}").status_code == 204
    assert client_with_key.get(f"/api/v1/certificates/{cert.id}").json()["target_ids"] == []


def test_owners_filter_by_team_and_targets_by_agent(client_with_key):
    owner = OwnerFactory()
    OwnerFactory()
    target = TargetFactory()
    TargetFactory()
    owners = client_with_key.get(f"/api/v1/owners?team_id={owner.team_id}").json()["data"]
    assert [o["id"] for o in owners] == [owner.id]
    targets = client_with_key.get(f"/api/v1/targets?agent_id={target.agent_id}").json()["data"]
    assert [t["id"] for t in targets] == [target.id]


def test_credentials_are_refused_in_a_target_config(client_with_key):
    agent = AgentFactory()
    body = {"name": "f5", "type": "F5", "agent_id": agent.id, "config": {"host": "f5.lan", "password": "pw"}}
    response = client_with_key.post("/api/v1/targets", body, format="json")
    assert response.status_code == 400
    assert "password" in response.json()["fields"]["config"][0]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("renewal_window_days", 366),
        ("renewal_window_days", -1),
        ("max_retries", 11),
        ("retry_interval_seconds", 59),
        ("retry_interval_seconds", 86401),
        ("alert_thresholds_days", [30, 400]),
        ("alert_thresholds_days", [30, "x"]),
    ],
)
def test_renewal_policy_ranges_are_enforced(client_with_key, field, value):
    response = client_with_key.post("/api/v1/renewal-policies", {"name": "p", field: value}, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_renewal_policy_zero_values_take_the_defaults_as_in_the_reference(client_with_key):
    response = client_with_key.post(
        "/api/v1/renewal-policies",
        {"name": "zeros", "renewal_window_days": 0, "retry_interval_seconds": 0, "alert_thresholds_days": []},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["renewal_window_days"], body["retry_interval_seconds"]) == (30, 3600)
    assert body["alert_thresholds_days"] == [30, 14, 7, 0]


def test_unknown_severity_tier_in_alert_channels_is_a_400_naming_it(client_with_key):
    response = client_with_key.post(
        "/api/v1/renewal-policies", {"name": "p", "alert_channels": {"urgent": ["Email"]}}, format="json"
    )
    assert response.status_code == 400
    assert "'urgent'" in response.json()["fields"]["alert_channels"][0]


def test_unknown_channel_in_alert_channels_is_a_400_naming_it(client_with_key):
    response = client_with_key.post(
        "/api/v1/renewal-policies", {"name": "p", "alert_channels": {"critical": ["Pager"]}}, format="json"
    )
    assert response.status_code == 400
    assert "'Pager'" in response.json()["message"]


def test_unknown_tier_in_severity_map_is_a_400_naming_it(client_with_key):
    response = client_with_key.post(
        "/api/v1/renewal-policies", {"name": "p", "alert_severity_map": {"7": "panic"}}, format="json"
    )
    assert response.status_code == 400
    assert "'panic'" in response.json()["fields"]["alert_severity_map"][0]


def test_a_valid_alert_matrix_is_stored(client_with_key):
    matrix = {
        "name": "paging",
        "alert_channels": {"critical": ["PagerDuty", "Slack"], "warning": ["Slack"]},
        "alert_severity_map": {"3": "critical", "10": "warning"},
    }
    response = client_with_key.post("/api/v1/renewal-policies", matrix, format="json")
    assert response.status_code == 201
    stored = RenewalPolicy.objects.get(name="paging")
    assert stored.alert_channels == matrix["alert_channels"]
    assert stored.alert_severity_map == matrix["alert_severity_map"]


def test_updating_only_the_matrix_keeps_other_fields(client_with_key):
    policy = RenewalPolicyFactory(renewal_window_days=45)
    response = client_with_key.put(
        f"/api/v1/renewal-policies/{policy.id}", {"alert_channels": {"critical": ["Teams"]}}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["renewal_window_days"] == 45


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"allowed_key_algorithms": [{"algorithm": "DSA", "min_size": 2048}]}, "allowed_key_algorithms"),
        ({"allowed_key_algorithms": [{"algorithm": "RSA", "min_size": 1024}]}, "allowed_key_algorithms"),
        ({"allowed_key_algorithms": [{"algorithm": "ECDSA", "min_size": 128}]}, "allowed_key_algorithms"),
        ({"allowed_ekus": ["serverAuth", "anyThing"]}, "allowed_ekus"),
        ({"required_san_patterns": ["("]}, "required_san_patterns"),
        ({"allow_short_lived": True, "max_ttl_seconds": 3600}, "max_ttl_seconds"),
        ({"allow_short_lived": True, "max_ttl_seconds": 0}, "max_ttl_seconds"),
        ({"max_ttl_seconds": -5}, "max_ttl_seconds"),
    ],
)
def test_profile_rules_are_enforced(client_with_key, body, field):
    response = client_with_key.post("/api/v1/profiles", {"name": "prof", **body}, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_short_lived_profile_under_an_hour_is_accepted(client_with_key):
    response = client_with_key.post(
        "/api/v1/profiles",
        {"name": "short", "allow_short_lived": True, "max_ttl_seconds": 900},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["allowed_ekus"] == ["serverAuth"]


def test_turning_on_short_lived_checks_the_stored_ttl(client_with_key):
    profile = ProfileFactory(max_ttl_seconds=86400)
    response = client_with_key.put(
        f"/api/v1/profiles/{profile.id}", {"allow_short_lived": True}, format="json"
    )
    assert response.status_code == 400


def test_target_name_is_unique_per_agent(client_with_key):
    agent = AgentFactory()
    body = {"name": "edge", "type": "NGINX", "agent_id": agent.id, "config": {"cert_path": "/etc/ssl/a.pem"}}
    assert client_with_key.post("/api/v1/targets", body, format="json").status_code == 201
    assert client_with_key.post("/api/v1/targets", body, format="json").status_code == 409
    other = AgentFactory()
    assert (
        client_with_key.post("/api/v1/targets", {**body, "agent_id": other.id}, format="json").status_code
        == 201
    )


def test_target_type_must_be_known(client_with_key):
    agent = AgentFactory()
    response = client_with_key.post(
        "/api/v1/targets", {"name": "x", "type": "Tomcat", "agent_id": agent.id}, format="json"
    )
    assert response.status_code == 400
    assert "type" in response.json()["fields"]


def test_agents_list_hides_retired_agents_and_never_shows_the_key_hash(client_with_key):
    from django.utils import timezone

    live = AgentFactory(api_key_hash="a" * 64)
    AgentFactory(retired_at=timezone.now())
    body = client_with_key.get("/api/v1/agents").json()
    assert [a["id"] for a in body["data"]] == [live.id]
    assert "api_key_hash" not in body["data"][0]
    assert client_with_key.get("/api/v1/agents/retired").json()["total"] == 1


@pytest.mark.parametrize(
    ("path", "factory"),
    [("profiles", ProfileFactory), ("renewal-policies", RenewalPolicyFactory)],
)
def test_a_taken_name_is_a_409_on_create_and_on_rename(client_with_key, path, factory):
    factory(name="taken")
    other = factory(name="free")
    created = client_with_key.post(f"/api/v1/{path}", {"name": "taken"}, format="json")
    assert created.status_code == 409
    assert "'taken' already exists" in created.json()["message"]
    renamed = client_with_key.patch(f"/api/v1/{path}/{other.id}", {"name": "taken"}, format="json")
    assert renamed.status_code == 409
