"""ACME orders against pebble: resuming a persisted order, External Account Binding, and the clear refusals."""

from __future__ import annotations

import pytest
import requests
from acme import messages

from certificates.enums import JobStatus
from certificates.inventory.models import Issuer
from certificates.issuance.issuers.acme.network import BAD_NONCE_ATTEMPTS, RecordingNetwork, problem_error
from certificates.issuance.issuers.base import LeafRequest
from certificates.issuance.issuers.registry import backend_for
from certificates.issuance.models import AcmeHttpChallenge, AcmeOrder, Job
from certificates.issuance.services.csr_policy import parse_csr
from certificates.issuance.services.issuer_config import save_issuer
from tests.acme_support import NAMES, acme_profile, make_acme_issuer
from tests.factories import JobFactory
from tests.issuance_helpers import issuable_certificate, make_csr, split_chain

pytestmark = pytest.mark.django_db(transaction=True)


def _certificate(issuer, names=NAMES):
    return issuable_certificate(issuer, profile=acme_profile(), common_name=names[0], sans=names[1:])


def test_a_retried_job_resumes_the_order_a_dropped_worker_left_half_done(
    pebble, acme_served, client_with_key
):
    issuer = make_acme_issuer(pebble)
    csr_pem, _key = make_csr(NAMES)
    csr = parse_csr(csr_pem)
    # The first worker places the order and answers the challenges, then is gone (its client with it).
    run = backend_for(issuer).run(LeafRequest(csr=csr, subject=csr.subject, dns_names=NAMES))
    placed = run.start()
    run.fetch()
    run.answer_challenges()
    del run
    half_done = AcmeOrder.objects.get(pk=placed.pk)
    assert half_done.status == "pending"
    assert AcmeHttpChallenge.objects.filter(order=half_done).count() == 2

    cert = _certificate(issuer)
    JobFactory(certificate=cert, type="Issuance", status=JobStatus.AWAITING_CSR)
    response = client_with_key.post(
        f"/api/v1/certificates/{cert.pk}/issue", {"csr_pem": csr_pem}, format="json"
    )

    assert response.status_code == 201, response.json()
    order = AcmeOrder.objects.get(issuer=issuer)
    assert order.pk == placed.pk and order.order_url == placed.order_url
    assert order.status == "completed"
    assert not AcmeHttpChallenge.objects.exists()
    leaf = split_chain(response.json()["pem_chain"])[0]
    assert pebble.status_of(leaf)["Status"] == "Valid"


