"""HTTP deliveries reach public addresses only: loopback, private, link-local and other inner addresses are refused
in any spelling, before any connection, unless CERTCTL_NOTIFICATION_ALLOWED_NETWORKS opens them.

Host names are resolved through a patched `socket.getaddrinfo` (resolution is outside this machine); no test
connects anywhere but loopback: `only_loopback_connections` fails any other connection attempt.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest
from urllib3.util import connection as urllib3_connection

from notifications.channels.egress import refusal
from notifications.enums import Channel, NotificationStatus
from notifications.services import delivery
from tests.notification_factories import NotificationEventFactory

pytestmark = pytest.mark.django_db

TOKEN_PATH = "/webhook/ssrf-token-secret"
REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture(autouse=True)
def no_allowed_networks(settings):
    """Production's default: tests/conftest.py allows loopback for every other test; these take it back."""
    settings.NOTIFICATION_ALLOWED_NETWORKS = []


@pytest.fixture(autouse=True)
def only_loopback_connections(monkeypatch):
    real = urllib3_connection.create_connection

    def guarded(address, *args, **kwargs):
        host = address[0]
        assert ipaddress.ip_address(host).is_loopback, f"a delivery tried to connect to {host}"
        return real(address, *args, **kwargs)

    monkeypatch.setattr(urllib3_connection, "create_connection", guarded)


@pytest.fixture
def names(monkeypatch):
    """`names["x.example"] = ["10.1.2.3"]` makes x.example resolve there; `names.lookups` counts resolutions."""

    class Names(dict):
        lookups: list[str] = []

    table = Names()

    def getaddrinfo(host, port, *args, **kwargs):
        if host in table:
            table.lookups.append(host)
            return [
                (
                    socket.AF_INET6 if ":" in address else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (address, port, 0, 0) if ":" in address else (address, port),
                )
                for address in table[host]
            ]
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


def _deliver_webhook(settings, url: str):
    settings.WEBHOOK_URL = url
    event = NotificationEventFactory(channel=Channel.WEBHOOK)
    delivery.deliver_one(event.id)
    event.refresh_from_db()
    return event


@pytest.mark.parametrize(
    ("host", "shown", "why"),
    [
        ("127.0.0.1", "127.0.0.1", "127.0.0.1 is a loopback address"),
        ("2130706433", "2130706433", "127.0.0.1 is a loopback address"),
        ("0x7f.1", "0x7f.1", "127.0.0.1 is a loopback address"),
        ("localhost", "localhost", "is a loopback address"),
        ("[::1]", "::1", "::1 is a loopback address"),
        ("169.254.169.254", "169.254.169.254", "169.254.169.254 is a link-local address"),
        ("10.0.0.1", "10.0.0.1", "10.0.0.1 is a private address"),
        ("192.168.1.1", "192.168.1.1", "192.168.1.1 is a private address"),
        ("[fc00::1]", "fc00::1", "fc00::1 is a unique-local address"),
        ("0.0.0.0", "0.0.0.0", "0.0.0.0 is the unspecified address"),  # noqa: S104 (a URL, not a bind)
        ("224.0.0.1", "224.0.0.1", "224.0.0.1 is a multicast address"),
        ("100.64.0.1", "100.64.0.1", "100.64.0.1 is a non-public address"),
    ],
)
def test_an_inner_address_in_any_spelling_is_refused_and_dead_lettered_at_once(
    settings, http_sink, host, shown, why
):
    event = _deliver_webhook(settings, f"http://{host}:{http_sink.url.rsplit(':', 1)[1]}{TOKEN_PATH}")
    assert (event.status, event.retry_count) == (NotificationStatus.DEAD, 1)
    assert event.last_error.startswith(f"refused to deliver to {shown}: ")
    assert why in event.last_error and "CERTCTL_NOTIFICATION_ALLOWED_NETWORKS" in event.last_error
    assert "ssrf-token-secret" not in event.last_error and "/webhook" not in event.last_error
    assert http_sink.count() == 0


