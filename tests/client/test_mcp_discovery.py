"""The discovery and compliance tools of `certctl-mcp` (discovered certificates, claim, dismiss, network
scans, violations) over stdio against a live certctl server. Database work happens before and after
`run_mcp(...)`."""

from __future__ import annotations

import pytest
from mcp import ClientSession
from mcp.types import CallToolResult

from audit.models import AuditEvent
from certificates.compliance.services.evaluate import evaluate_discovered
from certificates.discovery.models import DiscoveredCertificate, DiscoveryStatus, ScanProfile
from tests.certificates.compliance.support import only_rule
from tests.certificates.discovery.inventory_support import Pki, imported, issue, net, seen
from tests.client.mcp_session import error_text, payload, run_mcp
from tests.discovery_support import tls_server
from tests.factories import CertificateFactory, IssuerFactory, OwnerFactory, RenewalPolicyFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_discovery_tools_are_listed_with_their_parameters_and_write_hints(mcp_env, tmp_path):
    tools = run_mcp(mcp_env, lambda client: client.list_tools(), tmp_path / "stderr").tools
    by_name = {tool.name: tool for tool in tools}

    def properties(name: str) -> dict:
        return by_name[name].input_schema["properties"]

    assert set(properties("list_discovered_certificates")) == {
        "status", "weak", "self_signed", "expires_before", "issuer", "search", "limit",
    }  # fmt: skip
    assert properties("list_discovered_certificates")["status"]["anyOf"][0]["enum"] == [
        "Unmanaged", "Managed", "Dismissed",
    ]  # fmt: skip
    assert by_name["claim_discovered_certificate"].input_schema["required"] == ["id"]
    assert set(properties("claim_discovered_certificate")) == {
        "id", "managed_certificate_id", "owner_id", "team_id", "renewal_policy_id", "issuer_id", "name",
        "profile_id", "environment", "target_ids",
    }  # fmt: skip
    assert set(by_name["dismiss_discovered_certificate"].input_schema["required"]) == {"id", "reason"}
    assert set(properties("list_violations")) == {
        "severity", "rule_type", "rule_id", "certificate_id", "discovered_certificate_id", "team_id", "state",
        "limit",
    }  # fmt: skip
    assert properties("list_violations")["state"]["anyOf"][0]["enum"] == ["open", "resolved", "all"]
    for name in ("claim_discovered_certificate", "dismiss_discovered_certificate", "start_discovery_scan"):
        hints = by_name[name].annotations
        assert (hints.read_only_hint, hints.destructive_hint, hints.open_world_hint) == (
            False,
            False,
            False,
        ), name
    assert by_name["start_discovery_scan"].annotations.idempotent_hint is False
    assert by_name["claim_discovered_certificate"].annotations.idempotent_hint is True


def test_discovered_certificates_are_listed_with_filters_and_shown_with_where_they_were_seen(
    mcp_env, tmp_path
):
    pki = Pki()
    weak = imported(issue("weak.example", key_kind="rsa1024"))  # self-signed and weak
    good = seen(pki.leaf("good.example", sans=["good.example", "pay.example"]), net(8443, "good.example"))

    async def scenario(client: ClientSession) -> list[CallToolResult]:
        calls = [
            ("list_discovered_certificates", {}),
            ("list_discovered_certificates", {"weak": True}),
            ("list_discovered_certificates", {"self_signed": False, "status": "Unmanaged"}),
            ("list_discovered_certificates", {"issuer": "Issuing CA"}),
            ("list_discovered_certificates", {"search": "pay.exa"}),
            ("list_discovered_certificates", {"expires_before": "2000-01-01T00:00:00Z"}),
            ("list_discovered_certificates", {"limit": 1}),
            ("get_discovered_certificate", {"id": good.pk}),
            ("get_discovered_certificate", {"id": "dcert-nope"}),
            ("list_discovered_certificates", {"expires_before": "soon"}),
        ]
        return [await client.call_tool(name, arguments) for name, arguments in calls]

    results = run_mcp(mcp_env, scenario, tmp_path / "stderr")
    every, only_weak, not_self_signed, by_issuer, by_san, none, capped = (payload(r) for r in results[:7])
    shown, missing, bad_date = results[7:]

    def ids(answer: dict) -> list[str]:
        return [row["id"] for row in answer["certificates"]]

    assert sorted(ids(every)) == sorted([weak.pk, good.pk]) and every["total"] == 2
    assert ids(only_weak) == [weak.pk] and only_weak["certificates"][0]["is_weak"] is True
    assert ids(not_self_signed) == ids(by_issuer) == ids(by_san) == [good.pk]
    assert none == {"certificates": [], "count": 0, "total": 0}
    assert capped["count"] == 1 and "showing 1 of 2" in capped["note"]
    detail = payload(shown)
    assert detail["fingerprint_sha256"] == good.fingerprint_sha256 and "private_key" not in detail
    assert [(s["source"], s["port"], s["sni"]) for s in detail["sightings"]] == [
        ("network", 8443, "good.example")
    ]
    assert [(e["address"], e["port"]) for e in detail["endpoints"]] == [("127.0.0.1", 8443)]
    assert "not_found: " in error_text(missing) and "HTTP 404" in error_text(missing)
    assert "validation_error" in error_text(bad_date) and "HTTP 400" in error_text(bad_date)


