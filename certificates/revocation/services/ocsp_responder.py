"""The delegated OCSP responder of each issuer: created on first use and rotated before it expires."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from certctl.kernel.crypto import decrypt_json, encrypt_json
from certctl.kernel.x509 import serial_hex
from certificates.inventory.models import Issuer
from certificates.issuance.issuers.ca_store import load_ca
from certificates.revocation.models import OCSPResponder
from certificates.revocation.pki.responder import issue_responder_certificate, needs_rotation


@dataclass(frozen=True)
class ResponderMaterial:
    certificate: x509.Certificate
    private_key: object
    not_after: datetime


# Decrypted responders by (issuer, serial): parsing and decrypting per request would cost more than signing.
_loaded: dict[tuple[str, str], ResponderMaterial] = {}


def _material(row: OCSPResponder) -> ResponderMaterial:
    key = (row.issuer_id, row.cert_serial)
    if key not in _loaded:
        secret = decrypt_json(row.encrypted_key)
        _loaded[key] = ResponderMaterial(
            certificate=x509.load_pem_x509_certificate(row.cert_pem.encode()),
            private_key=serialization.load_pem_private_key(secret["private_key_pem"].encode(), password=None),
            not_after=row.not_after,
        )
    return _loaded[key]


# The responder each process signs with, per (issuer, CA certificate): a cached answer path without queries.
_current: dict[tuple[str, str], ResponderMaterial] = {}


def _usable(material: ResponderMaterial | None, ca_pem: str, now: datetime) -> bool:
    """Not due for rotation, and issued by the issuer's current CA (a re-imported CA needs a new responder)."""
    if material is None or needs_rotation(
        material.not_after, now=now, grace=timedelta(seconds=settings.OCSP_RESPONDER_ROTATION_GRACE)
    ):
        return False
    return _issued_by(material.certificate, ca_pem)


_issued_by_checked: dict[tuple[int, str], bool] = {}


def _issued_by(responder: x509.Certificate, ca_pem: str) -> bool:
    key = (responder.serial_number, ca_pem)
    if key not in _issued_by_checked:
        try:
            responder.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_pem.encode()))
            _issued_by_checked[key] = True
        except (ValueError, TypeError, InvalidSignature):
            _issued_by_checked[key] = False
    return _issued_by_checked[key]


def cached_responder(issuer_id: str, ca_pem: str, now: datetime) -> ResponderMaterial | None:
    """The responder this process already signs with for the issuer's CA, if it is still usable: no query."""
    material = _current.get((issuer_id, ca_pem))
    return material if _usable(material, ca_pem, now) else None


def current_responder(issuer: Issuer, now: datetime | None = None) -> ResponderMaterial:
    """The issuer's responder, issuing a new certificate when there is none, it expires within the grace period,
    or the issuer's CA certificate changed."""
    now = now or timezone.now()
    ca_pem = (issuer.config or {}).get("ca_cert_pem", "")
    key = (issuer.pk, ca_pem)
    material = _current.get(key)
    if not _usable(material, ca_pem, now):
        row = OCSPResponder.objects.filter(issuer_id=issuer.pk).first()
        material = _material(row) if row is not None else None
        if not _usable(material, ca_pem, now):
            material = rotate(issuer, now=now, only_if_due=True)
        _current[key] = material
    return material


def rotate(issuer: Issuer, *, now: datetime | None = None, only_if_due: bool = False) -> ResponderMaterial:
    """Issue a fresh responder certificate (under a lock on the issuer, so concurrent callers make one)."""
    now = now or timezone.now()
    with transaction.atomic():
        Issuer.objects.select_for_update().filter(pk=issuer.pk).values_list("pk", flat=True).first()
        row = OCSPResponder.objects.filter(issuer_id=issuer.pk).first()
        ca_pem = (issuer.config or {}).get("ca_cert_pem", "")
        if only_if_due and row is not None and _usable(_material(row), ca_pem, now):
            return _material(row)
        certificate, key = issue_responder_certificate(
            load_ca(issuer), now=now, validity=timedelta(seconds=settings.OCSP_RESPONDER_VALIDITY)
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        fields = {
            "cert_pem": certificate.public_bytes(serialization.Encoding.PEM).decode(),
            "cert_serial": serial_hex(certificate.serial_number),
            "encrypted_key": encrypt_json({"private_key_pem": key_pem}),
            "key_algorithm": "ECDSA-P256",
            "not_before": certificate.not_valid_before_utc,
            "not_after": certificate.not_valid_after_utc,
            "rotated_from": row.cert_serial if row else "",
        }
        row, _ = OCSPResponder.objects.update_or_create(issuer_id=issuer.pk, defaults=fields)
    return _material(row)


def rotate_due(now: datetime | None = None) -> int:
    """Rotate every responder that expires within the grace period (the beat task); returns how many."""
    now = now or timezone.now()
    grace = timedelta(seconds=settings.OCSP_RESPONDER_ROTATION_GRACE)
    rotated = 0
    for row in OCSPResponder.objects.filter(not_after__lte=now + grace).select_related("issuer"):
        rotate(row.issuer, now=now, only_if_due=True)
        rotated += 1
    return rotated