@pytest.mark.parametrize(
    ("addresses", "why"),
    [
        (["10.1.2.3"], "10.1.2.3 is a private address"),
        (["93.184.216.34", "192.168.7.7"], "192.168.7.7 is a private address"),  # one inner answer is enough
        (["::ffff:127.0.0.1"], "carries a loopback address (127.0.0.1)"),
        (["64:ff9b::a9fe:a9fe"], "carries a link-local address (169.254.169.254)"),
    ],
)
def test_a_name_that_resolves_to_an_inner_address_is_refused(settings, names, addresses, why):
    names["hooks.internal.example"] = addresses
    event = _deliver_webhook(settings, f"https://hooks.internal.example{TOKEN_PATH}")
    assert event.status == NotificationStatus.DEAD
    assert event.last_error.startswith("refused to deliver to hooks.internal.example: ")
    assert why in event.last_error


def test_every_channel_posting_json_is_guarded(settings, http_sink):
    from tests.sinks import point_channels_at

    point_channels_at(settings, http_sink)
    for channel in (Channel.WEBHOOK, Channel.SLACK, Channel.TEAMS, Channel.PAGERDUTY, Channel.OPSGENIE):
        event = NotificationEventFactory(channel=channel)
        delivery.deliver_one(event.id)
        event.refresh_from_db()
        assert event.status == NotificationStatus.DEAD, channel
        assert event.last_error.startswith("refused to deliver to 127.0.0.1: 127.0.0.1 is a loopback address")
    assert http_sink.count() == 0


def test_an_allowed_network_makes_a_loopback_receiver_deliverable(settings, http_sink):
    settings.NOTIFICATION_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    event = _deliver_webhook(settings, http_sink.url_for(TOKEN_PATH))
    assert event.status == NotificationStatus.SENT
    assert http_sink.count(TOKEN_PATH) == 1


def test_an_allowed_network_opens_only_itself(settings, http_sink):
    settings.NOTIFICATION_ALLOWED_NETWORKS = ["10.0.0.0/8", "::1/128"]
    event = _deliver_webhook(settings, http_sink.url_for(TOKEN_PATH))
    assert event.status == NotificationStatus.DEAD and "loopback" in event.last_error


def test_the_request_goes_to_the_checked_address_with_the_name_in_its_host_header(settings, names, http_sink):
    """One resolution per attempt: a second, different DNS answer (rebinding) has no chance to be used."""
    settings.NOTIFICATION_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    port = http_sink.url.rsplit(":", 1)[1]
    names["receiver.example.test"] = ["127.0.0.1"]
    event = _deliver_webhook(settings, f"http://receiver.example.test:{port}{TOKEN_PATH}")
    assert event.status == NotificationStatus.SENT
    assert names.lookups == ["receiver.example.test"]
    assert http_sink.received(TOKEN_PATH)[0].headers["Host"] == f"receiver.example.test:{port}"


def test_a_redirect_is_not_followed_and_the_row_is_dead_lettered(settings, http_sink):
    settings.NOTIFICATION_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    http_sink.respond(302, path=TOKEN_PATH, headers={"Location": http_sink.url_for("/elsewhere")})
    event = _deliver_webhook(settings, http_sink.url_for(TOKEN_PATH))
    assert (event.status, event.last_error) == (
        NotificationStatus.DEAD,
        'HTTP 302 from 127.0.0.1: {"ok":true}',
    )
    assert http_sink.count(TOKEN_PATH) == 1
    assert http_sink.count("/elsewhere") == 0


def test_an_unresolvable_name_is_a_transient_failure(settings, monkeypatch):
    def no_dns(*args, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    event = _deliver_webhook(settings, f"https://hooks.example.test{TOKEN_PATH}")
    assert (event.status, event.last_error) == (
        NotificationStatus.FAILED,
        "could not resolve hooks.example.test",
    )


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "203.0.114.1", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e"],
)
def test_a_public_address_passes(address):
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "address",
    ["::ffff:10.0.0.1", "2002:7f00:1::", "2001:0:4136:e378:8000:63bf:80ff:fffe", "fe80::1", "ff02::1", "::"],
)
def test_an_inner_address_hidden_in_ipv6_is_refused(address):
    assert refusal(ipaddress.ip_address(address)) is not None
