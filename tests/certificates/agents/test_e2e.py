"""The real certctl-agent (a subprocess, --once) against the real server (live_server) with a temp target dir."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import connection

from audit.models import AuditEvent
from certctl_agent.keys import key_pem, load_key, spki_fingerprint
from certificates.inventory.models import Agent
from certificates.issuance.models import Job
from certificates.issuance.services.ca_setup import init_ca
from notifications.models import NotificationEvent
from tests import REPO_ROOT
from tests.agent_helpers import add_version, make_ca, sign_leaf
from tests.factories import CertificateFactory, JobFactory, TargetFactory
from tests.tls_proxy import tls_proxy, write_server_certificate

ROOT = REPO_ROOT
BOOTSTRAP = "e2e-bootstrap-token"
FAIL = f"{sys.executable} -c \"import sys; sys.exit('emerg: cannot load certificate')\""

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def agent_env(live_server, settings, tmp_path):
    settings.AGENT_BOOTSTRAP_TOKEN = BOOTSTRAP
    state, sites = tmp_path / "state", tmp_path / "sites"
    sites.mkdir()
    config = tmp_path / "agent.toml"
    config.write_text(
        "\n".join(
            [
                f'server_url = "{live_server.url}"',
                f'bootstrap_token = "{BOOTSTRAP}"',
                'name = "web-e2e"',
                f'state_dir = "{state}"',
                f"allowed_dirs = [{json.dumps(str(sites))}]",
                f"allowed_commands = [{json.dumps(FAIL)}]",
            ]
        )
    )
    return {"config": config, "state": state, "sites": sites}


def run_agent(config: Path, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "certctl_agent", "--once", "-c", str(config)],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def registered_agent(agent_env) -> Agent:
    result = run_agent(agent_env["config"])
    assert result.returncode == 0, result.stderr
    return Agent.objects.get(name="web-e2e")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def issued_on_agent(agent_env, certificate):
    """A version whose key sits in the agent's state dir, as if the agent had made the CSR."""
    ca = make_ca()
    key = ec.generate_private_key(ec.SECP256R1())
    key_dir = agent_env["state"] / "keys" / certificate.id
    key_dir.mkdir(mode=0o700)
    key_file = key_dir / f"{spki_fingerprint(key.public_key())}.key"
    key_file.write_bytes(key_pem(key))
    key_file.chmod(0o600)
    return add_version(certificate, sign_leaf(ca, key.public_key(), certificate.common_name), ca[0])


def nginx_target(agent, sites: Path, **extra):
    config = {"cert_path": str(sites / "site.crt"), "key_path": str(sites / "site.key"), **extra}
    return TargetFactory(agent=agent, type="NGINX", config=config)


def test_registration_creates_the_state_dir_and_a_credential(agent_env):
    agent = registered_agent(agent_env)
    state = agent_env["state"]
    assert mode(state) == 0o700 and mode(state / "agent.json") == 0o600
    saved = json.loads((state / "agent.json").read_text())
    assert saved["agent_id"] == agent.id and agent.status == "Online"
    assert saved["credential"] not in agent.api_key_hash


def test_bad_bootstrap_token_is_refused(agent_env):
    result = run_agent(agent_env["config"], CERTCTL_AGENT_BOOTSTRAP_TOKEN="wrong")
    assert result.returncode == 2
    assert "401" in result.stderr and "wrong" not in result.stderr
    assert not Agent.objects.exists()


