"""`manage.py init_ca` and `import_ca`: roots, intermediates, imported CAs, and clear refusals."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from django.core.management import CommandError, call_command

from certificates.inventory.models import Issuer
from certificates.issuance.issuers.ca_store import load_ca, store_ca
from certificates.issuance.services.ca_setup import build_ca_certificate, parse_subject
from certificates.issuance.services.issuance import issue_from_csr
from tests.issuance_helpers import issuable_certificate, make_csr, names_of, split_chain

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_init_ca_creates_a_root_then_an_intermediate():
    assert "created root CA" in _run(
        "init_ca", "Root", "--subject", "CN=Example Root,O=Example", "--key-type", "rsa"
    )
    output = _run(
        "init_ca", "Issuing", "--subject", "CN=Example Issuing", "--parent", "Root", "--path-length", "0"
    )
    assert "created intermediate CA" in output

    root, issuing = load_ca(Issuer.objects.get(name="Root")), load_ca(Issuer.objects.get(name="Issuing"))
    assert isinstance(root.private_key, rsa.RSAPrivateKey) and root.private_key.key_size == 3072
    assert isinstance(issuing.private_key, ec.EllipticCurvePrivateKey)
    assert root.certificate.subject.rfc4514_string() == "CN=Example Root,O=Example"
    constraints = issuing.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca and constraints.path_length == 0
    issuing.certificate.verify_directly_issued_by(root.certificate)
    assert issuing.chain == [root.certificate]
    usage = issuing.certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign


def test_init_ca_refuses_bad_input():
    with pytest.raises(CommandError, match="invalid subject 'not a dn': expected an RFC 4514 name"):
        _run("init_ca", "X", "--subject", "not a dn")
    with pytest.raises(CommandError, match="ends after 9999-12-31"):
        _run("init_ca", "X", "--subject", "CN=X", "--validity-days", "99999999")  # was an OverflowError
    for name in ("", "   ", "n" * 256):  # a blank name used to create an issuer called ""
        with pytest.raises(CommandError, match="issuer name must be 1 to 255 characters"):
            _run("init_ca", name, "--subject", "CN=X")
    with pytest.raises(CommandError, match="at least one day"):
        _run("init_ca", "X", "--subject", "CN=X", "--validity-days", "0")
    with pytest.raises(CommandError, match="no issuer named"):
        _run("init_ca", "X", "--subject", "CN=X", "--parent", "missing")
    _run("init_ca", "Leafish", "--subject", "CN=L", "--path-length", "0")
    with pytest.raises(CommandError, match="path length 0"):
        _run("init_ca", "Y", "--subject", "CN=Y", "--parent", "Leafish")
    with pytest.raises(CommandError, match="already has a CA"):
        _run("init_ca", "Leafish", "--subject", "CN=L")


def _write_ca(tmp_path, *, key=None):
    key = key or ec.generate_private_key(ec.SECP256R1())
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    cert = build_ca_certificate(
        subject=parse_subject("CN=Imported Root"),
        key=key,
        issuer_cert=None,
        issuer_key=key,
        path_length=None,
        not_before=now,
        not_after=now + timedelta(days=365),
    )
    (tmp_path / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "ca.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.BestAvailableEncryption(b"pw-123"),
        )
    )
    (tmp_path / "pw").write_text("pw-123\n")
    return cert


def test_import_ca_then_issue_from_it(tmp_path):
    ca_cert = _write_ca(tmp_path)
    output = _run(
        "import_ca",
        "Imported",
        "--cert",
        str(tmp_path / "ca.pem"),
        "--key",
        str(tmp_path / "ca.key"),
        "--key-password-file",
        str(tmp_path / "pw"),
    )
    assert "imported CA issuer Imported" in output
    issuer = Issuer.objects.get(name="Imported")
    assert "PRIVATE KEY" not in issuer.encrypted_config
    cert = issuable_certificate(issuer)
    version = issue_from_csr(cert, make_csr(names_of(cert))[0], actor="alice")
    leaf, root = split_chain(version.pem_chain)
    assert root == ca_cert
    leaf.verify_directly_issued_by(ca_cert)


def test_import_ca_refuses_a_key_of_another_certificate(tmp_path):
    _write_ca(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    _write_ca(other)
    with pytest.raises(CommandError, match="does not belong"):
        _run(
            "import_ca",
            "Mismatch",
            "--cert",
            str(tmp_path / "ca.pem"),
            "--key",
            str(other / "ca.key"),
            "--key-password-file",
            str(tmp_path / "pw"),
        )
    with pytest.raises(CommandError, match="cannot read"):
        _run("import_ca", "Missing", "--cert", str(tmp_path / "nope.pem"), "--key", str(tmp_path / "ca.key"))
    assert not Issuer.objects.filter(name__in=["Mismatch", "Missing"]).exists()


def test_init_ca_validity_days_and_the_parent_cap():
    _run("init_ca", "Short Root", "--subject", "CN=Short Root", "--validity-days", "30")
    _run("init_ca", "Long Issuing", "--subject", "CN=Long Issuing", "--parent", "Short Root")
    _run(
        "init_ca", "Brief Issuing", "--subject", "CN=Brief", "--parent", "Short Root", "--validity-days", "7"
    )

    root = load_ca(Issuer.objects.get(name="Short Root")).certificate
    assert root.not_valid_after_utc - root.not_valid_before_utc == timedelta(days=30)
    capped = load_ca(Issuer.objects.get(name="Long Issuing")).certificate
    # 3650 days asked (the default), the parent's expiry given
    assert capped.not_valid_after_utc == root.not_valid_after_utc
    brief = load_ca(Issuer.objects.get(name="Brief Issuing")).certificate
    assert brief.not_valid_after_utc - brief.not_valid_before_utc == timedelta(days=7)
    for name in ("", "   ", "n" * 256):  # a blank name used to create an issuer called ""
        with pytest.raises(CommandError, match="issuer name must be 1 to 255 characters"):
            _run("init_ca", name, "--subject", "CN=X")
    with pytest.raises(CommandError, match="at least one day"):
        _run("init_ca", "Zero", "--subject", "CN=Zero", "--validity-days", "0")


def test_an_issuer_whose_ca_is_replaced_signs_with_the_new_ca_at_once(tmp_path):
    """The decrypted CA is cached per process; replacing the stored material must not leave the old key in use."""
    first = _write_ca(tmp_path)
    _run("import_ca", "Rotated", "--cert", str(tmp_path / "ca.pem"), "--key", str(tmp_path / "ca.key"),
         "--key-password-file", str(tmp_path / "pw"))  # fmt: skip
    issuer = Issuer.objects.get(name="Rotated")
    cert = issuable_certificate(issuer)
    leaf, _ = split_chain(issue_from_csr(cert, make_csr(names_of(cert))[0], actor="alice").pem_chain)
    leaf.verify_directly_issued_by(first)

    second = _write_ca(tmp_path)
    store_ca(issuer, second, load_pem_private_key((tmp_path / "ca.key").read_bytes(), b"pw-123"))
    issuer.save()
    cert.refresh_from_db()
    leaf, root = split_chain(issue_from_csr(cert, make_csr(names_of(cert))[0], actor="alice").pem_chain)
    assert root == second != first
    leaf.verify_directly_issued_by(second)
