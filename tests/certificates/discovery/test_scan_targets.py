"""Scan targets: what an operator may write, what is refused with a clear message, and how a run is cut up."""

from __future__ import annotations

import pytest

from certificates.discovery.services.targets import (
    Probe,
    TargetError,
    chunk_specs,
    expand,
    parse_targets,
    spec_size,
)


def test_each_target_form_becomes_probes_with_the_right_sni():
    parsed = parse_targets(
        ["www.example.com:8443", "api.example.com", "10.0.0.5:443", "sni.example.com@10.0.0.6", "[2001:db8::1]:8443",
         "2001:db8::2", "Mixed.Example.COM."],
        [443, 4443],
    )  # fmt: skip
    assert parsed.probes == [
        Probe("www.example.com", 8443, "www.example.com"),
        Probe("api.example.com", 443, "api.example.com"),
        Probe("api.example.com", 4443, "api.example.com"),
        Probe("10.0.0.5", 443),
        Probe("10.0.0.6", 443, "sni.example.com"),
        Probe("10.0.0.6", 4443, "sni.example.com"),
        Probe("2001:db8::1", 8443),
        Probe("2001:db8::2", 443),
        Probe("2001:db8::2", 4443),
        Probe("mixed.example.com", 443, "mixed.example.com"),
        Probe("mixed.example.com", 4443, "mixed.example.com"),
    ]
    assert parsed.total == 11


def test_ports_default_to_443_and_duplicates_are_probed_once():
    parsed = parse_targets(["a.example", "a.example:443", "10.1.2.3"])
    assert parsed.probes == [Probe("a.example", 443, "a.example"), Probe("10.1.2.3", 443)]


def test_an_ipv4_range_up_to_a_slash_16_is_one_range_not_a_list():
    parsed = parse_targets(["10.20.0.0/16", "192.168.1.7/30"], [443, 8443])
    assert parsed.probes == []
    assert [(r.count, r.ports) for r in parsed.ranges] == [(65536, (443, 8443)), (4, (443, 8443))]
    assert parsed.total == 65540 * 2


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("10.0.0.0/8", "a /8 is larger than the largest range scanned (/16"),
        ("10.0.0.0/15", "a /15 is larger"),
        ("2001:db8::/64", "IPv6 ranges are not scanned"),
        ("not a host", "neither an IP address nor a host name"),
        ("host.example:0", "is not a port number"),
        ("host.example:70000", "is not a port number"),
        ("sni.example@host.example:443", "after the @ comes an IP address"),
        ("-bad.example@10.0.0.1", "is not a host name to send as SNI"),
        ("10.0.0.0/33", "not a CIDR range"),
        ("[2001:db8::1]x", "write an IPv6 address with a port as"),
        ("", "a target is a non-empty string"),
    ],
)
def test_bad_targets_are_refused_with_a_message_naming_them(entry, message):
    with pytest.raises(TargetError) as refused:
        parse_targets([entry])
    assert message in " ".join(refused.value.fields["targets"])


def test_every_bad_entry_is_reported_at_once():
    with pytest.raises(TargetError) as refused:
        parse_targets(["10.0.0.0/8", "ok.example", "bad host"])
    assert len(refused.value.fields["targets"]) == 2


@pytest.mark.parametrize("ports", [[0], [65536], ["443"], [True], list(range(1, 34))])
def test_bad_ports_are_refused(ports):
    with pytest.raises(TargetError) as refused:
        parse_targets(["a.example"], ports)
    assert "ports" in refused.value.fields


def test_no_targets_is_refused():
    with pytest.raises(TargetError) as refused:
        parse_targets([])
    assert "targets" in refused.value.fields


def test_chunks_hold_ranges_and_short_lists_and_expand_back_to_every_probe():
    parsed = parse_targets(["127.1.0.0/16", "a.example:443", "b.example@10.0.0.1:8443"], [443, 8443])
    specs = chunk_specs(parsed, 512)
    assert specs[0] == {"targets": ["a.example:443", "b.example@10.0.0.1:8443"]}
    assert specs[1] == {"first": int.from_bytes(bytes([127, 1, 0, 0])), "count": 256, "version": 4,
                        "ports": [443, 8443]}  # fmt: skip
    assert len(specs) == 1 + 65536 // 256
    assert sum(spec_size(spec) for spec in specs) == parsed.total
    assert list(expand(specs[0])) == [
        Probe("a.example", 443, "a.example"),
        Probe("10.0.0.1", 8443, "b.example"),
    ]
    probes = list(expand(specs[-1]))
    assert probes[-1] == Probe("127.1.255.255", 8443) and len(probes) == 512
