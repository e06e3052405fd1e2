"""Agent file discovery: the agent's scanner on a temporary directory, the report through the real API with an
agent credential, and `certctl-agent --discover` / `--once` against a live server. No private key leaves the host."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from audit.models import AuditEvent
from certctl_agent import discovery
from certctl_agent.config import ConfigError, load
from certificates.discovery.models import DiscoveredCertificate, DiscoveryEndpoint, DiscoverySighting
from tests import REPO_ROOT
from tests.agent_helpers import agent_client, make_agent
from tests.discovery_support import Pki, issue

BOOTSTRAP = "discovery-bootstrap-token"


def host_tree(root: Path) -> dict:
    """A directory as a host has it: certificates with and without their keys, DER, a trust bundle, junk."""
    pki = Pki()
    site, other, combined, der = (
        pki.leaf(f"{name}.example") for name in ("site", "other", "combined", "der")
    )
    tls = root / "tls"
    (tls / "sub").mkdir(parents=True)
    (tls / "site.crt").write_bytes(site.pem + pki.intermediate.pem)
    (tls / "site.key").write_bytes(site.key_pem)
    (tls / "other.pem").write_bytes(other.pem)
    (tls / "other.key").write_bytes(issue("stranger.example").key_pem)  # a key, but not other's
    (tls / "sub" / "haproxy.pem").write_bytes(combined.pem + pki.intermediate.pem + combined.key_pem)
    (tls / "sub" / "server.der").write_bytes(der.der)
    (tls / "sub" / "cas.pem").write_bytes(pki.root.pem + pki.intermediate.pem)
    (tls / "dhparams.pem").write_bytes(b"-----BEGIN DH PARAMETERS-----\nMAA=\n-----END DH PARAMETERS-----\n")
    (tls / "garbage.crt").write_bytes(b"this is not a certificate\n")
    (tls / "huge.pem").write_bytes(b"#" * (discovery.MAX_FILE_BYTES + 1))
    (tls / "notes.txt").write_text("not looked at")
    (tls / "sub" / "loop").symlink_to(tls, target_is_directory=True)  # a symlink loop
    (tls / "a.crt").symlink_to(tls / "b.crt")  # a file symlink loop: cannot be read
    (tls / "b.crt").symlink_to(tls / "a.crt")
    return {"dir": tls, "pki": pki, "site": site, "other": other, "combined": combined, "der": der}


def by_path(result: discovery.ScanResult) -> dict[str, dict]:
    return {item["path"]: item for item in result.certificates}


def test_the_scanner_finds_certificates_and_matching_keys_and_reports_the_rest_as_errors(tmp_path):
    tree = host_tree(tmp_path)
    tls = tree["dir"]
    result = discovery.scan([tls, tmp_path / "missing"])
    found = by_path(result)
    assert set(found) == {
        str(tls / "site.crt"),
        str(tls / "other.pem"),
        str(tls / "sub" / "haproxy.pem"),
        str(tls / "sub" / "server.der"),
        f"{tls / 'sub' / 'cas.pem'}#1",
        f"{tls / 'sub' / 'cas.pem'}#2",
    }
    site = found[str(tls / "site.crt")]
    assert site["key_present"] is True and site["pem"] == tree["site"].pem.decode()
    assert site["chain"] == [tree["pki"].intermediate.pem.decode()]
    assert found[str(tls / "other.pem")]["key_present"] is False
    assert found[str(tls / "sub" / "haproxy.pem")]["key_present"] is True  # key in the same file
    assert found[str(tls / "sub" / "server.der")]["pem"] == tree["der"].pem.decode()
    errors = {item["path"]: item["error"] for item in result.errors}
    assert errors[str(tls / "garbage.crt")] == "not a certificate (neither PEM nor DER)"
    assert errors[str(tls / "huge.pem")].startswith("skipped:")
    assert errors[str(tls / "a.crt")].startswith("cannot read")
    assert str(tmp_path / "missing") in errors and result.scanned_dirs == [str(tls)]
    bodies = list(discovery.batches(result))
    assert "PRIVATE KEY" not in json.dumps(bodies)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its mode")
def test_an_unreadable_file_is_an_error_not_a_crash(tmp_path):
    (tmp_path / "secret.crt").write_bytes(issue("x.example").pem)
    (tmp_path / "secret.crt").chmod(0)
    result = discovery.scan([tmp_path])
    assert result.certificates == [] and result.errors[0]["error"].startswith("cannot read")


def test_large_scans_are_sent_in_bodies_under_the_size_limit(tmp_path):
    pem = issue("many.example").pem.decode()
    result = discovery.ScanResult(
        certificates=[
            {"path": f"/etc/tls/{n}.pem", "pem": pem, "chain": [], "key_present": False} for n in range(2000)
        ],
        scanned_dirs=["/etc/tls"],
    )
    bodies = list(discovery.batches(result))
    assert len(bodies) > 1 and sum(len(body["certificates"]) for body in bodies) == 2000
    assert all(len(json.dumps(body)) <= discovery.REPORT_BYTES for body in bodies)


def test_discovery_configuration_from_file_and_environment(tmp_path):
    config = load(
        None, {"CERTCTL_DISCOVERY_DIRS": "/etc/nginx/tls, /etc/haproxy", "CERTCTL_DISCOVERY_INTERVAL": "6h"}
    )
    assert [str(p) for p in config.discovery_dirs] == ["/etc/nginx/tls", "/etc/haproxy"]
    assert config.discovery_interval == 21600.0
    assert load(None, {}).discovery_interval == 21600.0 and load(None, {}).discovery_dirs == []
    path = tmp_path / "agent.toml"
    path.write_text('discovery_dirs = ["/srv/certs"]\ndiscovery_interval = 600\n')
    assert load(path, {}).discovery_interval == 600.0
    with pytest.raises(ConfigError, match="discovery_dirs must be absolute"):
        load(None, {"CERTCTL_DISCOVERY_DIRS": "relative/dir"})
    with pytest.raises(ConfigError, match="discovery_dirs must be a list of strings"):
        path.write_text('discovery_dirs = "/srv/certs"\n')
        load(path, {})
    path.write_text('server_url = "https://certctl.example"\n')
    nothing = run_agent("--discover", "--dry-run", "-c", str(path))
    assert nothing.returncode == 2 and "--discover needs discovery_dirs" in nothing.stderr


@pytest.mark.django_db
def test_the_report_is_recorded_per_file_with_host_path_and_key_present(api_client, tmp_path):
    agent, credential = make_agent(hostname="web-01.internal")
    client = agent_client(api_client, credential)
    tree = host_tree(tmp_path)
    result = discovery.scan([tree["dir"]])
    body = next(discovery.batches(result))
    body["certificates"] += [
        {
            "path": "/etc/tls/broken.pem",
            "pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        },
        {"pem": tree["site"].pem.decode(), "key_present": True},
        "not an object",
    ]
    answer = client.post(f"/api/v1/agents/{agent.id}/discoveries", body, format="json")
    assert answer.status_code == 202, answer.json()
    reply = answer.json()
    assert reply["accepted"] == 6 and reply["new"] == 6
    assert [(item["index"], item["path"]) for item in reply["rejected"]] == [
        (6, "/etc/tls/broken.pem"),
        (7, ""),
        (8, ""),
    ]
    site_path = str(tree["dir"] / "site.crt")
    endpoint = DiscoveryEndpoint.objects.get(key=f"agent|{agent.id}|{site_path}")
    assert endpoint.hostname == "web-01.internal" and endpoint.kind == "agent" and endpoint.path == site_path
    site = DiscoveredCertificate.objects.get(common_name="site.example")
    assert site.has_private_key and site.encrypted_private_key == ""  # the fact only, never the key
    assert site.chain_pem == tree["pki"].intermediate.pem.decode()
    assert DiscoverySighting.objects.get(certificate=site).key_present is True
    other = DiscoveredCertificate.objects.get(common_name="other.example")
    assert not other.has_private_key and DiscoverySighting.objects.get(certificate=other).key_present is False
    audit = AuditEvent.objects.get(action="agent_discovery_reported")
    assert audit.details["accepted"] == 6 and audit.details["scan_errors"] == len(result.errors)


@pytest.mark.django_db
def test_a_replaced_file_flags_its_endpoint_and_a_vanished_one_keeps_its_sighting(api_client):
    agent, credential = make_agent()
    client = agent_client(api_client, credential)
    old, new, gone = issue("svc.example"), issue("svc.example"), issue("gone.example")
    url = f"/api/v1/agents/{agent.id}/discoveries"
    first = [
        {"path": "/etc/tls/svc.pem", "pem": old.pem.decode(), "key_present": False},
        {"path": "/etc/tls/gone.pem", "der_base64": base64.b64encode(gone.der).decode()},
    ]
    assert client.post(url, {"certificates": first}, format="json").json()["new"] == 2
    second = [{"path": "/etc/tls/svc.pem", "pem": new.pem.decode(), "key_present": False}]
    assert client.post(url, {"certificates": second}, format="json").status_code == 202
    endpoint = DiscoveryEndpoint.objects.get(key=f"agent|{agent.id}|/etc/tls/svc.pem")
    assert endpoint.changed_at is not None
    assert endpoint.previous_certificate.fingerprint_sha256 != endpoint.current_certificate.fingerprint_sha256
    assert DiscoverySighting.objects.filter(certificate__common_name="gone.example").count() == 1


@pytest.mark.django_db
def test_the_report_endpoint_checks_who_calls_and_what_comes(api_client, settings, admin_key):
    agent, credential = make_agent()
    other, _ = make_agent()
    pem = issue("a.example").pem.decode()
    body = {"certificates": [{"path": "/a.pem", "pem": pem}, {"path": "/b.pem", "pem": pem}]}
    client = agent_client(api_client, credential)
    assert client.post(f"/api/v1/agents/{other.id}/discoveries", body, format="json").status_code == 404
    malformed = client.post(f"/api/v1/agents/{agent.id}/discoveries", {"certificates": "nope"}, format="json")
    assert malformed.status_code == 400 and malformed.json()["error"] == "validation_error"
    settings.DISCOVERY_MAX_REPORT_ITEMS = 1
    too_many = client.post(f"/api/v1/agents/{agent.id}/discoveries", body, format="json")
    assert too_many.status_code == 400 and too_many.json()["error"] == "too_many_items"
    assert not DiscoveredCertificate.objects.exists()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {admin_key}")
    assert api_client.post(f"/api/v1/agents/{agent.id}/discoveries", body, format="json").status_code == 401


def run_agent(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "certctl_agent", *args],
        cwd=REPO_ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def agent_config(live_server, settings, tmp_path) -> dict:
    settings.AGENT_BOOTSTRAP_TOKEN = BOOTSTRAP
    tree = host_tree(tmp_path / "host")
    config = tmp_path / "agent.toml"
    config.write_text(
        "\n".join(
            [
                f'server_url = "{live_server.url}"',
                f'bootstrap_token = "{BOOTSTRAP}"',
                'name = "files-01"',
                f'state_dir = "{tmp_path / "state"}"',
                f"discovery_dirs = [{json.dumps(str(tree['dir']))}]",
            ]
        )
    )
    return {"config": config, "tree": tree}


@pytest.mark.django_db(transaction=True)
def test_agent_discover_one_shot_and_the_run_loop_interval(agent_config):
    dry = run_agent("--discover", "--dry-run", "-c", str(agent_config["config"]))
    assert dry.returncode == 0, dry.stderr
    printed = json.loads(dry.stdout)
    assert len(printed[0]["certificates"]) == 6 and "PRIVATE KEY" not in dry.stdout
    assert not DiscoveredCertificate.objects.exists()  # a dry run sends nothing

    once = run_agent("--once", "-c", str(agent_config["config"]))  # registers, and discovery is due
    assert once.returncode == 0, once.stderr
    assert DiscoveredCertificate.objects.filter(common_name="site.example", has_private_key=True).exists()
    assert DiscoveryEndpoint.objects.filter(kind="agent").count() == 6
    assert "discovery: 6 certificate file(s)" in once.stderr

    again = run_agent("--once", "-c", str(agent_config["config"]))  # within discovery_interval: no scan
    assert again.returncode == 0 and "discovery:" not in again.stderr

    (agent_config["tree"]["dir"] / "fresh.crt").write_bytes(issue("fresh.example").pem)
    forced = run_agent("--discover", "-c", str(agent_config["config"]))
    assert forced.returncode == 0, forced.stderr
    assert DiscoveredCertificate.objects.filter(common_name="fresh.example").exists()
    everything = json.dumps(list(AuditEvent.objects.values("details")), default=str)
    assert "PRIVATE KEY" not in everything
    assert not any(
        k.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
        .split("\n")[1]
        in everything
        for k in (agent_config["tree"]["site"].key, agent_config["tree"]["combined"].key)
    )
