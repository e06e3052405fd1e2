"""The other `certctl discovery` commands and `certctl violations list`, against a live server: list with filters,
show, claim (new or link), dismiss, start a scan of a profile and show the run."""

from __future__ import annotations

import json
import socket

import pytest

from certificates.discovery.models import DiscoveredCertificate, DiscoveryStatus, ScanProfile
from certificates.discovery.services.imports import import_certificates
from tests.client.cli_process import Server, run
from tests.discovery_support import Pki, issue
from tests.factories import (
    CertificateFactory,
    IssuerFactory,
    OwnerFactory,
    RenewalPolicyFactory,
    TeamFactory,
    make_api_key,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(live_server, tmp_path) -> Server:
    _, key = make_api_key("cli-ops", is_admin=True)
    home = tmp_path / "home"
    home.mkdir()
    return Server(url=live_server.url, key=key, home=home)


def imported(*certs) -> list[DiscoveredCertificate]:
    result = import_certificates(b"".join(cert.pem for cert in certs), filename="seed.pem")
    return [item.certificate for item in result.items]


def ok(result):
    assert result.returncode == 0, result.stderr
    return result


def test_list_filters_and_show(server):
    pki = Pki()
    weak = issue("weak.example", key_kind="rsa1024")  # self-signed and weak
    good = pki.leaf("good.example")
    imported(weak, good)
    listed = json.loads(ok(run(server, "discovery", "list", "-o", "json")).stdout)
    assert sorted(row["common_name"] for row in listed) == ["good.example", "weak.example"]
    only_weak = ok(run(server, "-q", "discovery", "list", "--weak")).stdout.split()
    assert only_weak == [DiscoveredCertificate.objects.get(common_name="weak.example").pk]
    self_signed = json.loads(ok(run(server, "discovery", "list", "--self-signed", "-o", "json")).stdout)
    assert [row["common_name"] for row in self_signed] == ["weak.example"]
    by_issuer = json.loads(
        ok(run(server, "discovery", "list", "--issuer", "Issuing CA", "-o", "json")).stdout
    )
    assert [row["common_name"] for row in by_issuer] == ["good.example"]
    none_yet = ok(run(server, "-q", "discovery", "list", "--expires-before", "2000-01-01T00:00:00Z")).stdout
    assert none_yet.split() == []
    table = ok(run(server, "discovery", "list", "--status", "Unmanaged")).stdout
    assert "good.example" in table and "weak.example" in table

    certificate = DiscoveredCertificate.objects.get(common_name="good.example")
    shown = json.loads(ok(run(server, "discovery", "show", certificate.pk, "-o", "json")).stdout)
    assert shown["id"] == certificate.pk and shown["fingerprint_sha256"] == certificate.fingerprint_sha256


def test_claim_new_and_link_and_dismiss(server):
    first, second, third = imported(issue("one.example"), issue("two.example"), issue("three.example"))
    owner, team, policy, issuer = OwnerFactory(), TeamFactory(), RenewalPolicyFactory(), IssuerFactory()
    made = ok(
        run(
            server,
            "discovery",
            "claim",
            first.pk,
            "--owner",
            owner.pk,
            "--team",
            team.pk,
            "--policy",
            policy.pk,
            "--issuer",
            issuer.pk,
            "--name",
            "one-prod",
        )
    )
    first.refresh_from_db()
    assert first.status == DiscoveryStatus.MANAGED and first.managed_certificate.name == "one-prod"
    assert first.managed_certificate_id in made.stdout

    existing = CertificateFactory()
    ok(run(server, "discovery", "claim", second.pk, "--managed-certificate", existing.pk))
    second.refresh_from_db()
    assert second.managed_certificate_id == existing.pk

    half = run(server, "discovery", "claim", third.pk, "--owner", owner.pk)
    assert half.returncode == 2 and "--team" in half.stderr

    ok(run(server, "discovery", "dismiss", third.pk, "--reason", "test box"))
    third.refresh_from_db()
    assert third.status == DiscoveryStatus.DISMISSED and third.dismissed_reason == "test box"


def test_scan_a_profile_and_show_the_run(server):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    profile = ScanProfile.objects.create(name="lab", targets=[f"127.0.0.1:{closed}"], timeout_ms=500)
    started = json.loads(ok(run(server, "discovery", "scan", profile.pk, "-o", "json")).stdout)
    assert started["id"].startswith("dscan-")
    shown = json.loads(ok(run(server, "discovery", "scans", "show", started["id"], "-o", "json")).stdout)
    assert shown["id"] == started["id"] and shown["targets_total"] == 1


def test_violations_list(server):
    weak = imported(issue("sha1.example", key_kind="rsa1024", hash_name="sha1"))[0]
    rows = json.loads(ok(run(server, "violations", "list", "--certificate", weak.pk, "-o", "json")).stdout)
    assert rows == server.api("/api/v1/violations", discovered_certificate_id=weak.pk, per_page=51)["data"]
    critical = json.loads(
        ok(run(server, "violations", "list", "--severity", "Critical", "-o", "json")).stdout
    )
    assert critical == server.api("/api/v1/violations", severity="Critical", per_page=51)["data"]
