"""DNS-01 against pebble: the exec hook and RFC 2136 (TSIG) providers, the propagation check, wildcards, cleanup."""

from __future__ import annotations

import base64
import os

import dns.tsig
import pytest
from cryptography import x509

from certificates.enums import JobStatus
from certificates.issuance.issuers.acme.dns.exec_hook import ExecHookProvider
from certificates.issuance.issuers.acme.dns.propagation import txt_values
from certificates.issuance.issuers.base import IssuerError, LeafRequest
from certificates.issuance.issuers.registry import backend_for
from certificates.issuance.models import AcmeOrder, Job
from certificates.issuance.services.csr_policy import parse_csr
from certificates.issuance.services.issuer_config import save_issuer
from tests.acme_dns_support import Rfc2136Server, unique_domain, write_hook
from tests.acme_support import acme_profile, make_acme_issuer
from tests.factories import JobFactory
from tests.issuance_helpers import issuable_certificate, make_csr, split_chain

pytestmark = pytest.mark.django_db(transaction=True)

TSIG_NAME = "certctl-acme."
TSIG_SECRET = base64.b64encode(b"certctl test tsig secret, 32 by!").decode()
WRONG_SECRET = base64.b64encode(b"not the secret the server holds!").decode()


def _dns_issuer(pebble, challtestsrv, dns_config, secrets=None, **config):
    issuer = make_acme_issuer(
        pebble,
        name=f"pebble-dns-{dns_config['provider']}",
        challenge="dns-01",
        dns=dns_config,
        **{"propagation_nameservers": [challtestsrv.dns], "propagation_timeout_seconds": 10, **config},
    )
    if secrets:
        save_issuer(issuer, {}, secrets)
    return issuer


def _issue(client, issuer, names):
    cert = issuable_certificate(issuer, profile=acme_profile(), common_name=names[0], sans=names[1:])
    job = JobFactory(certificate=cert, type="Issuance", status=JobStatus.AWAITING_CSR)
    response = client.post(
        f"/api/v1/certificates/{cert.pk}/issue", {"csr_pem": make_csr(names)[0]}, format="json"
    )
    return response, job


def _assert_issued_by_pebble(pebble, response, names):
    assert response.status_code == 201, response.json()
    chain = split_chain(response.json()["pem_chain"])
    sans = chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(sans.get_values_for_type(x509.DNSName)) == sorted(names)
    chain[0].verify_directly_issued_by(chain[1])
    chain[-1].verify_directly_issued_by(pebble.roots()[0])


def _issuer_run(issuer, names):
    csr = parse_csr(make_csr(names)[0])
    return backend_for(issuer).issue(LeafRequest(csr=csr, subject=csr.subject, dns_names=names))


def test_a_wildcard_and_a_plain_name_are_issued_over_dns01_through_the_exec_hook(
    pebble, challtestsrv, client_with_key, tmp_path
):
    hook = write_hook(tmp_path, challtestsrv)
    issuer = _dns_issuer(pebble, challtestsrv, {"provider": "exec", "hook": str(hook.path)})
    domain = unique_domain()
    names = [domain, f"*.{domain}"]

    response, job = _issue(client_with_key, issuer, names)

    _assert_issued_by_pebble(pebble, response, names)
    assert Job.objects.get(pk=job.pk).status == JobStatus.COMPLETED
    calls = hook.calls()
    record = f"_acme-challenge.{domain}"
    presents = [c for c in calls if c["action"] == "present"]
    assert [c["name"] for c in presents] == [record, record]  # one TXT value per authorization
    assert len({c["value"] for c in presents}) == 2
    assert all(c["env_name"] == c["name"] and c["env_value"] == c["value"] for c in calls)
    assert "DATABASE_URL" not in calls[0]["env"]  # the hook gets a minimal environment, not certctl's
    assert [c["action"] for c in calls[2:]] == ["cleanup", "cleanup"]
    assert txt_values(record, challtestsrv.dns) == set()
    order = AcmeOrder.objects.get(issuer=issuer)
    assert order.status == "completed"
    assert not any(a.get("dns_published") for a in order.authorizations)


@pytest.fixture
def rfc2136_server(challtestsrv):
    server = Rfc2136Server(challtestsrv, "certctl-acme.test.", TSIG_NAME, TSIG_SECRET, dns.tsig.HMAC_SHA256)
    server.start()
    yield server
    server.stop()


