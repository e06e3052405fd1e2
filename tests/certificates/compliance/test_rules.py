"""Each rule type, broken and kept, on managed certificates (their current version) and discovered ones."""

from __future__ import annotations

import datetime as dt

import pytest

from certificates.compliance.models import Violation
from certificates.compliance.services.evaluate import evaluate_discovered, evaluate_managed
from certificates.compliance.services.rules import name_matches
from tests.certificates.compliance.support import NOW, discovered, managed, only_rule
from tests.discovery_support import Pki, issue

pytestmark = pytest.mark.django_db

PKI = Pki()
OLD = NOW - dt.timedelta(days=100)

CASES = {
    "min_key_size": (
        {"rsa": 2048, "ec": 256},
        lambda: issue("weak.example", signer=PKI.intermediate, key_kind="rsa1024"),
        lambda: issue("strong.example", signer=PKI.intermediate, key_kind="rsa2048"),
        "RSA-1024 key is below the minimum of 2048 bits",
    ),
    "allowed_curves": (
        {"curves": ["P-384"]},
        lambda: PKI.leaf("p256.example"),
        lambda: PKI.leaf("p384.example", key_kind="ec384"),
        "EC curve secp256r1 is not allowed (allowed: secp384r1)",
    ),
    "forbidden_signature_algorithms": (
        {"hashes": ["sha1", "md5"]},
        lambda: PKI.leaf("sha1.example", hash_name="sha1"),
        lambda: PKI.leaf("sha256.example"),
        "signed with SHA1, a forbidden signature hash",
    ),
    "max_validity": (
        {"days": 398},
        lambda: PKI.leaf("long.example", days=800),
        lambda: PKI.leaf("short.example", days=398),
        "valid for 800 days, more than the maximum of 398",
    ),
    "allowed_issuers": (
        {"issuers": ["cn=discovery test issuing"]},
        lambda: issue("foreign.example", signer=PKI.root),
        lambda: PKI.leaf("ours.example"),
        "issued by CN=Discovery Test Root, which is not an allowed issuer",
    ),
    "required_san_pattern": (
        {"patterns": ["*.example.com", "re:^api-"]},
        lambda: PKI.leaf("www.example.com", sans=["www.example.com", "a.b.example.com", "example.com"]),
        lambda: PKI.leaf("www.example.com", sans=["www.example.com", "api-1.internal"]),
        "a.b.example.com, example.com match no allowed name pattern",
    ),
    "expired": (
        {},
        lambda: PKI.leaf("old.example", not_before=OLD, days=30),
        lambda: PKI.leaf("fresh.example"),
        "expired on ",
    ),
    "self_signed": (
        {},
        lambda: issue("alone.example"),
        lambda: PKI.leaf("vouched.example"),
        "self-signed: no CA vouches for it",
    ),
}


@pytest.mark.parametrize("kind", ["managed", "discovered"])
@pytest.mark.parametrize("rule_type", sorted(CASES))
def test_each_rule_is_broken_by_the_bad_certificate_and_kept_by_the_good_one(rule_type, kind):
    config, bad, good, message = CASES[rule_type]
    rule = only_rule(rule_type, config)
    if kind == "managed":
        bad_cert, good_cert = managed(bad()), managed(good())
        opened = evaluate_managed([bad_cert.pk, good_cert.pk])
        violations = Violation.objects.filter(certificate=bad_cert)
    else:
        bad_cert, good_cert = discovered(bad(), port=1), discovered(good(), port=2)
        opened = evaluate_discovered([bad_cert.pk, good_cert.pk])
        violations = Violation.objects.filter(discovered_certificate=bad_cert)

    assert opened == 1
    (violation,) = violations
    assert violation.rule == rule and violation.rule_type == rule_type and violation.severity == "Error"
    assert violation.message.startswith(message), violation.message
    assert violation.resolved_at is None and violation.team_id == bad_cert.team_id
    assert Violation.objects.count() == 1


def test_allowed_issuers_accepts_a_managed_certificate_by_its_certctl_issuer_id():
    leaf = issue("foreign.example", signer=PKI.root)
    certificate = managed(leaf)
    only_rule("allowed_issuers", {"issuer_ids": [certificate.issuer_id]})
    assert evaluate_managed([certificate.pk]) == 0
    other = managed(issue("foreign2.example", signer=PKI.root))
    assert evaluate_managed([other.pk]) == 1


def test_a_chain_problem_seen_by_a_scan_is_a_violation_of_the_discovered_and_the_managed_certificate():
    only_rule("chain_problem")
    leaf, fine = PKI.leaf("chain.example"), PKI.leaf("fine.example")
    served_badly = discovered(leaf, port=8443, chain_problem="missing_intermediate")
    discovered(fine, port=9443)
    wrong_order = discovered(PKI.leaf("order.example"), port=7443, chain_problem="wrong_order")
    the_managed = managed(leaf)

    assert evaluate_discovered([served_badly.pk, wrong_order.pk]) == 2
    assert evaluate_managed([the_managed.pk]) == 1
    messages = sorted(Violation.objects.values_list("message", flat=True))
    assert messages == [
        "served with a chain in the wrong order at 127.0.0.1:7443",
        "served with a missing intermediate at 127.0.0.1:8443",
        "served with a missing intermediate at 127.0.0.1:8443",
    ]
    assert Violation.objects.get(certificate=the_managed).details == {
        "problems": ["missing_intermediate"],
        "endpoints": ["127.0.0.1:8443"],
    }


def test_glob_star_stays_within_one_label_and_double_star_crosses_dots():
    assert name_matches("www.example.com", ["*.example.com"])
    assert name_matches("*.example.com", ["*.example.com"])
    assert not name_matches("a.b.example.com", ["*.example.com"])
    assert not name_matches("example.com", ["*.example.com"])
    assert name_matches("a.b.example.com", ["**.example.com"])
    assert name_matches("WWW.Example.COM", ["www.example.com"])
    assert name_matches("api-7.corp", ["re:^api-"]) and not name_matches("my-api-7", ["re:^api-"])
