"""What a scan records from real loopback TLS servers: the chain as presented, its problems, the protocol, the
names behind SNI, one row per certificate across endpoints, and a changed certificate at a known endpoint."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import threading

import pytest

from certctl.kernel.certificate_facts import read_facts
from certificates.discovery.models import (
    DiscoveredCertificate,
    DiscoveryEndpoint,
    DiscoverySighting,
    ScanRun,
)
from certificates.discovery.services import scans
from tests.discovery_support import NOW, Pki, issue, tls_server
from tests.discovery_support import _context as tls_context

pytestmark = pytest.mark.django_db

FAST = scans.ScanSettings(timeout_ms=3000, concurrency=8, chunk_size=16)


def scan(django_capture_on_commit_callbacks, targets: list[str], ports=None) -> ScanRun:
    with django_capture_on_commit_callbacks(execute=True):
        run = scans.start_adhoc_run(targets, ports, FAST, requested_by="test")
    run.refresh_from_db()
    return run


def found_at(port: int, sni: str = "") -> DiscoveredCertificate:
    endpoint = DiscoveryEndpoint.objects.get(address="127.0.0.1", port=port, sni=sni)
    return endpoint.current_certificate


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


def test_a_valid_chain_is_recorded_with_its_intermediate_protocol_and_place(
    pki, django_capture_on_commit_callbacks
):
    leaf = pki.leaf("www.example.test")
    with tls_server([leaf, pki.intermediate]) as port:
        run = scan(django_capture_on_commit_callbacks, [f"127.0.0.1:{port}"])
    assert (run.status, run.targets_done, run.found, run.new_certificates, run.errors) == (
        "completed",
        1,
        1,
        1,
        0,
    )
    certificate = found_at(port)
    assert certificate.fingerprint_sha256 == read_facts(leaf.cert).fingerprint_sha256
    assert certificate.chain_pem == pki.intermediate.pem.decode()
    endpoint = DiscoveryEndpoint.objects.get(port=port)
    assert (endpoint.kind, endpoint.protocol, endpoint.chain_problem, endpoint.sni) == (
        "network",
        "TLSv1.3",
        "",
        "",
    )
    sighting = DiscoverySighting.objects.get(endpoint=endpoint)
    assert sighting.scan_run_id == run.pk
    assert sighting.chain_fingerprints == [
        read_facts(leaf.cert).fingerprint_sha256,
        read_facts(pki.intermediate.cert).fingerprint_sha256,
    ]
    assert sighting.first_seen_at == sighting.last_seen_at


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda pki: [issue("expired.test", not_before=NOW - dt.timedelta(days=100), days=30)], "expired"),
        (lambda pki: [issue("self.test")], "self_signed"),
        (lambda pki: [pki.leaf("rsa1024.test", key_kind="rsa1024"), pki.intermediate], "weak_key"),
        (lambda pki: [pki.leaf("sha1.test", key_kind="rsa2048", hash_name="sha1"), pki.intermediate], "sha1"),
        (lambda pki: [pki.leaf("missing.test")], "missing_intermediate"),
        (lambda pki: [pki.leaf("order.test"), pki.root, pki.intermediate], "wrong_order"),
    ],
    ids=["expired", "self-signed", "rsa-1024", "sha-1", "missing-intermediate", "wrong-order"],
)
def test_old_weak_and_broken_servers_still_answer_and_are_described(
    pki, make, expected, django_capture_on_commit_callbacks
):
    chain = make(pki)
    with tls_server(chain) as port:
        run = scan(django_capture_on_commit_callbacks, [f"127.0.0.1:{port}"])
    assert (run.found, run.errors) == (1, 0)
    certificate = found_at(port)
    endpoint = DiscoveryEndpoint.objects.get(port=port)
    observed = {
        "expired": certificate.not_after < NOW,
        "self_signed": certificate.is_self_signed,
        "weak_key": certificate.is_weak and certificate.key_size == 1024,
        "sha1": certificate.is_weak and "sha1" in certificate.signature_algorithm.lower(),
        "missing_intermediate": endpoint.chain_problem == "missing_intermediate",
        "wrong_order": endpoint.chain_problem == "wrong_order",
    }
    assert observed[expected], observed
    assert endpoint.chain_problem == (
        "" if expected not in ("missing_intermediate", "wrong_order") else expected
    )


def test_several_names_behind_one_address_are_told_apart_by_sni(pki, django_capture_on_commit_callbacks):
    default, shop, mail = (
        pki.leaf("default.test"),
        pki.leaf("shop.example.test"),
        pki.leaf("mail.example.test"),
    )
    with tls_server(
        [default, pki.intermediate], by_sni={"shop.example.test": [shop], "mail.example.test": [mail]}
    ) as port:
        run = scan(
            django_capture_on_commit_callbacks,
            [f"127.0.0.1:{port}", f"shop.example.test@127.0.0.1:{port}", f"mail.example.test@127.0.0.1:{port}",
             f"localhost:{port}"],
        )  # fmt: skip
    assert (run.targets_total, run.found, run.new_certificates) == (4, 4, 3)
    assert found_at(port).common_name == "default.test"
    assert found_at(port, "shop.example.test").common_name == "shop.example.test"
    assert found_at(port, "mail.example.test").common_name == "mail.example.test"
    # A name target is resolved at scan time and sent as SNI; the endpoint keeps the address it reached.
    assert found_at(port, "localhost").common_name == "default.test"


def test_one_certificate_served_at_several_endpoints_is_one_row(pki, django_capture_on_commit_callbacks):
    shared = pki.leaf("shared.test")
    with tls_server([shared, pki.intermediate]) as first, tls_server([shared, pki.intermediate]) as second:
        run = scan(django_capture_on_commit_callbacks, [f"127.0.0.1:{first}", f"127.0.0.1:{second}"])
    assert (run.found, run.new_certificates) == (2, 1)
    certificate = DiscoveredCertificate.objects.get(common_name="shared.test")
    assert certificate.sightings.count() == 2
    assert set(certificate.current_at.values_list("port", flat=True)) == {first, second}


def test_a_different_certificate_at_a_known_endpoint_is_flagged(pki, django_capture_on_commit_callbacks):
    old, new = pki.leaf("rotating.test"), pki.leaf("rotating.test")
    with tls_server([old, pki.intermediate]) as port:
        scan(django_capture_on_commit_callbacks, [f"127.0.0.1:{port}"])
    endpoint = DiscoveryEndpoint.objects.get(port=port)
    assert endpoint.changed_at is None
    # The same port number, a new server: the endpoint is the same place.
    with tls_server([new, pki.intermediate]) as other_port:
        DiscoveryEndpoint.objects.filter(pk=endpoint.pk).update(
            port=other_port, key=f"net|127.0.0.1|{other_port}|"
        )
        run = scan(django_capture_on_commit_callbacks, [f"127.0.0.1:{other_port}"])
    endpoint.refresh_from_db()
    assert (run.found, run.new_certificates) == (1, 1)
    assert endpoint.changed_at is not None
    assert endpoint.previous_certificate.fingerprint_sha256 == read_facts(old.cert).fingerprint_sha256
    assert endpoint.current_certificate.fingerprint_sha256 == read_facts(new.cert).fingerprint_sha256


def test_a_second_scan_of_the_same_server_finds_nothing_new_and_moves_last_seen(
    pki, django_capture_on_commit_callbacks
):
    leaf = pki.leaf("again.test")
    with tls_server([leaf, pki.intermediate]) as port:
        scan(django_capture_on_commit_callbacks, [f"127.0.0.1:{port}"])
        first_seen = found_at(port).last_seen_at
        run = scan(django_capture_on_commit_callbacks, [f"127.0.0.1:{port}"])
    assert (run.found, run.new_certificates) == (1, 0)
    certificate = found_at(port)
    assert certificate.last_seen_at > first_seen and certificate.first_seen_at <= first_seen
    assert DiscoveredCertificate.objects.filter(common_name="again.test").count() == 1


@contextlib.contextmanager
def plain_text_server(received: list[bytes]):
    """A TCP server that is not TLS: it records what the client sent, answers like an HTTP redirect, closes."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                with conn:
                    conn.settimeout(5)
                    received.append(conn.recv(4096))
                    conn.sendall(b"HTTP/1.1 301 Moved\r\nLocation: http://elsewhere.test/\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def test_a_server_that_does_not_speak_tls_is_an_error_and_only_a_client_hello_was_sent(
    pki, django_capture_on_commit_callbacks
):
    received: list[bytes] = []
    with plain_text_server(received) as port:
        run = scan(django_capture_on_commit_callbacks, [f"web.example.test@127.0.0.1:{port}"])
    assert (run.targets_done, run.found, run.errors) == (1, 0, 1)
    assert received and received[0][:1] == b"\x16"  # a TLS handshake record: no HTTP request, no redirect
    assert b"web.example.test" in received[0] and b"GET" not in received[0]
    assert not DiscoveryEndpoint.objects.exists()