def test_a_wildcard_name_is_a_clear_error_and_fails_the_job(pebble, client_with_key):
    issuer = make_acme_issuer(pebble)
    names = ["*.certctl-acme.test"]
    cert = _certificate(issuer, names)
    job = JobFactory(certificate=cert, type="Issuance", status=JobStatus.AWAITING_CSR)

    response = client_with_key.post(
        f"/api/v1/certificates/{cert.pk}/issue", {"csr_pem": make_csr(names)[0]}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"] == "issuer_failed"
    assert "wildcard names need DNS-01: set challenge to dns-01" in response.json()["message"]
    assert Job.objects.get(pk=job.pk).status == JobStatus.FAILED
    assert not AcmeOrder.objects.exists()


def test_external_account_binding_registers_with_the_kid_and_hmac_key(pebble, acme_served, client_with_key):
    if not pebble.eab_directory_url:
        pytest.skip("with-services.sh started no pebble that requires External Account Binding")
    issuer = make_acme_issuer(pebble, eab=True)

    result = backend_for(issuer).test()

    assert result.ok, result.message
    cert = _certificate(issuer)
    response = client_with_key.post(
        f"/api/v1/certificates/{cert.pk}/issue", {"csr_pem": make_csr(NAMES)[0]}, format="json"
    )
    assert response.status_code == 201, response.json()


def test_a_ca_that_requires_eab_without_one_configured_says_what_to_set(pebble):
    if not pebble.eab_directory_url:
        pytest.skip("with-services.sh started no pebble that requires External Account Binding")
    issuer = make_acme_issuer(pebble, directory_url=pebble.eab_directory_url)

    result = backend_for(issuer).test()

    assert not result.ok
    assert "requires External Account Binding" in result.message and "eab_kid" in result.message


def test_a_wrong_eab_hmac_key_is_the_cas_refusal_with_its_problem_type(pebble):
    if not pebble.eab_directory_url:
        pytest.skip("with-services.sh started no pebble that requires External Account Binding")
    issuer = make_acme_issuer(pebble, eab=True)
    issuer.encrypted_config = ""
    wrong = {"eab_hmac_key": "c2VjcmV0LWJ1dC13cm9uZy1zZWNyZXQtYnV0LXdyb25nLXNlY3JldA"}
    save_issuer(issuer, {}, wrong)

    result = backend_for(Issuer.objects.get(pk=issuer.pk)).test()

    assert not result.ok
    assert "urn:ietf:params:acme:error:" in result.message


def test_the_issuer_test_endpoint_reports_an_unreachable_directory_without_a_500(
    pebble, admin_client_with_key
):
    created = admin_client_with_key.post(
        "/api/v1/issuers",
        {
            "name": "nowhere",
            "type": "ACME",
            "config": {"directory_url": "https://127.0.0.1:9/dir", "agree_tos": True},
        },
        format="json",
    )
    assert created.status_code == 201, created.json()

    response = admin_client_with_key.post(f"/api/v1/issuers/{created.json()['id']}/test")

    assert response.status_code == 200
    assert response.json()["status"] == "failed"
    assert "cannot reach the ACME server at 127.0.0.1:9" in response.json()["message"]


def test_a_url_that_is_no_acme_directory_fails_the_issuer_test_clearly(pebble, admin_client_with_key):
    issuer = make_acme_issuer(
        pebble, name="not-acme", directory_url=f"{pebble.management_url}/no-such-directory"
    )

    response = admin_client_with_key.post(f"/api/v1/issuers/{issuer.pk}/test")

    assert response.status_code == 200
    assert response.json()["status"] == "failed"
    assert "ACME directory fetch failed" in response.json()["message"]


@pytest.mark.parametrize(
    "config, problem",
    [
        ({"directory_url": "not a url", "agree_tos": True}, "directory_url"),
        ({"directory_url": "https://acme.example/dir"}, "agree_tos must be true"),
        (
            {"directory_url": "https://acme.example/dir", "agree_tos": True, "poll_timeout_seconds": 0},
            "poll_timeout",
        ),
    ],
)
def test_an_acme_issuer_with_an_unusable_config_is_refused_with_400(admin_client_with_key, config, problem):
    response = admin_client_with_key.post(
        "/api/v1/issuers", {"name": "bad", "type": "ACME", "config": config}, format="json"
    )

    assert response.status_code == 400
    assert problem in str(response.json())


def test_a_rate_limit_is_transient_and_names_the_retry_after():
    response = requests.Response()
    response.status_code = 429
    response.headers["Retry-After"] = "120"
    net = type("Net", (), {"last_response": response})()
    problem = messages.Error.with_code("rateLimited", detail="too many certificates for certctl-acme.test")

    error = problem_error(problem, "new order", net)

    assert error.permanent is False
    assert "urn:ietf:params:acme:error:rateLimited" in str(error)
    assert "retry after 120 seconds" in str(error)


def test_any_other_acme_problem_is_permanent_with_type_and_detail():
    problem = messages.Error.with_code("rejectedIdentifier", detail="certctl-acme.test is forbidden")

    error = problem_error(problem, "new order")

    assert error.permanent is True
    assert "urn:ietf:params:acme:error:rejectedIdentifier: certctl-acme.test is forbidden" in str(error)


FORCED_REJECTIONS = 2


def test_bad_nonces_in_a_row_are_retried_with_fresh_nonces(pebble, monkeypatch):
    """pebble rejects 5% of nonces on purpose; the library alone retries once, so two in a row failed orders.

    Two forced rejections (enough to defeat a single retry), leaving three attempts for pebble's own 5%."""
    assert BAD_NONCE_ATTEMPTS >= FORCED_REJECTIONS + 3
    issuer = make_acme_issuer(pebble)
    real = RecordingNetwork._post_once
    rejected = []

    def flaky(self, *args, **kwargs):
        if len(rejected) < FORCED_REJECTIONS:
            rejected.append(args[0])
            raise messages.Error(
                typ="urn:ietf:params:acme:error:badNonce", detail="JWS has an invalid anti-replay nonce"
            )
        return real(self, *args, **kwargs)

    monkeypatch.setattr(RecordingNetwork, "_post_once", flaky)
    result = backend_for(issuer).test()

    assert result.ok, result.message
    assert len(rejected) == FORCED_REJECTIONS
