"""Agent groups over the API: CRUD with the error envelope, real CIDR matching (IPv4 and IPv6), criteria that must
all hold, explicit members, retired agents left out; and POST /targets/{id}/test."""

from __future__ import annotations

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from certificates.agents.models import AgentGroup
from certificates.agents.services.groups import members
from tests.agent_helpers import make_agent
from tests.discovery_support import Pki, closed_port, tls_server
from tests.factories import TargetFactory

pytestmark = pytest.mark.django_db


def names(group: AgentGroup) -> list[str]:
    return [agent.name for agent in members(group)]


def test_cidr_matching_is_real_network_math_for_ipv4_and_ipv6():
    make_agent(name="in-v4", ip_address="10.20.30.40")
    make_agent(name="edge-v4", ip_address="10.255.255.255")
    make_agent(name="out-v4", ip_address="11.0.0.1")
    make_agent(name="prefix-lookalike", ip_address="100.0.0.1")  # a string compare on "10." would take it
    make_agent(name="in-v6", ip_address="2001:db8:0:1::5")
    make_agent(name="mapped-v4", ip_address="::ffff:10.0.0.9")
    make_agent(name="no-address", ip_address="")
    v4 = AgentGroup.objects.create(name="v4", match_cidr="10.0.0.0/8")
    v6 = AgentGroup.objects.create(name="v6", match_cidr="2001:db8::/32")
    assert names(v4) == ["edge-v4", "in-v4", "mapped-v4"]
    assert names(v6) == ["in-v6"]


def test_members_meet_every_criterion_or_are_explicit_and_retired_agents_are_out():
    make_agent(name="linux-arm", os="linux", architecture="aarch64", ip_address="10.0.0.1")
    make_agent(name="linux-x86", os="Linux", architecture="x86_64", ip_address="10.0.0.2")
    make_agent(name="linux-x86-far", os="linux", architecture="x86_64", ip_address="192.168.0.2")
    make_agent(
        name="gone", os="linux", architecture="x86_64", ip_address="10.0.0.3", retired_at=timezone.now()
    )
    pinned, _ = make_agent(name="windows-pinned", os="windows")
    group = AgentGroup.objects.create(
        name="g", match_os="LINUX", match_architecture="x86_64", match_cidr="10.0.0.0/8"
    )
    group.explicit_members.add(pinned)
    assert names(group) == ["linux-x86", "windows-pinned"]
    explicit_only = AgentGroup.objects.create(name="explicit")
    explicit_only.explicit_members.add(pinned)
    assert names(explicit_only) == ["windows-pinned"]


def test_group_crud_over_the_api_is_audited(admin_client_with_key):
    make_agent(name="web-1", os="linux", ip_address="10.9.9.9")
    other, _ = make_agent(name="db-1", os="freebsd")
    response = admin_client_with_key.post(
        "/api/v1/agent-groups",
        {"name": "linux", "match_os": "linux", "match_cidr": "10.1.2.3/8", "member_ids": [other.pk]},
        format="json",
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["id"].startswith("agrp-") and created["match_cidr"] == "10.0.0.0/8"
    assert created["member_ids"] == [other.pk]
    url = f"/api/v1/agent-groups/{created['id']}"

    listed = admin_client_with_key.get(f"{url}/members").json()
    assert [a["name"] for a in listed["data"]] == ["db-1", "web-1"] and listed["total"] == 2

    response = admin_client_with_key.put(url, {"description": "edge hosts", "member_ids": []}, format="json")
    assert response.status_code == 200 and response.json()["match_os"] == "linux"
    assert [a["name"] for a in admin_client_with_key.get(f"{url}/members").json()["data"]] == ["web-1"]
    assert admin_client_with_key.patch(url, {"enabled": False}, format="json").json()["enabled"] is False
    assert admin_client_with_key.get("/api/v1/agent-groups").json()["total"] == 1

    assert admin_client_with_key.delete(url).status_code == 204
    assert not AgentGroup.objects.exists()
    assert [
        e.action for e in AuditEvent.objects.filter(resource_type="agent_group").order_by("timestamp")
    ] == [
        "agent_group_created",
        "agent_group_updated",
        "agent_group_updated",
        "agent_group_deleted",
    ]


def test_group_refusals_carry_the_error_envelope(admin_client_with_key):
    AgentGroup.objects.create(name="taken")
    cases = [
        ({"name": "taken"}, 409, "conflict"),
        ({"name": "bad-cidr", "match_cidr": "10.0.0.0/33"}, 400, "validation_error"),
        ({"name": "not-cidr", "match_cidr": "ten dot zero"}, 400, "validation_error"),
        ({"name": "ghost-member", "member_ids": ["agent-nope"]}, 400, "validation_error"),
        ({"match_os": "linux"}, 400, "validation_error"),
    ]
    for body, status, error in cases:
        response = admin_client_with_key.post("/api/v1/agent-groups", body, format="json")
        assert response.status_code == status, (body, response.content)
        assert response.json()["error"] == error and "request_id" in response.json()
    assert list(AgentGroup.objects.values_list("name", flat=True)) == ["taken"]
    missing = admin_client_with_key.get("/api/v1/agent-groups/agrp-nope/members")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def checks(response) -> dict[str, tuple[bool, str]]:
    assert response.status_code == 200, response.content
    return {c["name"]: (c["ok"], c["detail"]) for c in response.json()["checks"]}


def test_target_test_reports_config_agent_and_endpoint(admin_client_with_key):
    agent, _ = make_agent()
    target = TargetFactory(agent=agent, config={"cert_path": "/etc/ssl/a.crt", "key_path": "/etc/ssl/a.key"})
    response = admin_client_with_key.post(f"/api/v1/targets/{target.pk}/test")
    assert response.json()["ok"] is True
    assert set(checks(response)) == {"state", "config", "agent"}

    pki = Pki()
    with tls_server([pki.leaf("a.example"), pki.intermediate]) as port:
        target.config = {**target.config, "verify_endpoint": f"127.0.0.1:{port}"}
        target.save()
        found = checks(admin_client_with_key.post(f"/api/v1/targets/{target.pk}/test"))
    assert found["endpoint"][0] is True and "serving" in found["endpoint"][1]
    assert AuditEvent.objects.filter(action="target_tested", resource_id=target.pk).count() == 2


def test_target_test_names_what_is_wrong(admin_client_with_key):
    silent, _ = make_agent(last_heartbeat_at=timezone.now() - timezone.timedelta(hours=2))
    target = TargetFactory(
        agent=silent,
        type="HAProxy",
        config={"pem_path": "relative.pem", "verify_endpoint": f"127.0.0.1:{closed_port()}"},
    )
    response = admin_client_with_key.post(f"/api/v1/targets/{target.pk}/test")
    assert response.json()["ok"] is False
    found = checks(response)
    assert found["config"] == (False, "HAProxy needs absolute paths in: pem_path")
    assert found["agent"][0] is False and "offline" in found["agent"][1]
    assert found["endpoint"][0] is False and "closed" in found["endpoint"][1]
    unsupported = TargetFactory(type="IIS")
    assert checks(admin_client_with_key.post(f"/api/v1/targets/{unsupported.pk}/test"))["config"][0] is False
    missing = admin_client_with_key.post("/api/v1/targets/target-nope/test")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
