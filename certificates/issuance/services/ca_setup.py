"""Creating and importing local CAs (roots and intermediates); the key is stored encrypted by ca_store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.db import transaction

from audit.services.record import record
from certctl.kernel.fields import name_problem
from certctl.kernel.x509 import key_usage, signature_hash
from certificates.enums import IssuerType
from certificates.inventory.models import Issuer
from certificates.issuance.issuers.ca_store import load_ca, store_ca

KEY_TYPES = ("ec", "ec-p384", "rsa", "ed25519")


class CASetupError(Exception):
    """The CA cannot be created or imported as asked; the message says why."""


def generate_ca_key(key_type: str):
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ec-p384":
        return ec.generate_private_key(ec.SECP384R1())
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise CASetupError(f"unknown key type {key_type!r} (valid: {', '.join(KEY_TYPES)})")


# GeneralizedTime's last instant (RFC 5280 4.1.2.5: 99991231235959Z means "no well-defined expiration").
LAST_NOT_AFTER = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def parse_subject(subject: str) -> x509.Name:
    try:
        name = x509.Name.from_rfc4514_string(subject)
    except ValueError as exc:
        reason = f"{exc}; " if str(exc) else ""
        raise CASetupError(
            f"invalid subject {subject!r}: {reason}expected an RFC 4514 name such as 'CN=Example Root,O=Example'"
        ) from exc
    if not list(name):
        raise CASetupError("the subject must not be empty, e.g. CN=Example Root CA")
    return name


def build_ca_certificate(
    *,
    subject: x509.Name,
    key,
    issuer_cert: x509.Certificate | None,
    issuer_key,
    path_length,
    not_before,
    not_after,
) -> x509.Certificate:
    """A CA certificate: self-signed when `issuer_cert` is None, else signed by the parent CA."""
    public_key = key.public_key()
    ski = x509.SubjectKeyIdentifier.from_public_key(public_key)
    if issuer_cert is None:
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
        issuer_name = subject
    else:
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_cert.public_key())
        issuer_name = issuer_cert.subject
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(aki, critical=False)
        .sign(issuer_key, signature_hash(issuer_key))
    )


def _issuer_row(name: str) -> Issuer:
    """An existing issuer without CA material is filled in (e.g. a demo record); one with a CA is refused."""
    problem = name_problem(Issuer, name)
    if problem:
        raise CASetupError(f"the issuer name {problem}")
    issuer = Issuer.objects.select_for_update().filter(name=name).first()
    if issuer is None:
        return Issuer(name=name, type=IssuerType.LOCAL)
    if issuer.type != IssuerType.LOCAL:
        raise CASetupError(f"issuer {name!r} exists with type {issuer.type!r}, not a local CA")
    if (issuer.config or {}).get("ca_cert_pem") or issuer.encrypted_config:
        raise CASetupError(f"issuer {name!r} already has a CA; choose another name")
    return issuer


def init_ca(
    name: str,
    *,
    subject: str,
    key_type: str = "ec",
    parent: Issuer | None = None,
    path_length: int | None = None,
    validity_days: int = 3650,
    actor: str = "system",
    now: datetime | None = None,
) -> Issuer:
    """Create a root CA, or an intermediate signed by `parent`, as a local issuer named `name`."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    if validity_days < 1:
        raise CASetupError("validity must be at least one day")
    if validity_days > (LAST_NOT_AFTER - now).days:
        raise CASetupError(
            f"validity of {validity_days} days ends after {LAST_NOT_AFTER:%Y-%m-%d}, the last date X.509 can "
            f"express; use at most {(LAST_NOT_AFTER - now).days}"
        )
    if path_length is not None and path_length < 0:
        raise CASetupError("path length must be zero or more")
    key = generate_ca_key(key_type)
    name_obj = parse_subject(subject)
    with transaction.atomic():
        issuer = _issuer_row(name)
        if parent is None:
            chain: list[x509.Certificate] = []
            cert = build_ca_certificate(
                subject=name_obj,
                key=key,
                issuer_cert=None,
                issuer_key=key,
                path_length=path_length,
                not_before=now,
                not_after=now + timedelta(days=validity_days),
            )
        else:
            parent_ca = load_ca(parent)
            parent_limit = parent_ca.certificate.extensions.get_extension_for_class(
                x509.BasicConstraints
            ).value
            if parent_limit.path_length == 0:
                raise CASetupError(
                    f"issuer {parent.name!r} has path length 0 and cannot sign an intermediate"
                )
            if parent_limit.path_length is not None:
                allowed = parent_limit.path_length - 1
                path_length = allowed if path_length is None else min(path_length, allowed)
            cert = build_ca_certificate(
                subject=name_obj,
                key=key,
                issuer_cert=parent_ca.certificate,
                issuer_key=parent_ca.private_key,
                path_length=path_length,
                not_before=now,
                not_after=min(now + timedelta(days=validity_days), parent_ca.certificate.not_valid_after_utc),
            )
            chain = [parent_ca.certificate, *parent_ca.chain]
        store_ca(issuer, cert, key, chain)
        issuer.config = {**issuer.config, "parent_issuer_id": parent.pk if parent else ""}
        issuer.save()
        record(
            "ca_created",
            resource_type="issuer",
            resource_id=issuer.pk,
            actor=actor,
            actor_type="System" if actor == "system" else "User",
            details={
                "subject": subject,
                "key_type": key_type,
                "parent_issuer_id": parent.pk if parent else None,
            },
            now=now,
        )
    return issuer


def _check_chain(cert: x509.Certificate, chain: list[x509.Certificate]) -> None:
    current = cert
    for upper in chain:
        try:
            current.verify_directly_issued_by(upper)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise CASetupError(
                f"{current.subject.rfc4514_string()} is not issued by the next chain certificate"
            ) from exc
        current = upper


def import_ca(
    name: str,
    *,
    cert_pem: bytes,
    key_pem: bytes,
    chain_pem: bytes = b"",
    key_password: bytes | None = None,
    actor: str = "system",
) -> Issuer:
    """Import an existing CA certificate + private key (+ its chain up to the root) as a local issuer."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=key_password)
        chain = x509.load_pem_x509_certificates(chain_pem) if chain_pem.strip() else []
    except (ValueError, TypeError) as exc:
        raise CASetupError(f"cannot read the CA material: {exc}") from exc
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise CASetupError("the certificate is not a CA certificate (basicConstraints CA:TRUE missing)")
    try:
        if not cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign:
            raise CASetupError("the CA certificate's key usage does not allow certificate signing")
    except x509.ExtensionNotFound:
        pass
    own = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, own) != cert.public_key().public_bytes(
        serialization.Encoding.DER, own
    ):
        raise CASetupError("the private key does not belong to the CA certificate")
    _check_chain(cert, chain)
    with transaction.atomic():
        issuer = _issuer_row(name)
        store_ca(issuer, cert, key, chain)
        issuer.save()
        record(
            "ca_imported",
            resource_type="issuer",
            resource_id=issuer.pk,
            actor=actor,
            actor_type="System" if actor == "system" else "User",
            details={"subject": cert.subject.rfc4514_string(), "chain_length": len(chain)},
        )
    return issuer
