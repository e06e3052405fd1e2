"""The compliance API: rules CRUD (config checked per type, admin key to change), violations with filters and
paging, a certificate's violations, 404s."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from certificates.compliance.models import ComplianceRule, Violation
from certificates.compliance.services.evaluate import evaluate_discovered, evaluate_managed
from tests.certificates.compliance.support import discovered, managed, only_rule
from tests.discovery_support import Pki, issue

pytestmark = pytest.mark.django_db

PKI = Pki()


@pytest.fixture
def estate():
    """A self-signed (Warning) discovered and managed certificate, and an RSA-1024 managed one (Error)."""
    only_rule("self_signed", severity="Warning", name="Self-signed test")
    ComplianceRule.objects.create(name="Keys", type="min_key_size", config={"rsa": 2048}, severity="Error")
    found = discovered(issue("alone.example"))
    alone = managed(issue("alone2.example"))
    weak = managed(PKI.leaf("weak.example", key_kind="rsa1024"))
    evaluate_discovered([found.pk])
    evaluate_managed([alone.pk, weak.pk])
    return found, alone, weak


def test_rules_are_created_listed_changed_and_deleted(admin_client_with_key):
    created = admin_client_with_key.post(
        "/api/v1/compliance/rules",
        {"name": "Corp names", "type": "required_san_pattern", "config": {"patterns": ["*.corp.example"]}},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["id"].startswith("rule-") and body["severity"] == "Warning" and body["open_violations"] == 0
    listed = admin_client_with_key.get("/api/v1/compliance/rules?type=required_san_pattern").json()
    assert [rule["name"] for rule in listed["data"]] == ["Corp names"]
    changed = admin_client_with_key.patch(
        f"/api/v1/compliance/rules/{body['id']}/", {"severity": "Critical", "enabled": False}, format="json"
    )
    assert changed.status_code == 200 and changed.json()["severity"] == "Critical"
    assert admin_client_with_key.delete(f"/api/v1/compliance/rules/{body['id']}").status_code == 204
    assert admin_client_with_key.get(f"/api/v1/compliance/rules/{body['id']}").status_code == 404
    actions = set(AuditEvent.objects.filter(resource_id=body["id"]).values_list("action", flat=True))
    assert {"compliance_rule_created", "compliance_rule_updated", "compliance_rule_deleted"} <= actions


@pytest.mark.parametrize(
    ("rule_type", "config", "field"),
    [
        ("min_key_size", {"rsa": "big"}, "config.rsa"),
        ("min_key_size", {}, "config"),
        ("allowed_curves", {"curves": ["curve25519x"]}, "config.curves"),
        ("forbidden_signature_algorithms", {"hashes": ["crc32"]}, "config.hashes"),
        ("max_validity", {"days": 0}, "config.days"),
        ("max_validity", {}, "config.days"),
        ("allowed_issuers", {"issuer_ids": ["issuer-nope"]}, "config.issuer_ids"),
        ("required_san_pattern", {"patterns": ["re:("]}, "config.patterns"),
        ("expired", {"days": 3}, "config.days"),
        ("self_signed", [], "config"),
    ],
)
def test_a_config_that_does_not_fit_the_type_is_a_400_naming_the_field(
    admin_client_with_key, rule_type, config, field
):
    response = admin_client_with_key.post(
        "/api/v1/compliance/rules", {"name": "bad", "type": rule_type, "config": config}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error" and field in response.json()["fields"]
    assert not ComplianceRule.objects.filter(name="bad").exists()


def test_a_bad_config_in_a_patch_is_a_400_and_changes_nothing(admin_client_with_key):
    rule = only_rule("max_validity", {"days": 90})
    response = admin_client_with_key.patch(
        f"/api/v1/compliance/rules/{rule.pk}", {"config": {"days": -1}}, format="json"
    )
    assert response.status_code == 400 and "config.days" in response.json()["fields"]
    rule.refresh_from_db()
    assert rule.config == {"days": 90}


def test_a_duplicate_rule_name_is_a_409_and_an_unknown_type_a_400(admin_client_with_key):
    only_rule("expired", name="Expired twice")
    clash = admin_client_with_key.post(
        "/api/v1/compliance/rules", {"name": "Expired twice", "type": "expired"}, format="json"
    )
    assert clash.status_code == 409
    unknown = admin_client_with_key.post(
        "/api/v1/compliance/rules", {"name": "x", "type": "nope"}, format="json"
    )
    assert unknown.status_code == 400 and "type" in unknown.json()["fields"]


def test_changing_rules_needs_an_admin_key(client_with_key):
    assert client_with_key.get("/api/v1/compliance/rules").status_code == 200
    response = client_with_key.post(
        "/api/v1/compliance/rules", {"name": "x", "type": "expired"}, format="json"
    )
    assert response.status_code == 403


def test_violations_are_filtered_by_rule_severity_certificate_team_and_state(client_with_key, estate):
    found, alone, weak = estate
    everything = client_with_key.get("/api/v1/violations").json()
    assert everything["total"] == 3 and {v["state"] for v in everything["data"]} == {"open"}

    def ids(query: str) -> set[str]:
        body = client_with_key.get(f"/api/v1/violations?{query}").json()
        return {v["certificate_id"] or v["discovered_certificate_id"] for v in body["data"]}

    keys = ComplianceRule.objects.get(name="Keys")
    assert ids(f"rule_id={keys.pk}") == {weak.pk}
    assert ids("rule_type=self_signed") == {found.pk, alone.pk}
    assert ids("severity=Error") == {weak.pk}
    assert ids(f"certificate_id={alone.pk}") == {alone.pk}
    assert ids(f"discovered_certificate_id={found.pk}") == {found.pk}
    assert ids(f"team_id={weak.team_id}") == {weak.pk}
    Violation.objects.filter(certificate=weak).update(resolved_at=weak.created_at)
    assert ids("state=resolved") == {weak.pk} and ids("state=all") == {found.pk, alone.pk, weak.pk}
    assert ids("") == {found.pk, alone.pk}
    assert client_with_key.get("/api/v1/violations?severity=Bad").status_code == 400
    page = client_with_key.get("/api/v1/violations?per_page=1&page=2").json()
    assert page["total"] == 2 and len(page["data"]) == 1


def test_one_violation_and_a_certificates_violations(client_with_key, estate):
    weak = estate[2]
    violation = Violation.objects.get(certificate=weak)
    detail = client_with_key.get(f"/api/v1/violations/{violation.pk}").json()
    assert (
        detail["rule_name"] == "Keys"
        and detail["message"] == "RSA-1024 key is below the minimum of 2048 bits"
    )
    assert detail["details"] == {"key_algorithm": "RSA", "key_size": 1024, "minimum": 2048}
    assert detail["first_seen_at"].endswith("Z") and detail["resolved_at"] is None
    listed = client_with_key.get(f"/api/v1/certificates/{weak.pk}/violations").json()
    assert [v["id"] for v in listed["data"]] == [violation.pk]
    assert client_with_key.get("/api/v1/violations/violation-nope").status_code == 404
    missing = client_with_key.get("/api/v1/certificates/cert-nope/violations")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def test_the_compliance_routes_are_in_the_openapi_document(client_with_key):
    text = client_with_key.get("/api/v1/schema/").content.decode()
    assert "/api/v1/violations" in text and "/api/v1/compliance/rules" in text
    assert "/api/v1/certificates/{id}/violations" in text