def test_a_known_endpoint_that_stops_answering_tls_keeps_its_certificate_and_shows_the_error(
    pki, django_capture_on_commit_callbacks
):
    with tls_server([pki.leaf("flaky.test"), pki.intermediate]) as port:
        scan(django_capture_on_commit_callbacks, [f"127.0.0.1:{port}"])
    endpoint = DiscoveryEndpoint.objects.get(port=port)
    with plain_text_server([]) as other:
        DiscoveryEndpoint.objects.filter(pk=endpoint.pk).update(port=other, key=f"net|127.0.0.1|{other}|")
        run = scan(django_capture_on_commit_callbacks, [f"127.0.0.1:{other}"])
    endpoint.refresh_from_db()
    assert run.errors == 1
    assert endpoint.current_certificate.common_name == "flaky.test" and endpoint.last_error


def test_an_explicit_ipv6_address_is_scanned(pki, django_capture_on_commit_callbacks):
    leaf = pki.leaf("v6.test")
    try:
        listener = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError:
        pytest.skip("cannot listen on ::1")
    context = tls_context([leaf, pki.intermediate], leaf.key)

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)

    threading.Thread(target=serve, daemon=True).start()
    port = listener.getsockname()[1]
    try:
        run = scan(django_capture_on_commit_callbacks, [f"[::1]:{port}"])
    finally:
        listener.close()
    assert run.found == 1
    assert (
        DiscoveryEndpoint.objects.get(address="::1", port=port).current_certificate.common_name == "v6.test"
    )
