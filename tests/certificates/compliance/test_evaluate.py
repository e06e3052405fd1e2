"""Evaluation over time: idempotent, resolves on a fix, honours scope, status and disabled rules; the sweep; the
hook after issuance."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from certificates.compliance.models import ComplianceRule, Violation
from certificates.compliance.services import evaluate
from certificates.compliance.services.evaluate import evaluate_all, evaluate_discovered, evaluate_managed
from certificates.compliance.services.rule_changes import delete_rule, update_rule
from certificates.discovery.models import DiscoveredCertificate, DiscoveryStatus
from certificates.enums import CertificateStatus
from certificates.inventory.models import CertificateVersion
from tests.certificates.compliance.support import NOW, discovered, managed, only_rule
from tests.discovery_support import Pki, issue
from tests.factories import CertificateFactory, TeamFactory
from tests.issuance_helpers import issuable_certificate, make_csr, make_root, names_of

pytestmark = pytest.mark.django_db

PKI = Pki()


def open_rows():
    return Violation.objects.filter(resolved_at__isnull=True)


def test_evaluating_twice_keeps_one_row_and_refreshes_last_seen():
    only_rule("self_signed")
    found = discovered(issue("alone.example"))
    assert evaluate_discovered([found.pk], now=NOW) == 1
    later = NOW + dt.timedelta(hours=1)
    assert evaluate_discovered([found.pk, found.pk], now=later) == 0
    (violation,) = Violation.objects.all()
    assert (
        violation.first_seen_at == NOW and violation.last_seen_at == later and violation.resolved_at is None
    )


def test_a_violation_already_open_is_not_inserted_again_by_a_second_worker():
    rule = only_rule("self_signed", severity="Critical")
    found = discovered(issue("alone.example"))
    one = evaluate.subjects.discovered([found.pk])[0]
    wanted = [(rule, one, "self-signed", {})]
    first = evaluate._open(evaluate.DISCOVERED, wanted, NOW)
    second = evaluate._open(evaluate.DISCOVERED, wanted, NOW)  # what a racing worker would insert
    assert len(first) == 1 and second == []
    assert Violation.objects.count() == 1


def test_a_fixed_chain_resolves_the_violation_and_a_new_problem_opens_a_new_one():
    only_rule("chain_problem")
    leaf = PKI.leaf("chain.example")
    found = discovered(leaf, chain_problem="missing_intermediate")
    assert evaluate_discovered([found.pk]) == 1
    discovered(leaf, chain_problem="", seen_at=NOW + dt.timedelta(minutes=5))
    assert evaluate_discovered([found.pk]) == 0
    assert open_rows().count() == 0 and Violation.objects.get().resolved_at is not None
    discovered(leaf, chain_problem="wrong_order", seen_at=NOW + dt.timedelta(minutes=10))
    assert evaluate_discovered([found.pk]) == 1
    assert Violation.objects.count() == 2 and open_rows().get().message.startswith(
        "served with a chain in the wrong"
    )


def test_a_managed_certificate_is_judged_by_its_newest_version():
    only_rule("min_key_size", {"rsa": 2048})
    certificate = managed(PKI.leaf("svc.example", key_kind="rsa1024"))
    assert evaluate_managed([certificate.pk]) == 1
    renewed = PKI.leaf("svc.example", key_kind="rsa2048")
    CertificateVersion.objects.create(
        certificate=certificate,
        serial_number=format(renewed.cert.serial_number, "x"),
        not_before=renewed.cert.not_valid_before_utc,
        not_after=renewed.cert.not_valid_after_utc,
        fingerprint_sha256="f" * 64,
        pem_chain=renewed.pem.decode(),
    )
    assert evaluate_managed([certificate.pk]) == 0
    assert open_rows().count() == 0


def test_archived_revoked_and_unissued_certificates_hold_no_open_violation():
    only_rule("self_signed")
    archived = managed(issue("a.example"))
    revoked = managed(issue("r.example"))
    never_issued = CertificateFactory()
    assert evaluate_managed([archived.pk, revoked.pk, never_issued.pk]) == 2
    archived.status, revoked.status = CertificateStatus.ARCHIVED, CertificateStatus.REVOKED
    archived.save(), revoked.save()
    evaluate_managed([archived.pk, revoked.pk, never_issued.pk])
    assert open_rows().count() == 0


@pytest.mark.parametrize("status", [DiscoveryStatus.MANAGED, DiscoveryStatus.DISMISSED])
def test_claimed_or_dismissed_discovered_certificates_have_theirs_resolved(status):
    only_rule("self_signed")
    found = discovered(issue("alone.example"))
    evaluate_discovered([found.pk])
    DiscoveredCertificate.objects.filter(pk=found.pk).update(status=status)
    evaluate_discovered([found.pk])
    assert open_rows().count() == 0


def test_applies_to_limits_a_rule_to_managed_or_discovered_certificates():
    only_rule("self_signed", applies_to="managed")
    leaf = issue("alone.example")
    found, certificate = discovered(leaf), managed(leaf)
    assert evaluate_discovered([found.pk]) == 0 and evaluate_managed([certificate.pk]) == 1


def test_violations_take_the_team_of_their_certificate():
    only_rule("self_signed")
    team = TeamFactory()
    found = discovered(issue("alone.example"))
    DiscoveredCertificate.objects.filter(pk=found.pk).update(team=team)
    certificate = managed(issue("other.example"))
    evaluate_discovered([found.pk]), evaluate_managed([certificate.pk])
    assert Violation.objects.get(discovered_certificate=found).team == team
    assert Violation.objects.get(certificate=certificate).team_id == certificate.team_id


def test_disabling_a_rule_resolves_its_violations_and_deleting_removes_them():
    rule = only_rule("self_signed")
    evaluate_discovered([discovered(issue("alone.example")).pk])
    update_rule(rule, {"severity": "Critical"}, actor="tester")
    assert open_rows().get().severity == "Critical"
    update_rule(rule, {"enabled": False}, actor="tester")
    assert open_rows().count() == 0 and Violation.objects.count() == 1
    delete_rule(rule, actor="tester")
    assert Violation.objects.count() == 0


def test_the_sweep_judges_everything_with_the_enabled_rules_and_resolves_disabled_ones():
    rule = only_rule("self_signed")
    found = discovered(issue("alone.example"))
    certificate = managed(issue("alone2.example"))
    managed(PKI.leaf("fine.example"))
    result = evaluate_all()
    assert result["managed_opened"] == 1 and result["discovered_opened"] == 1
    assert result["managed_checked"] == 2 and result["discovered_checked"] == 1
    assert set(open_rows().values_list("certificate_id", "discovered_certificate_id")) == {
        (certificate.pk, None),
        (None, found.pk),
    }
    assert evaluate_all()["managed_opened"] == 0 and open_rows().count() == 2
    ComplianceRule.objects.filter(pk=rule.pk).update(enabled=False)
    assert evaluate_all()["resolved_disabled"] == 2 and open_rows().count() == 0


def test_seeded_rules_are_enabled_defaults():
    seeded = {rule.name: (rule.type, rule.severity, rule.applies_to) for rule in ComplianceRule.objects.all()}
    assert seeded == {
        "Minimum key size": ("min_key_size", "Error", "all"),
        "No SHA-1 or MD5 signatures": ("forbidden_signature_algorithms", "Critical", "all"),
        "Expired": ("expired", "Critical", "all"),
        "Self-signed": ("self_signed", "Warning", "all"),
        "Chain problem": ("chain_problem", "Error", "all"),
        "Maximum validity 398 days": ("max_validity", "Warning", "discovered"),
    }
    assert all(rule.enabled for rule in ComplianceRule.objects.all())


def test_a_newly_issued_version_is_evaluated_after_commit(
    client_with_key, django_capture_on_commit_callbacks
):
    only_rule("allowed_issuers", {"issuers": ["O=Somebody Else"]}, applies_to="managed")
    certificate = issuable_certificate(make_root())
    with django_capture_on_commit_callbacks(execute=True):
        response = client_with_key.post(
            f"/api/v1/certificates/{certificate.pk}/issue",
            {"csr_pem": make_csr(names_of(certificate))[0]},
            format="json",
        )
    assert response.status_code == 201, response.json()
    (violation,) = Violation.objects.filter(certificate=certificate)
    assert violation.rule_type == "allowed_issuers" and "not an allowed issuer" in violation.message


def _estate(count: int, start: int = 0) -> None:
    DiscoveredCertificate.objects.bulk_create(
        DiscoveredCertificate(
            fingerprint_sha256=f"{start + n:064x}",
            pem="-",
            common_name=f"host{start + n}.example",
            not_before=NOW,
            not_after=NOW + dt.timedelta(days=30),
            key_algorithm="RSA",
            key_size=1024 if n % 2 else 2048,
            signature_algorithm="sha256WithRSAEncryption",
            is_self_signed=True,
            first_seen_at=NOW,
            last_seen_at=NOW,
        )
        for n in range(count)
    )


def test_a_sweep_over_unchanged_certificates_costs_the_same_queries_for_ten_or_a_thousand():
    only_rule("self_signed")
    ComplianceRule.objects.create(name="Keys", type="min_key_size", config={"rsa": 2048}, severity="Error")

    def unchanged_sweep_queries() -> int:
        evaluate_all()
        with CaptureQueriesContext(connection) as queries:
            evaluate_all()
        return len(queries)

    _estate(10)
    small = unchanged_sweep_queries()
    _estate(990, start=10)
    assert unchanged_sweep_queries() == small
    assert open_rows().count() == 1000 + 500
