"""HTTP-01 answered by the agent on the target host (issuer `challenge: http-01-agent`), against the real pebble:
the real certctl-agent (a subprocess) publishes into a webroot served on the port pebble validates, or serves the
answer on that port itself."""

from __future__ import annotations

import functools
import json
import threading
from datetime import timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.utils import timezone

from certctl_agent.challenges import ChallengePublisher
from certificates.agents.services.challenges import mark_published, open_challenges
from certificates.enums import JobStatus
from certificates.inventory.models import Agent
from certificates.issuance.models import AcmeHttpChallenge, AcmeOrder, Job
from certificates.issuance.services.issuance import IssuerFailed, issue_from_csr
from certificates.issuance.services.job_processor import retry_failed
from tests.acme_support import NAMES, acme_profile, make_acme_issuer
from tests.agent_helpers import agent_client, make_agent
from tests.certificates.agents.test_e2e import BOOTSTRAP, run_agent
from tests.factories import JobFactory, TargetFactory
from tests.issuance_helpers import issuable_certificate, make_csr, split_chain

pytestmark = pytest.mark.django_db(transaction=True)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:
        return None


@pytest.fixture
def webroot_on_http01_port(free_http01_port, tmp_path) -> Path:
    """A plain static file server for the webroot on the port pebble fetches HTTP-01 from (the host's NGINX)."""
    webroot = tmp_path / "sites" / "www"
    webroot.mkdir(parents=True)
    server = ThreadingHTTPServer(
        ("127.0.0.1", free_http01_port), functools.partial(_Quiet, directory=str(webroot))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield webroot
    server.shutdown()
    server.server_close()
    thread.join()


def _agent_config(live_server, settings, tmp_path: Path) -> Path:
    settings.AGENT_BOOTSTRAP_TOKEN = BOOTSTRAP
    sites = tmp_path / "sites"
    sites.mkdir(exist_ok=True)
    config = tmp_path / "agent.toml"
    config.write_text(
        "\n".join(
            [
                f'server_url = "{live_server.url}"',
                f'bootstrap_token = "{BOOTSTRAP}"',
                'name = "web-acme"',
                f'state_dir = "{tmp_path / "state"}"',
                f"allowed_dirs = [{json.dumps(str(sites))}]",
                "request_timeout = 90",
            ]
        )
    )
    assert run_agent(config).returncode == 0
    return config


def _certificate_on(agent: Agent, issuer, sites: Path, **acme):
    target = TargetFactory(
        agent=agent,
        type="NGINX",
        config={"cert_path": str(sites / "site.crt"), "key_path": str(sites / "site.key"), **acme},
    )
    cert = issuable_certificate(issuer, profile=acme_profile(), common_name=NAMES[0], sans=NAMES[1:])
    cert.targets.add(target)
    return cert, JobFactory(certificate=cert, type="Issuance", status=JobStatus.AWAITING_CSR)


def _assert_issued_by_pebble(pebble, cert, job) -> None:
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED, job.last_error
    chain = split_chain(cert.versions.get().pem_chain)
    chain[0].verify_directly_issued_by(chain[1])
    chain[-1].verify_directly_issued_by(pebble.roots()[0])
    assert AcmeOrder.objects.get(issuer=cert.issuer).status == "completed"
    assert not AcmeHttpChallenge.objects.exists()


def test_the_agent_writes_the_answers_into_its_webroot_and_removes_them(
    pebble,
    webroot_on_http01_port,
    live_server,
    settings,
    tmp_path,
):
    config = _agent_config(live_server, settings, tmp_path)
    agent = Agent.objects.get(name="web-acme")
    issuer = make_acme_issuer(pebble, challenge="http-01-agent", agent_publish_timeout_seconds=30)
    cert, job = _certificate_on(agent, issuer, tmp_path / "sites", acme_webroot=str(webroot_on_http01_port))

    result = run_agent(config)

    assert result.returncode == 0, result.stderr
    _assert_issued_by_pebble(pebble, cert, job)
    assert (tmp_path / "sites" / "site.crt").read_text() == cert.versions.get().pem_chain
    answers = webroot_on_http01_port / ".well-known" / "acme-challenge"
    assert (
        len(list(answers.iterdir())) == 2
    )  # one per name, still there: the agent removes them at its next poll
    assert "key_authorization" not in result.stderr and not any(
        p.name in result.stderr for p in answers.iterdir()
    )

    assert run_agent(config).returncode == 0
    assert list(answers.iterdir()) == []


def test_the_agent_serves_the_answers_on_its_own_port(
    pebble,
    free_http01_port,
    live_server,
    settings,
    tmp_path,
):
    config = _agent_config(live_server, settings, tmp_path)
    agent = Agent.objects.get(name="web-acme")
    issuer = make_acme_issuer(pebble, challenge="http-01-agent", agent_publish_timeout_seconds=30)
    cert, job = _certificate_on(agent, issuer, tmp_path / "sites", acme_http_port=free_http01_port)

    result = run_agent(config)

    assert result.returncode == 0, result.stderr
    _assert_issued_by_pebble(pebble, cert, job)
    assert json.loads((tmp_path / "state" / "acme-challenges.json").read_text())  # noted for removal
    assert run_agent(config).returncode == 0
    assert json.loads((tmp_path / "state" / "acme-challenges.json").read_text()) == {}


def test_an_agent_that_never_publishes_fails_the_attempt_transiently_and_the_order_resumes(
    pebble,
    webroot_on_http01_port,
    tmp_path,
):
    agent, _credential = make_agent()
    issuer = make_acme_issuer(pebble, challenge="http-01-agent", agent_publish_timeout_seconds=1)
    cert, job = _certificate_on(agent, issuer, tmp_path / "sites", acme_webroot=str(webroot_on_http01_port))
    csr_pem, _key = make_csr(NAMES)

    with pytest.raises(
        IssuerFailed, match=r"the agent did not publish the HTTP-01 answer for .* within 1 sec"
    ):
        issue_from_csr(cert, csr_pem, actor="alice", job=job)

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.attempts < job.max_attempts
    assert "order resumes on retry" in job.last_error
    order = AcmeOrder.objects.get(issuer=issuer)
    assert order.status == "pending"
    assert AcmeHttpChallenge.objects.filter(order=order, target__agent=agent, published_at=None).count() == 2

    # The agent comes back: the agent's own publisher writes what the server lists, and reports it.
    items = [vars(item) for item in open_challenges(agent)]
    to_report, failed = ChallengePublisher(tmp_path, (tmp_path / "sites",)).sync(items)
    assert failed == {} and len(to_report) == 2
    for token in to_report:
        mark_published(agent, token)
    retry_failed(now=timezone.now() + timedelta(days=1))
    version = issue_from_csr(cert, csr_pem, actor="alice", job=Job.objects.get(pk=job.pk))

    assert AcmeOrder.objects.get(issuer=issuer).order_url == order.order_url  # the same order, resumed
    assert split_chain(version.pem_chain)[-1].verify_directly_issued_by(pebble.roots()[0]) is None


def test_an_agent_cannot_see_or_publish_another_agents_challenges(api_client, pebble, tmp_path):
    owner, _ = make_agent()
    other, other_credential = make_agent()
    issuer = make_acme_issuer(pebble, challenge="http-01-agent")
    cert, _job = _certificate_on(owner, issuer, tmp_path, acme_webroot=str(tmp_path))
    order = AcmeOrder.objects.create(
        issuer=issuer, csr_fingerprint="0" * 64, order_url="https://ca/o/1", status="pending"
    )
    AcmeHttpChallenge.objects.create(
        token="tok-1", key_authorization="tok-1.thumb", order=order, target=cert.targets.get()
    )
    client = agent_client(api_client, other_credential)

    assert client.get(f"/api/v1/agents/{other.pk}/challenges").json() == {"challenges": [], "count": 0}
    assert client.get(f"/api/v1/agents/{other.pk}/work").json()["challenges"] == []
    refused = client.post(f"/api/v1/agents/{other.pk}/challenges/tok-1/published")
    assert refused.status_code == 404
    assert client.get(f"/api/v1/agents/{owner.pk}/challenges").status_code == 404
    assert AcmeHttpChallenge.objects.get(pk="tok-1").published_at is None
