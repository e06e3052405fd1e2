"""The shared record service: one row per certificate, one per place, change flags, links to managed versions."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509

from audit.models import AuditEvent
from certctl.kernel.certificate_facts import read_facts
from certificates.discovery.models import DiscoveredCertificate, DiscoveryEndpoint, DiscoveryStatus
from certificates.discovery.services.chains import chain_problem
from certificates.discovery.services.record import Place, record
from tests.discovery_support import Pki, issue

pytestmark = pytest.mark.django_db

NOW = dt.datetime.now(dt.UTC)


def place(port: int = 443, sni: str = "") -> Place:
    return Place(kind="network", address="127.0.0.1", port=port, sni=sni)


def test_facts_of_weak_and_self_signed_certificates():
    weak = read_facts(issue("old.example", key_kind="rsa1024", hash_name="sha1").cert)
    assert weak.key_algorithm == "RSA" and weak.key_size == 1024
    assert weak.signature_hash == "sha1" and weak.is_self_signed and weak.is_weak
    assert weak.weaknesses == ["RSA-1024 key", "SHA1 signature"]
    pki = Pki()
    good = read_facts(pki.leaf("www.example", sans=["www.example", "example"]).cert)
    assert (good.key_algorithm, good.curve, good.is_weak, good.is_self_signed) == (
        "ECDSA",
        "secp256r1",
        False,
        False,
    )
    assert good.sans == ["www.example", "example"] and good.issuer_dn == "CN=Discovery Test Issuing CA"


def test_chain_problems():
    pki = Pki()
    leaf = pki.leaf("a.example")
    anchors = frozenset()
    assert chain_problem([leaf.cert, pki.intermediate.cert], anchors) == ""
    assert chain_problem([leaf.cert, pki.intermediate.cert, pki.root.cert], anchors) == ""
    assert chain_problem([leaf.cert], anchors) == "missing_intermediate"
    assert chain_problem([leaf.cert, pki.root.cert, pki.intermediate.cert], anchors) == "wrong_order"
    assert chain_problem([leaf.cert], frozenset({pki.intermediate.cert.subject.public_bytes()})) == ""


def test_one_row_per_certificate_and_a_flag_when_an_endpoint_changes():
    pki = Pki()
    first, second = pki.leaf("a.example"), pki.leaf("a.example")
    one = record(read_facts(first.cert), seen_at=NOW, place=place())
    again = record(read_facts(first.cert), seen_at=NOW + dt.timedelta(minutes=5), place=place(8443))
    assert one.created and not again.created and again.certificate.pk == one.certificate.pk
    assert DiscoveredCertificate.objects.count() == 1 and DiscoveryEndpoint.objects.count() == 2
    swapped = record(read_facts(second.cert), seen_at=NOW + dt.timedelta(minutes=10), place=place())
    assert swapped.changed
    endpoint = DiscoveryEndpoint.objects.get(pk=swapped.endpoint.pk)
    assert endpoint.previous_certificate_id == one.certificate.pk
    assert endpoint.current_certificate_id == swapped.certificate.pk and endpoint.changed_at is not None
    assert AuditEvent.objects.filter(action="discovered_certificate_changed").count() == 1
    assert AuditEvent.objects.filter(action="certificate_discovered").count() == 2


def test_a_certificate_certctl_issued_is_recorded_as_managed(db):
    from tests.agent_helpers import add_version
    from tests.factories import CertificateFactory

    pki = Pki()
    leaf = pki.leaf("managed.example")
    managed = CertificateFactory()
    add_version(managed, leaf.cert, pki.intermediate.cert)
    found = record(read_facts(leaf.cert), seen_at=NOW, place=place())
    assert found.certificate.status == DiscoveryStatus.MANAGED
    assert found.certificate.managed_certificate_id == managed.pk
    assert isinstance(x509.load_pem_x509_certificate(found.certificate.pem.encode()), x509.Certificate)