def _rfc2136_config(server):
    return {
        "provider": "rfc2136",
        "server": f"127.0.0.1:{server.port}",
        "zone": "certctl-acme.test",
        "tsig_name": TSIG_NAME,
        "tsig_algorithm": "hmac-sha256",
    }


def test_dns01_through_rfc2136_signs_updates_with_tsig_and_removes_the_records(
    pebble, challtestsrv, rfc2136_server, client_with_key
):
    issuer = _dns_issuer(pebble, challtestsrv, _rfc2136_config(rfc2136_server), {"tsig_secret": TSIG_SECRET})
    domain = unique_domain()
    names = [f"www.{domain}", f"*.{domain}"]

    response, _job = _issue(client_with_key, issuer, names)

    _assert_issued_by_pebble(pebble, response, names)
    actions = [(action, name) for action, name, _value in rfc2136_server.applied]
    assert sorted(actions) == sorted(
        [
            ("add", f"_acme-challenge.www.{domain}."),
            ("add", f"_acme-challenge.{domain}."),
            ("delete", f"_acme-challenge.www.{domain}."),
            ("delete", f"_acme-challenge.{domain}."),
        ]
    )
    assert actions[:2] == [a for a in actions if a[0] == "add"]  # published first, removed at the end
    assert rfc2136_server.refused == []
    assert txt_values(f"_acme-challenge.{domain}", challtestsrv.dns) == set()


def test_a_wrong_tsig_secret_is_a_clear_permanent_failure_without_the_secret(
    pebble, challtestsrv, rfc2136_server, client_with_key
):
    issuer = _dns_issuer(pebble, challtestsrv, _rfc2136_config(rfc2136_server), {"tsig_secret": WRONG_SECRET})
    domain = unique_domain()

    response, job = _issue(client_with_key, issuer, [domain])

    assert response.status_code == 400
    message = response.json()["message"]
    assert "BADSIG" in message and "tsig_secret does not match" in message
    assert WRONG_SECRET not in message and TSIG_SECRET not in message
    assert Job.objects.get(pk=job.pk).status == JobStatus.FAILED
    assert rfc2136_server.applied == []
    assert rfc2136_server.refused and set(rfc2136_server.refused) == {"BadSignature"}
    with pytest.raises(IssuerError) as raised:
        _issuer_run(issuer, [unique_domain()])
    assert raised.value.permanent is True


def test_the_propagation_check_waits_for_a_record_that_appears_late(pebble, challtestsrv, tmp_path):
    hook = write_hook(tmp_path, challtestsrv, "late")
    issuer = _dns_issuer(pebble, challtestsrv, {"provider": "exec", "hook": str(hook.path)})
    domain = unique_domain()

    # pebble validates as soon as it is told: without the wait it would find no record and refuse the order.
    issued = _issuer_run(issuer, [domain])

    assert domain in issued.certificate.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value.get_values_for_type(x509.DNSName)
    assert [c["action"] for c in hook.calls()] == ["present", "cleanup"]


def test_a_record_that_never_appears_is_a_transient_timeout_and_is_cleaned_up(pebble, challtestsrv, tmp_path):
    hook = write_hook(tmp_path, challtestsrv, "silent")
    issuer = _dns_issuer(
        pebble, challtestsrv, {"provider": "exec", "hook": str(hook.path)}, propagation_timeout_seconds=1
    )
    domain = unique_domain()

    with pytest.raises(IssuerError) as raised:
        _issuer_run(issuer, [domain])

    assert raised.value.permanent is False
    message = str(raised.value)
    assert f"_acme-challenge.{domain} is not visible at {challtestsrv.dns} after 1 seconds" in message
    assert "propagation_timeout_seconds" in message
    assert [c["action"] for c in hook.calls()] == ["present", "cleanup"]
    order = AcmeOrder.objects.get(issuer=issuer)
    assert order.status == "pending"  # not answered: a retry resumes it
    assert not any(a.get("dns_published") for a in order.authorizations)