def test_deployment_job_writes_files_and_completes(agent_env):
    agent = registered_agent(agent_env)
    target = nginx_target(agent, agent_env["sites"])
    certificate = CertificateFactory()
    certificate.targets.add(target)
    version = issued_on_agent(agent_env, certificate)
    job = JobFactory(type="Deployment", status="Pending", certificate=certificate, target=target)

    result = run_agent(agent_env["config"])
    assert result.returncode == 0, result.stderr
    job.refresh_from_db()
    assert job.status == "Completed", (job.last_error, result.stderr)
    sites = agent_env["sites"]
    assert (sites / "site.crt").read_text() == version.pem_chain
    assert "PRIVATE KEY" in (sites / "site.key").read_text()
    assert (mode(sites / "site.crt"), mode(sites / "site.key")) == (0o644, 0o600)
    certificate.refresh_from_db()
    assert certificate.last_deployment_at is not None
    assert NotificationEvent.objects.filter(type="DeploymentSuccess", certificate=certificate).count() == 1
    assert f"job={job.id}" in result.stderr and "PRIVATE KEY" not in result.stderr

    # The same content again: skipped, files untouched, still reported Completed.
    inode = (sites / "site.crt").stat().st_ino
    again = JobFactory(type="Deployment", status="Pending", certificate=certificate, target=target)
    assert run_agent(agent_env["config"]).returncode == 0
    again.refresh_from_db()
    assert again.status == "Completed"
    assert (sites / "site.crt").stat().st_ino == inode
    event = AuditEvent.objects.get(action="deployment_job_completed", resource_id=again.id)
    assert event.actor_type == "Agent" and "skipped" in event.details["detail"]


def test_failed_validation_restores_previous_files_and_fails_the_job(agent_env):
    agent = registered_agent(agent_env)
    sites = agent_env["sites"]
    (sites / "site.crt").write_text("previous cert")
    (sites / "site.key").write_text("previous key")
    target = nginx_target(agent, sites, validate_command=FAIL)
    certificate = CertificateFactory()
    certificate.targets.add(target)
    issued_on_agent(agent_env, certificate)
    job = JobFactory(type="Deployment", status="Pending", certificate=certificate, target=target)

    assert run_agent(agent_env["config"]).returncode == 0
    job.refresh_from_db()
    assert job.status == "Failed"
    assert "cannot load certificate" in job.last_error and "previous files restored" in job.last_error
    assert (sites / "site.crt").read_text() == "previous cert"
    assert (sites / "site.key").read_text() == "previous key"
    failure = NotificationEvent.objects.get(type="DeploymentFailure", certificate=certificate)
    assert "cannot load certificate" in failure.message


def test_retired_agent_stops(agent_env, admin_client_with_key):
    agent = registered_agent(agent_env)
    assert admin_client_with_key.delete(f"/api/v1/agents/{agent.id}").status_code == 200
    result = run_agent(agent_env["config"])
    assert result.returncode == 3 and "retired" in result.stderr


def private_keys_in_database() -> list[str]:
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT count(*) FROM "{table}" t WHERE t::text LIKE %s', ["%PRIVATE KEY%"])  # noqa: S608
            if cursor.fetchone()[0]:
                found.append(table)
    return found


def test_full_flow_key_stays_on_the_agent_and_the_certificate_is_deployed(agent_env):
    agent = registered_agent(agent_env)
    issuer = init_ca("e2e-ca", subject="CN=e2e Test Root,O=certctl tests")
    sites = agent_env["sites"]
    target = TargetFactory(
        agent=agent,
        type="HAProxy",
        config={"pem_path": str(sites / "haproxy" / "site.pem")},
    )
    certificate = CertificateFactory(
        issuer=issuer,
        common_name="shop.example.test",
        sans=["www.shop.example.test"],
        status="Pending",
        expires_at=None,
    )
    certificate.targets.add(target)
    issuance = JobFactory(type="Issuance", status="AwaitingCSR", certificate=certificate)

    result = run_agent(agent_env["config"])
    assert result.returncode == 0, result.stderr

    issuance.refresh_from_db()
    certificate.refresh_from_db()
    assert issuance.status == "Completed", (issuance.last_error, result.stderr)
    assert certificate.status == "Active" and certificate.expires_at is not None
    version = certificate.versions.get()
    deployment = Job.objects.get(type="Deployment", certificate=certificate)
    assert (deployment.status, deployment.agent_id, deployment.target_id) == (
        "Completed",
        agent.id,
        target.id,
    )

    # The key was made on the agent: it sits in the state dir, 0600, and matches the issued certificate.
    leaf = x509.load_pem_x509_certificate(version.pem_chain.encode())
    key_file = agent_env["state"] / "keys" / certificate.id / f"{spki_fingerprint(leaf.public_key())}.key"
    assert mode(key_file) == 0o600 and mode(agent_env["state"] / "keys") == 0o700
    agent_key = load_key(key_file.read_bytes())
    assert isinstance(agent_key, ec.EllipticCurvePrivateKey) and agent_key.curve.name == "secp256r1"
    assert private_keys_in_database() == []
    credential = json.loads((agent_env["state"] / "agent.json").read_text())["credential"]
    assert "PRIVATE KEY" not in result.stderr and credential not in result.stderr
    assert f"job={issuance.id}" in result.stderr and f"job={deployment.id}" in result.stderr

    pem = sites / "haproxy" / "site.pem"
    assert mode(pem) == 0o600
    assert pem.read_bytes() == version.pem_chain.encode() + key_file.read_bytes()
    assert certificate.last_deployment_at is not None
    success = NotificationEvent.objects.get(type="DeploymentSuccess", certificate=certificate)
    assert success.recipient == certificate.owner.email
    assert AuditEvent.objects.filter(action="deployment_job_completed", actor_type="Agent").count() == 1


