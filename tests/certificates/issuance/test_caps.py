"""Issuance caps: how many names a leaf may carry and how large an RSA key may be, per profile and by default,
enforced on every way a CSR arrives (the issue endpoint, the agent's CSR, a batch)."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from certificates.inventory.models import CertificateVersion
from certificates.issuance.services.issuance import IssueRequest, issue_many
from tests.agent_helpers import agent_client, make_agent
from tests.factories import CertificateFactory, JobFactory, ProfileFactory, TargetFactory
from tests.issuance_helpers import issuable_certificate, make_csr, make_root, names_of, split_chain

pytestmark = pytest.mark.django_db

SAN_COUNT_OVER_DEFAULT = 101


@pytest.fixture
def issuer(db):
    return make_root()


def _rsa(bits: int):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _many_names(count: int) -> list[str]:
    return [f"host-{index}.example.test" for index in range(count)]


def _certificate(issuer, names: list[str], **profile_fields):
    profile = ProfileFactory(
        allowed_key_algorithms=[
            {"algorithm": "ECDSA", "min_size": 256},
            {"algorithm": "RSA", "min_size": 2048},
        ],
        allowed_ekus=["serverAuth", "clientAuth"],
        **profile_fields,
    )
    return issuable_certificate(issuer, profile=profile, common_name=names[0], sans=names[1:])


def _issue_by_api(client, cert, csr_pem: str):
    return client.post(f"/api/v1/certificates/{cert.pk}/issue", {"csr_pem": csr_pem}, format="json")


def _issue_by_agent(api_client, cert, csr_pem: str):
    agent, credential = make_agent()
    cert.targets.add(TargetFactory(agent=agent))
    job = JobFactory(type="Renewal", status="AwaitingCSR", certificate=cert)
    agent_client(api_client, credential)
    return api_client.post(
        f"/api/v1/agents/{agent.id}/csr",
        {"certificate_id": cert.id, "csr_pem": csr_pem, "job_id": job.id},
        format="json",
    )


def _assert_refused(response, cert, *words: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "profile_violation"
    for word in words:
        assert word in body["message"]
    assert not CertificateVersion.objects.filter(certificate=cert).exists()


# --- names -----------------------------------------------------------------------------------------------


def test_a_101_name_csr_is_refused_by_the_issue_endpoint_on_a_default_profile(issuer, client_with_key):
    names = _many_names(SAN_COUNT_OVER_DEFAULT)
    cert = _certificate(issuer, names)
    response = _issue_by_api(client_with_key, cert, make_csr(names)[0])
    _assert_refused(response, cert, "101 names", "max_sans=100")


def test_a_101_name_csr_is_issued_on_a_profile_allowing_200(issuer, client_with_key):
    names = _many_names(SAN_COUNT_OVER_DEFAULT)
    cert = _certificate(issuer, names, max_sans=200)
    response = _issue_by_api(client_with_key, cert, make_csr(names)[0])
    assert response.status_code == 201, response.content
    leaf = split_chain(cert.versions.get().pem_chain)[0]
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert len(sans.get_values_for_type(x509.DNSName)) == SAN_COUNT_OVER_DEFAULT


def test_a_101_name_csr_is_refused_from_an_agent_on_a_default_profile(issuer, api_client):
    names = _many_names(SAN_COUNT_OVER_DEFAULT)
    cert = _certificate(issuer, names)
    response = _issue_by_agent(api_client, cert, make_csr(names)[0])
    _assert_refused(response, cert, "max_sans=100")


def test_a_101_name_csr_is_signed_for_an_agent_on_a_profile_allowing_200(issuer, api_client):
    names = _many_names(SAN_COUNT_OVER_DEFAULT)
    cert = _certificate(issuer, names, max_sans=200)
    response = _issue_by_agent(api_client, cert, make_csr(names)[0])
    assert response.status_code == 202, response.content
    assert cert.versions.count() == 1


def test_exactly_100_names_pass_the_default_cap(issuer, client_with_key):
    names = _many_names(100)
    cert = _certificate(issuer, names)
    assert _issue_by_api(client_with_key, cert, make_csr(names)[0]).status_code == 201


def test_a_certificate_without_a_profile_gets_the_default_cap(issuer, client_with_key):
    names = _many_names(SAN_COUNT_OVER_DEFAULT)
    cert = CertificateFactory(
        issuer=issuer, profile=None, status="Pending", expires_at=None, common_name=names[0], sans=names[1:]
    )
    response = _issue_by_api(client_with_key, cert, make_csr(names)[0])
    _assert_refused(response, cert, "default (no profile)", "max_sans=100")


def test_a_csr_asking_for_more_names_than_the_cap_is_refused_without_listing_them(issuer, client_with_key):
    cert = issuable_certificate(issuer)
    response = _issue_by_api(client_with_key, cert, make_csr(_many_names(150))[0])
    _assert_refused(response, cert, "the CSR asks for 150 names", "max_sans=100")
    assert "host-149" not in response.json()["message"]


def test_a_batch_carries_the_cap_error_for_its_one_oversized_request(issuer):
    names = _many_names(SAN_COUNT_OVER_DEFAULT)
    big = _certificate(issuer, names)
    small = issuable_certificate(issuer)
    outcomes = issue_many(
        [IssueRequest(big, make_csr(names)[0]), IssueRequest(small, make_csr(names_of(small))[0])],
        actor="batch",
    )
    assert "max_sans=100" in str(outcomes[0].error)
    assert outcomes[1].error is None and outcomes[1].version is not None
    assert not big.versions.exists()


# --- RSA key sizes ---------------------------------------------------------------------------------------


def test_an_rsa_16384_key_is_refused_by_the_issue_endpoint(issuer, client_with_key):
    cert = _certificate(issuer, [HUGE_KEY_NAME])
    response = _issue_by_api(client_with_key, cert, HUGE_KEY_CSR)
    _assert_refused(response, cert, "16384 bits", "max_rsa_key_size=8192")


def test_an_rsa_16384_key_is_refused_from_an_agent(issuer, api_client):
    cert = _certificate(issuer, [HUGE_KEY_NAME])
    response = _issue_by_agent(api_client, cert, HUGE_KEY_CSR)
    _assert_refused(response, cert, "16384 bits", "max_rsa_key_size=8192")


def test_an_rsa_16384_key_is_refused_without_a_profile(issuer, client_with_key):
    cert = CertificateFactory(
        issuer=issuer, profile=None, status="Pending", expires_at=None, common_name=HUGE_KEY_NAME, sans=[]
    )
    response = _issue_by_api(client_with_key, cert, HUGE_KEY_CSR)
    _assert_refused(response, cert, "16384 bits", "default (no profile)")


def test_an_rsa_1024_key_is_refused_by_the_issue_endpoint_and_from_an_agent(
    issuer, client_with_key, api_client
):
    names = ["small-key.example.test"]
    cert = _certificate(issuer, names)
    csr_pem = make_csr(names, _rsa(1024))[0]
    _assert_refused(_issue_by_api(client_with_key, cert, csr_pem), cert, "1024 bits")
    _assert_refused(_issue_by_agent(api_client, cert, csr_pem), cert, "1024 bits")


def test_an_rsa_4096_key_is_issued_by_the_issue_endpoint(issuer, client_with_key):
    names = ["rsa4096.example.test"]
    cert = _certificate(issuer, names)
    response = _issue_by_api(client_with_key, cert, make_csr(names, _rsa(4096))[0])
    assert response.status_code == 201, response.content
    assert (cert.versions.get().key_algorithm, cert.versions.get().key_size) == ("RSA", 4096)


def test_an_rsa_4096_key_is_signed_for_an_agent(issuer, api_client):
    names = ["rsa4096-agent.example.test"]
    cert = _certificate(issuer, names)
    response = _issue_by_agent(api_client, cert, make_csr(names, _rsa(4096))[0])
    assert response.status_code == 202, response.content


def test_a_profile_capped_at_3072_refuses_rsa_4096(issuer, client_with_key):
    names = ["capped.example.test"]
    cert = _certificate(issuer, names, max_rsa_key_size=3072)
    response = _issue_by_api(client_with_key, cert, make_csr(names, _rsa(4096))[0])
    _assert_refused(response, cert, "4096 bits", "max_rsa_key_size=3072")


# A CSR for HUGE_KEY_NAME signed with an RSA-16384 key: making such a key takes minutes, so it is made once
# (cryptography, rsa.generate_private_key(65537, 16384)) and kept here; only its public half is in the CSR.
HUGE_KEY_NAME = "huge-key.example.test"
HUGE_KEY_CSR = """\
-----BEGIN CERTIFICATE REQUEST-----
MIIQmDCCCIACAQAwIDEeMBwGA1UEAwwVaHVnZS1rZXkuZXhhbXBsZS50ZXN0MIII
IjANBgkqhkiG9w0BAQEFAAOCCA8AMIIICgKCCAEAwK040WCH2ZUi4zwlD9oekYDH
B55IukwLp/93VAwOy3QCw/yCvQYVUBvLH5paqnUu0QgMZDmNzwllOf9YDNDirbGg
J0HzJ+49j+ONx+NTtWD34ZYV7vbei2+lw19eSJlO+VQyn3J3q8AHoRqyFD4RqJHk
qQdgNxVD8zdNQFZBMFbqFYRrDowzZvDShzCkcOGtZSKwIJdjxL6AIoSjF55JjcRZ
YjDEebMzFcx+VQ3n2qCyEVrBwYQL/W2UKlboGoI66edITS+2zBiwelXQdy8Vb41c
mXrgazEfX7Ipbmut5XdY+olo7o5pf4pvoHRoFKRLLV1VIuxX8moKsZaTwARtYmtN
tXcj4R4kVxxA37qvqpvtFx2NUiKhTI+7vlk4YnzgfDEZ472/i6J19oAz0DXsoo6d
LvQtsc2kSKCWpLeHO4HYqZsjip8iXV0AeHL1zJZpBjTDuztwIXXoMGC4TNGPDykF
8MIoYa1l0hHoaSAWUqLSOht2sbMKH8n6l5/bfZbwUWellQSzTNPOLpePb+bfpNtu
ZfFVPCGWRskX050bnQAxOV1kdezhoeYINH8afTXHnv4tvvm5X793EDBOYQPMS+zz
o/kynvVV9W3mRcZWAmKjJVwgteqbDzre2Yuh8IMF2AVVXASUwZGkP7IWBxKWC6Mw
InYUnKXs2UfaA60+u0j0lTjL3ItRXo1niAWyRC78OtntU4nkbQ4hGxBRTgiLnw6L
iwyOt+k6XAmGkVOhxkYxBpin0Wb2LNZlh0BAolxDtHWx3hrWfgg+TzKc15yPO4aP
N+yV/hEcb3Fg9rshrFwTWnr21KRV5gM/EI75+WL93TbColk34umUjdTScr/LvqF+
9p/CXtM2+3VJgj0n1nJ0fD4e3ceBRm73PVBezdL7S+kHl70wHHq0doK1XHD6oJiq
k+dQThVQ4PGVVXbj8bHZsHZa8hGg/uwnBx20cvfRpl8jhGhwxnxIkGIZ3biOCh0F
tLDOc+5h413DSA6vcdGLSPL+DRYT8zOEBvpkOlCPkr9XA9iEKdmq4mqGrd0v0y5y
EyGDG9ESfQIQ2kQeVWQ6b3+Saob5p0nlL/JZhXqixTwuhCSUc1qp3D8oqg/EcjDQ
GZJpxgq3MrgA+DZX6AzexmwPKzvBq7pawuEnAUwkyMQBIT0jIXppzO+wLDZVIAj2
yfDC074rFwaLDGkVql1gE81haGIlmLPVpnPy+AfYj6U0ZBOf1y5hFspYaHFU1jnC
v4pE1f7ZExqDGKc1QXX/jBfi1Dm3SanlfIcorzvoz1z77io7JVoe51Z7R7LBI5IH
lMcErFBS2fGuAtJ/quCyp+WfQxtwymBUroxpF48GEFopgnAD+/i6QepEEuP+9MYC
REpjZpYqVcY7ShosAEjhUL377YCLEAHC/I3MuqI2dpCTwACX/oYz1FGgZL+yCCEY
vYYa08KjletLah16U49yiGQFWVZeDqEKUYpEwiVlmKX/3lh4gL+nn44KevYCsO3N
I7fZMMWPzwcC+rPeWEJqxwmk5M4k2yCn4gumJ5LkinPoFufoVkgD7KQD0Z5MnR2B
8VfjdLPvmwTt4+mkXWJbqDJXa7P0jNIgau54Jq+ksjVpDEKYNMAlTTJ2qryH3r1D
Zv3+DHDk1p6WSj49eU772wfwC0/7lMo6dN1fWt8aOaS/Kgc8kommU3wA1K7YOG2W
bqwHPFGtu75ouCYBGu5lBMvgVAvauJTcI9xhBI7OUgWRhEGg8AZn2FcynkeWX5Am
ovAm+szK/uTa5hXqdRNbdnPaywPmrZ08xbUXcXhUYZxVYWDyEu9adFryK/LUsyu6
8hqb0LBwmHJ9gHq4SGYuWg492npAxlAR6Ge2T4X/23irnxEH5i+KAD6bgBhtqE9a
2jDRArMaUFUywcOZ8EoJFk6YMNEhweu3n5/yMLnUr7ixWAcjULdzRNENC19V49wl
YKQh+NjtkTW8eGPI//qfC6nAS4awnfaPXHrwD35j1ithJJDu/7K6vLVdjoWRfFaa
UtHeHVXuq57Kg4JNbVfwmADBTcKzcKgAUVhqpgRt2p4tKCwyK03M+mnZrZLrwMmm
hIe6ZDO33eYwExRY3Kd2Sk0ryMGEVGivu22W/PqfFatKqLjGJvwczJ0UiqoaAXmk
m0WBBqjV3v9iqsDHL7okNHfIQ0oaA2CvO+fEpxNFuXCLS63uLX9vklfCtToX/qwR
2sAIEEO2GLTS089aiXp0Xq8LQx06ko6UFFbHTA+cCMBVHR0DQ/rX3pkLWNsbkku0
E7/FohMguRkCNmeC1NHRLZyZjTSxBpv0oHuy4CYURmNLVkdvXvXX+fwLRnY4d5Xr
CMLQrsAy/0RWM5+RDXhqDtguyymFnuMCgZrU+tbqJFm9UvlovZ5DWg/QQF9yBoqB
k8v7zlwPizL/Vrgx5LizxN7/TfnZB3olhye1NJXkeu7CEIu4G5bxDxyWW60czNer
sU8O0jmB7HQVcdpexl1Z//j+CRkkMUZ4qxdr25kmeAzBzh6QHcmcbiosrGxxk8DR
OuCqU+AcjDPR7iCzXEZHLpVoaTYcddhHDF1bpMm4IOqs+w36H4BgSwjZNwa4LnQU
TQLVby3Im9oe7bjtw9Rf88n959qFBVXe5QD7ZlOUNgmxqmY7jhBXZpjS2b0VrXZu
RxOK4yVUbTT3mYRnLJcdfrjDqPPPhuI4jnHzb6tJONZ2XOJzxe3SYuUavxWbSure
4xzzaeh3AH9MULqXQpcCAwEAAaAzMDEGCSqGSIb3DQEJDjEkMCIwIAYDVR0RBBkw
F4IVaHVnZS1rZXkuZXhhbXBsZS50ZXN0MA0GCSqGSIb3DQEBCwUAA4IIAQB0lbp6
42BihxurX+ViqZJC+jcEzdpcJd0MBcZKwvz87+8cv/9ruI+T5dxGQiH3pcI/t44k
qyXHeVYDjw5kFyOGeJcL/Ejo+Jpor35WkXYw+JhgdacVqw7tFwiX0LScrRJxMNIt
QdfKu8K1fhdvkqbW2ucFKA6Yr1lh/yHUsdBhBknz8MKD21c/FiAYoh00azUc0/lJ
q1mih/PMHNOUPJEwNoxscIsDGKeg+iSHQC0wMYV+VrFZRo07wZzH0joS0QFe9sQb
ghHzfwj1TciP8sM60Q3z5h+BwatLW+6lOCf2HB0mrspU8lagSXm4ds1PoZTg8APa
bizouTMZHKVEmsT67OM80u2BS+nsc2KkaYehrVejRT6Pz3xaxnoVf0yvQvYFOPkE
xlAudFsOK4+kMT0uXxn/oPeQQUnG39weqUVjahZvwYm4BnVY86bp2NJIz+NqCdLG
6dx2ZjVQ8yBLwo328HUnW6pbIi2+V9myzhUXtfTYBkvd5FtIxLSjK4V4UAmrmxWu
oh+h/uzbRr0Ra9FHcieT5MqBBGPrbJ+uGpG0UW+e+SzUbxYmIQ/iuYW5/9Xq8+bh
LWd2WEjegBqNWD7zyPc4+H8SYrFojcckNeC5XqsIcvrV1P9u1TiyOrYldKvh2/J6
JKROIZBNYzFUeq/DNZiU1YCirONiSfktnSyuA5/8AScIFKX1CSCr+IrIbaYrh49c
3ThgaNtlWexBlCfKTz4ckpLofEsVCqEPzOqEMbkdSpqEn00SVIBK0y7S0PwVbX4K
CESa3f+RxWj0YtXyEwVpyXyWHgWpcaATfQVQMUeX7Y1IlDfx0g1UUpeM7fGekaex
AR018Zuo81Kh1hrENt3g5GIY0Xdq9nKiOm3UvC4uLgcr9Y2XxSecW9HFsHb2Uv3w
JJukyLmOw/usXnq0V0kBejbtSbdd61JJQpJzhwwl/0T9eGanWhe8oIvkGZMalcfo
0vriWF0OJNhjolgfJS/XNIq40tvD3kg3vHgV3TAm7iYgcMIwH/msGfwVYlyl3CTb
uKHOuU/PQCE3Z/UBhuB6asXHGFkuBAdI0+NiRmjn7BUDDxrctlWFPNR4fJ5ac+8R
rDXwQXH/TtyLLmFvczz1OU1o8Jfq6F7EfvFZIu9OuPLTSIZhTnz/1q9PisJvWOoZ
BROPzBe6ZlZP+7LnRaiz5bxTT06YiwSV3R474tA8sMwD31pMWjnxJG8EUqzBiOGu
LdXJ38Bm9z814j73XmCkC4FIuOlguoctDHPIdAatD/JCUGa5P1CHITvdNFEuh7P8
6CGkLa4xdKvYNf0sNzxTyGZvc/T/hststULWe6WqzVh7xwsU5u3jvNBP+sqAquhT
4Fv4L6+1vQ0r2QBaXrqMzws1zB/q/thZIpfTx8r2QHWzYi/stG0BmwjfD056MfEH
wg6Zl9PyQ7YnJ9QOqJ+RWc1ACsT4eca7uXq6xK8bypX6OhQUTANZ3IiLYjYFKsrv
dQ5IoBns2Nj4V6weFS/bUWFzkqoMlBiW+JjdIuOIQ4q3h5c5zhg1sKmDMYrYXotE
+Du7B1LaOIoroM9Z99nmVUEjWzF15fjJmerbIMBg5RNt0NJo7/dl6GeH88XsCZ6E
aQFiqg4SfRLdl+BK9CZMXHEcaF6sqt2UGCAs7Y7C/O4yo/Ung0IY8iw0IA/h2wjO
VbcsMIxOXvWlSkbW9GXJaM3bPTyLFWGvJ7dxmDdU3LzE7xtO2sBcCM/YuuM4OttL
4zopZhH95nfWp3A8TlO7c0Xfdf60gY39olGO5a5uX5dkdkexBT0riNurdMH7UmcK
dT/wuzGP4au5rfnc2M93ZgSRZdR+NasLDtRfQxidvTxppBEHAJCS97yO57mOXa27
vq77PzFq+RjxxMRMbgw7iTTBClYpgyykKhShh+82NTbk2SLto9IHD2y9rdX3zSgu
Rf5ZcI1Aw5pTDrgwt9+FWdTFyHPSk44vHs1RZ6e7gz3MoKraAXC8vUwBfRBTMVim
/rUiXhRmA6q92JS/jjKBQ3qtXLVxg1lPMquNq3K8jx7FfBNaOST1xb3HqegXdee+
x+CIiLprBQuCaMTw2EBBCZ3hybhIflfusuRE+VnfycaztJPQQQFV0l2J3W+TQCWu
DkxTdmW4qPgQiif/yz/daGLQVkH3bJYNhqGLccUTvpcBtYGLWMigeM2C9Ko8ePg6
c2jCc3CR4nVlPBNTtqCebOAobCVt9SxzA77v9vz0BMBApMw7ZeNyWsEeLiFRmp5k
OxAHOntIm46l3CU+46EZtPn+zVVbfnXAofvQyCHSPze635Z9Z0bh4unKBRFTkRBo
VfOzlXtMxb671axPSo3YzpGSe216yhoNxZkPd8DYYVD4SeOok7gyh6MFfLyKMwmi
SW7iB+VAxD6xQpsvZGF/dfXAxI7iVjmLwfQ+CoIu8EktgEbQiq9PlB+DMyJK6sHW
Q34HbULf0/ZnjYIk2CddYCUNPWZPbfqrzdtM86rIJJynjVXGhYjO9ZaMUL7Gn6B0
5l+NeBfitrPiz0juW0eUfPqtYMLdQerwARzOtd34HDnauKE9R8v9NqsQ3a5YS8vr
XMrWrCag6WtMLhU7mAb+sFgOD/uXCmBoD/Dgl2KEyAUgvMlMzwTZN31EmRZgNSr3
Js85QnAR+Eb//ZLuRw28NTeLYNULueUpBoEzCPRrPZ51Xpe/bkL/LkAQcASY2cCP
f6K0qZL3gtxl1dOwFECFunRRvBbTX46w+GBYvw==
-----END CERTIFICATE REQUEST-----
"""