def test_a_resumed_order_removes_the_records_a_crashed_attempt_published(pebble, challtestsrv, tmp_path):
    hook = write_hook(tmp_path, challtestsrv)
    issuer = _dns_issuer(pebble, challtestsrv, {"provider": "exec", "hook": str(hook.path)})
    domain = unique_domain()
    csr_pem, _key = make_csr([domain])
    csr = parse_csr(csr_pem)
    request = LeafRequest(csr=csr, subject=csr.subject, dns_names=[domain])
    # The first attempt publishes and answers, then its worker is gone before it could clean up.
    run = backend_for(issuer).run(request)
    run.start()
    run.fetch()
    run.answer_challenges()
    del run
    assert txt_values(f"_acme-challenge.{domain}", challtestsrv.dns) != set()

    issued = backend_for(issuer).issue(request)

    assert issued.certificate.public_key() == csr.public_key()
    assert [c["action"] for c in hook.calls()] == ["present", "cleanup"]
    assert txt_values(f"_acme-challenge.{domain}", challtestsrv.dns) == set()
    assert AcmeOrder.objects.get(issuer=issuer).status == "completed"


def test_a_failing_hook_fails_with_its_output_trimmed_and_its_secrets_blanked(
    pebble, challtestsrv, client_with_key, tmp_path
):
    hook = write_hook(tmp_path, challtestsrv, "fail")
    token = "dns-api-token-4f9c2e"
    issuer = _dns_issuer(
        pebble,
        challtestsrv,
        {"provider": "exec", "hook": str(hook.path)},
        {"dns_hook_env": {"DNS_API_TOKEN": token}},
    )

    response, job = _issue(client_with_key, issuer, [unique_domain()])

    assert response.status_code == 400
    message = response.json()["message"]
    assert f"the DNS hook {hook.path} present _acme-challenge." in message
    assert "exited with status 1" in message
    assert "DNS API said: 403 forbidden for token [redacted]" in message
    assert token not in message
    assert len(message) < 1000  # 2,000 characters of output, trimmed to the end
    assert Job.objects.get(pk=job.pk).status == JobStatus.FAILED
    assert [c["action"] for c in hook.calls()] == ["present", "cleanup"]  # cleaned up after the failure too


def test_a_hook_past_its_timeout_is_stopped_and_the_failure_is_transient(challtestsrv, tmp_path):
    hook = write_hook(tmp_path, challtestsrv, "sleep")
    provider = ExecHookProvider({"hook": str(hook.path), "timeout_seconds": 1}, {})

    with pytest.raises(IssuerError) as raised:
        provider.present("_acme-challenge.x.certctl-acme.test", "v")

    assert raised.value.permanent is False
    assert "did not finish within 1 seconds and was stopped" in str(raised.value)


def test_a_missing_hook_is_a_clear_permanent_failure(tmp_path):
    provider = ExecHookProvider({"hook": str(tmp_path / "nowhere")}, {})

    with pytest.raises(IssuerError) as raised:
        provider.present("_acme-challenge.x.certctl-acme.test", "v")

    assert raised.value.permanent is True
    assert "does not exist on this worker" in str(raised.value)


def test_a_wildcard_on_an_http01_issuer_says_to_set_dns01(pebble, client_with_key):
    issuer = make_acme_issuer(pebble)

    response, job = _issue(client_with_key, issuer, ["*.certctl-acme.test"])

    assert response.status_code == 400
    assert (
        "wildcard names need DNS-01: set challenge to dns-01 and a DNS provider" in response.json()["message"]
    )
    assert Job.objects.get(pk=job.pk).status == JobStatus.FAILED
    assert not AcmeOrder.objects.exists()


BASE = {"directory_url": "https://acme.example/dir", "agree_tos": True, "challenge": "dns-01"}
RFC2136 = {"provider": "rfc2136", "server": "ns1.example.com", "zone": "example.com", "tsig_name": "certctl"}