def test_deployment_without_the_key_on_this_host_fails_and_the_other_jobs_still_run(agent_env):
    agent = registered_agent(agent_env)
    sites = agent_env["sites"]
    foreign_key_target = nginx_target(agent, sites / "a")
    good_target = nginx_target(agent, sites / "b")
    made_elsewhere = CertificateFactory()
    made_elsewhere.targets.add(foreign_key_target)
    ca = make_ca()
    add_version(
        made_elsewhere, sign_leaf(ca, ec.generate_private_key(ec.SECP256R1()).public_key(), "x.test"), ca[0]
    )
    made_here = CertificateFactory()
    made_here.targets.add(good_target)
    issued_on_agent(agent_env, made_here)
    failing = JobFactory(
        type="Deployment", status="Pending", certificate=made_elsewhere, target=foreign_key_target
    )
    working = JobFactory(type="Deployment", status="Pending", certificate=made_here, target=good_target)

    assert run_agent(agent_env["config"]).returncode == 0
    failing.refresh_from_db()
    working.refresh_from_db()
    assert failing.status == "Failed" and "not generated on this host" in failing.last_error
    assert not (sites / "a").exists()
    assert working.status == "Completed"


def test_agent_speaks_https_and_trusts_only_its_ca_bundle(agent_env, live_server, tmp_path):
    ca, cert, key = write_server_certificate(tmp_path)
    upstream = urlsplit(live_server.url)
    with tls_proxy((upstream.hostname, upstream.port), cert, key) as port:
        https = {"CERTCTL_SERVER_URL": f"https://localhost:{port}"}
        untrusted = run_agent(agent_env["config"], **https)
        assert untrusted.returncode == 1 and "SSLError" in untrusted.stderr
        assert not Agent.objects.exists()

        trusted = run_agent(agent_env["config"], **https, CERTCTL_SERVER_CA_BUNDLE=str(ca))
        assert trusted.returncode == 0, trusted.stderr
    assert Agent.objects.get(name="web-e2e").status == "Online"


PROBE = """
import json, sys
from certctl_agent.client import RequestRejected, ServerClient
from certctl_agent.config import load

config, credential, agent_id, job_id, cert_id, other_id = sys.argv[1:]
client = ServerClient(load(config, {}), credential=credential)
answers = []
for call in (
    lambda: client.report(agent_id, job_id, "Completed"),
    lambda: client.certificate(agent_id, cert_id),
    lambda: client.heartbeat(other_id, {}),
    lambda: client.work(agent_id),
):
    try:
        answers.append(call())
    except RequestRejected as exc:
        answers.append([exc.status, exc.error])
print(json.dumps(answers))
"""


def test_the_agents_own_client_gets_404_for_another_agents_job_and_certificate(agent_env):
    agent = registered_agent(agent_env)
    other = Agent.objects.create(name="someone-else", status="Online")
    theirs = CertificateFactory()
    their_target = TargetFactory(agent=other)
    theirs.targets.add(their_target)
    job = JobFactory(type="Deployment", status="Pending", certificate=theirs, target=their_target)
    credential = json.loads((agent_env["state"] / "agent.json").read_text())["credential"]

    args = [str(agent_env["config"]), credential, agent.id, job.id, theirs.id, other.id]
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [[404, "not_found"]] * 3 + [[]]
    job.refresh_from_db()
    assert (job.status, job.agent_id) == ("Pending", None)