def test_claim_creates_or_links_and_dismiss_records_the_reason(mcp_env, tmp_path):
    first, second, third = (imported(issue(f"{cn}.example")) for cn in ("one", "two", "three"))
    owner, policy, issuer = OwnerFactory(), RenewalPolicyFactory(), IssuerFactory()
    existing = CertificateFactory()
    create = {"owner_id": owner.pk, "team_id": owner.team_id, "renewal_policy_id": policy.pk,
              "issuer_id": issuer.pk}  # fmt: skip

    async def scenario(client: ClientSession) -> list[CallToolResult]:
        calls = [
            (
                "claim_discovered_certificate",
                {"id": first.pk, **create, "name": "one-prod", "environment": "prod"},
            ),
            ("claim_discovered_certificate", {"id": first.pk, **create}),
            ("claim_discovered_certificate", {"id": second.pk, "managed_certificate_id": existing.pk}),
            ("claim_discovered_certificate", {"id": third.pk, "owner_id": owner.pk}),
            (
                "claim_discovered_certificate",
                {"id": third.pk, "managed_certificate_id": existing.pk, "name": "x"},
            ),
            ("dismiss_discovered_certificate", {"id": third.pk, "reason": "lab box, not ours"}),
            ("dismiss_discovered_certificate", {"id": first.pk, "reason": "changed my mind"}),
        ]
        return [await client.call_tool(name, arguments) for name, arguments in calls]

    created, again, linked, half, mixed, dismissed, managed_one = run_mcp(
        mcp_env, scenario, tmp_path / "stderr"
    )

    made = payload(created)
    assert made["id"].startswith("cert-") and (made["name"], made["environment"]) == ("one-prod", "prod")
    assert made["claim"]["created"] is True and made["claim"]["discovered_certificate_id"] == first.pk
    assert "conflict: " in error_text(again) and "already managed" in error_text(again)
    assert (payload(linked)["id"], payload(linked)["claim"]["created"]) == (existing.pk, False)
    assert "validation_error: team_id, renewal_policy_id, issuer_id: required" in error_text(half)
    assert "validation_error: name: not allowed with managed_certificate_id" in error_text(mixed)
    assert (payload(dismissed)["status"], payload(dismissed)["dismissed_reason"]) == (
        "Dismissed",
        "lab box, not ours",
    )
    assert "conflict: " in error_text(managed_one)
    rows = {row.pk: row for row in DiscoveredCertificate.objects.all()}
    assert (rows[first.pk].status, rows[first.pk].managed_certificate_id) == (
        DiscoveryStatus.MANAGED,
        made["id"],
    )
    assert rows[second.pk].managed_certificate_id == existing.pk
    assert (rows[third.pk].status, rows[third.pk].dismissed_by) == (DiscoveryStatus.DISMISSED, "assistant")
    assert (
        AuditEvent.objects.filter(action="discovered_certificate_dismissed", actor="assistant").count() == 1
    )


def test_a_profile_scan_is_started_and_its_run_finds_the_served_certificate(mcp_env, tmp_path):
    pki = Pki()
    with tls_server([pki.leaf("scanned.test"), pki.intermediate]) as port:
        profile = ScanProfile.objects.create(name="lab", targets=[f"127.0.0.1:{port}"], timeout_ms=2000)

        async def scenario(client: ClientSession) -> list[CallToolResult]:
            started = payload(await client.call_tool("start_discovery_scan", {"profile_id": profile.pk}))
            return [
                started,
                await client.call_tool("get_discovery_scan", {"id": started["id"]}),
                await client.call_tool("list_discovered_certificates", {"search": "scanned.test"}),
                await client.call_tool("start_discovery_scan", {"profile_id": "scanprof-nope"}),
                await client.call_tool("get_discovery_scan", {"id": "dscan-nope"}),
            ]

        started, shown, listed, unknown_profile, unknown_run = run_mcp(mcp_env, scenario, tmp_path / "stderr")

    assert started["id"].startswith("dscan-") and started["profile_id"] == profile.pk
    run = payload(shown)
    assert run["id"] == started["id"] and run["profile_name"] == "lab"
    counts = ("status", "targets_total", "targets_done", "found", "new_certificates")
    assert {key: run[key] for key in counts} == {
        "status": "completed", "targets_total": 1, "targets_done": 1, "found": 1, "new_certificates": 1,
    }  # fmt: skip
    assert [row["common_name"] for row in payload(listed)["certificates"]] == ["scanned.test"]
    assert "not_found: Scan profile not found" in error_text(unknown_profile)
    assert "not_found: Scan run not found" in error_text(unknown_run)


def test_violations_of_a_weak_discovered_certificate_are_listed_with_filters(mcp_env, tmp_path):
    rule = only_rule("min_key_size", {"rsa": 2048, "ec": 256}, severity="Error", name="Minimum key size")
    pki = Pki()
    weak = imported(pki.leaf("rsa1024.example", key_kind="rsa1024"))
    fine = imported(pki.leaf("fine.example"))
    evaluate_discovered([weak.pk, fine.pk])

    async def scenario(client: ClientSession) -> list[dict]:
        calls = [
            {},
            {"discovered_certificate_id": weak.pk, "severity": "Error", "rule_type": "min_key_size"},
            {"rule_id": rule.pk, "state": "all"},
            {"discovered_certificate_id": fine.pk},
            {"severity": "Critical"},
            {"state": "resolved"},
        ]
        return [payload(await client.call_tool("list_violations", arguments)) for arguments in calls]

    every, filtered, by_rule, of_fine, critical, resolved = run_mcp(mcp_env, scenario, tmp_path / "stderr")

    assert every["total"] == 1 and every == filtered == by_rule
    violation = every["violations"][0]
    assert (violation["discovered_certificate_id"], violation["certificate_id"]) == (weak.pk, None)
    assert (violation["rule_id"], violation["rule_name"], violation["rule_type"], violation["severity"]) == (
        rule.pk, "Minimum key size", "min_key_size", "Error",
    )  # fmt: skip
    assert violation["state"] == "open" and violation["message"]
    assert of_fine["total"] == critical["total"] == resolved["total"] == 0