@pytest.mark.parametrize(
    "config, field",
    [
        ({**BASE, "challenge": "tls-alpn-01"}, "challenge"),
        (BASE, "dns"),
        ({**BASE, "dns": ["rfc2136"]}, "dns"),
        ({**BASE, "dns": {"provider": "route53"}}, "dns.provider"),
        ({**BASE, "dns": {**RFC2136, "server": "ns1.example.com:99999"}}, "dns.server"),
        ({**BASE, "dns": {**RFC2136, "zone": None}}, "dns.zone"),
        ({**BASE, "dns": {**RFC2136, "tsig_algorithm": "hmac-md4"}}, "dns.tsig_algorithm"),
        ({**BASE, "dns": {**RFC2136, "timeout_seconds": "soon"}}, "dns.timeout_seconds"),
        ({**BASE, "dns": {"provider": "exec", "hook": "dns-hook.sh"}}, "dns.hook"),
        (
            {**BASE, "dns": {"provider": "exec", "hook": "/x"}, "propagation_nameservers": "ns1"},
            "propagation_nameservers",
        ),
        (
            {**BASE, "dns": {"provider": "exec", "hook": "/x"}, "propagation_nameservers": ["ns1", "a b"]},
            "propagation_nameservers[1]",
        ),
        (
            {**BASE, "dns": {"provider": "exec", "hook": "/x"}, "propagation_timeout_seconds": 0},
            "propagation_timeout_seconds",
        ),
    ],
)
def test_a_bad_dns01_config_is_a_400_naming_the_field(admin_client_with_key, config, field):
    response = admin_client_with_key.post(
        "/api/v1/issuers",
        {"name": "bad", "type": "ACME", "config": config, "secrets": {"tsig_secret": TSIG_SECRET}},
        format="json",
    )

    assert response.status_code == 400, response.json()
    assert response.json()["error"] == "validation_error"
    assert field in response.json()["fields"]["config"]


@pytest.mark.parametrize(
    "secrets, field",
    [
        ({}, "tsig_secret"),
        ({"tsig_secret": "not base64!"}, "tsig_secret"),
    ],
)
def test_rfc2136_without_a_usable_tsig_secret_is_a_400_on_secrets(admin_client_with_key, secrets, field):
    response = admin_client_with_key.post(
        "/api/v1/issuers",
        {"name": "bad", "type": "ACME", "config": {**BASE, "dns": RFC2136}, "secrets": secrets},
        format="json",
    )

    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"]["secrets"]
    assert "not base64!" not in response.json()["message"]


def test_a_bad_hook_environment_is_a_400_on_secrets(admin_client_with_key):
    response = admin_client_with_key.post(
        "/api/v1/issuers",
        {
            "name": "bad",
            "type": "ACME",
            "config": {**BASE, "dns": {"provider": "exec", "hook": "/usr/local/bin/dns-hook"}},
            "secrets": {"dns_hook_env": {"NOT A NAME": "x"}},
        },
        format="json",
    )

    assert response.status_code == 400
    assert "dns_hook_env" in response.json()["fields"]["secrets"]


def test_a_stored_tsig_secret_need_not_be_sent_again(admin_client_with_key):
    created = admin_client_with_key.post(
        "/api/v1/issuers",
        {
            "name": "ok",
            "type": "ACME",
            "config": {**BASE, "dns": RFC2136},
            "secrets": {"tsig_secret": TSIG_SECRET},
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    issuer_id = created.json()["id"]

    changed = admin_client_with_key.patch(
        f"/api/v1/issuers/{issuer_id}",
        {"config": {**BASE, "dns": {**RFC2136, "server": "ns2.example.com:5353"}}},
        format="json",
    )
    removed = admin_client_with_key.patch(
        f"/api/v1/issuers/{issuer_id}", {"secrets": {"tsig_secret": None}}, format="json"
    )

    assert changed.status_code == 200, changed.json()
    assert removed.status_code == 400
    assert "tsig_secret" in removed.json()["fields"]["secrets"]
    assert TSIG_SECRET not in str(changed.json())


def test_the_hook_runs_without_certctls_environment(challtestsrv, tmp_path, monkeypatch):
    monkeypatch.setenv("CERTCTL_ENCRYPTION_KEY", "must-not-reach-the-hook")
    hook = write_hook(tmp_path, challtestsrv)
    provider = ExecHookProvider({"hook": str(hook.path)}, {"dns_hook_env": {"DNS_API_TOKEN": "t0k3n"}})
    name = f"_acme-challenge.{unique_domain()}"

    provider.present(name, "value-1")
    provider.cleanup(name, "value-1")

    env = hook.calls()[0]["env"]
    assert "CERTCTL_ENCRYPTION_KEY" not in env and "DNS_API_TOKEN" in env
    assert {"CERTCTL_ACME_DNS_ACTION", "CERTCTL_ACME_DNS_NAME", "CERTCTL_ACME_DNS_VALUE", "PATH"} <= set(env)
    assert os.environ["CERTCTL_ENCRYPTION_KEY"] == "must-not-reach-the-hook"
