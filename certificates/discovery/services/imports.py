"""Bulk import of certificates an operator already has: PEM bundles, DER files and PKCS#12 archives.

Every certificate of a file becomes a discovered certificate (source `import`), recorded through `record(...)`:
each leaf (a certificate that is not a CA) with the bundle's CA certificates on its path as its chain; a file of
CA certificates only imports each of them. A private key in the file is stored (encrypted) only when asked for,
and only if it belongs to one of the imported certificates. One transaction: a file with any problem stores
nothing. Each import writes one `certificates_imported` audit row (count, file name, fingerprints; never a key).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services.record import record as audit
from certctl.kernel.certificate_facts import read_facts
from certctl.kernel.ids import new_id
from certificates.compliance.services.evaluate import evaluate_discovered
from certificates.discovery.models import DiscoveredCertificate
from certificates.discovery.services.record import record

MAX_CERTIFICATES = 1000
PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)
# A PKCS#12 PFX: SEQUENCE { INTEGER 3, ContentInfo { OID pkcs7-data ... } }.
PKCS7_DATA_OID = bytes.fromhex("06092a864886f70d010701")


class ImportRejected(ValueError):
    """The file cannot be imported; `code` is the API's machine-readable error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ImportTooLarge(ImportRejected):
    pass


@dataclass
class ParsedFile:
    certificates: list[x509.Certificate]
    keys: list = field(default_factory=list)  # private keys, only when the import asked for them
    kind: str = "pem"  # pem, der, pkcs12
    keys_found: int = 0  # private keys in the file, read or not


@dataclass(frozen=True)
class ImportedCertificate:
    certificate: DiscoveredCertificate
    created: bool
    has_private_key: bool  # a private key was stored with this import


@dataclass(frozen=True)
class ImportResult:
    import_id: str
    kind: str
    items: list[ImportedCertificate]
    keys_ignored: bool  # the file held a key and the import did not ask for it


def _secret(password: str | bytes | None) -> bytes | None:
    if password in (None, "", b""):
        return None
    return password.encode() if isinstance(password, str) else password


def _looks_like_pkcs12(data: bytes) -> bool:
    return data[:1] == b"\x30" and b"\x02\x01\x03" in data[:8] and PKCS7_DATA_OID in data[:40]


def _load_key(block: bytes, password: bytes | None):
    try:
        return serialization.load_pem_private_key(block, password=password)
    except TypeError as exc:  # encrypted without a password given, or a password for a plain key
        if password is None:
            raise ImportRejected(
                "password_required", "the private key is encrypted: give its password"
            ) from exc
        return serialization.load_pem_private_key(block, password=None)
    except ValueError as exc:
        if password is not None and b"ENCRYPTED" in block:
            raise ImportRejected("wrong_password", "the password does not open the private key") from exc
        raise ImportRejected("bad_private_key", "a private key in the file cannot be read") from exc


def _parse_pem(data: bytes, password: bytes | None, with_keys: bool) -> ParsedFile:
    parsed = ParsedFile(certificates=[], kind="pem")
    for match in PEM_BLOCK.finditer(data):
        label, block = match.group(1), match.group(0)
        if label == b"CERTIFICATE":
            if len(parsed.certificates) >= MAX_CERTIFICATES:
                raise ImportRejected(
                    "too_many_certificates", f"more than {MAX_CERTIFICATES} certificates in one import"
                )
            try:
                parsed.certificates.append(x509.load_pem_x509_certificate(block))
            except ValueError as exc:
                number = len(parsed.certificates) + 1
                raise ImportRejected("bad_certificate", f"certificate {number} cannot be read") from exc
        elif label.endswith(b"PRIVATE KEY"):
            parsed.keys_found += 1
            if with_keys:
                parsed.keys.append(_load_key(block, password))
    return parsed


def _parse_pkcs12(data: bytes, password: bytes | None, with_keys: bool) -> ParsedFile:
    loaded = None
    for attempt in (password, None) if password is not None else (None,):
        try:
            loaded = pkcs12.load_key_and_certificates(data, attempt)
            break
        except ValueError:
            continue
    if loaded is None:
        if password is None:
            raise ImportRejected("password_required", "the PKCS#12 file is protected: give its password")
        raise ImportRejected("wrong_password", "the password does not open the PKCS#12 file")
    key, cert, additional = loaded
    certificates = ([cert] if cert is not None else []) + list(additional or [])
    return ParsedFile(
        certificates=certificates,
        keys=[key] if key is not None and with_keys else [],
        kind="pkcs12",
        keys_found=int(key is not None),
    )


def parse_file(data: bytes, *, password: str | bytes | None = None, with_keys: bool = False) -> ParsedFile:
    """The certificates (and, with `with_keys`, the private keys) of a PEM bundle, a DER certificate or a PKCS#12
    archive. ImportRejected with a code for anything else."""
    secret = _secret(password)
    if b"-----BEGIN" in data:
        parsed = _parse_pem(data, secret, with_keys)
    else:
        try:
            parsed = ParsedFile(certificates=[x509.load_der_x509_certificate(data)], kind="der")
        except ValueError:
            if not _looks_like_pkcs12(data):
                raise ImportRejected(
                    "no_certificate", "not a PEM bundle, DER certificate or PKCS#12 file"
                ) from None
            parsed = _parse_pkcs12(data, secret, with_keys)
    if not parsed.certificates:
        raise ImportRejected("no_certificate", "the file holds no certificate")
    if len(parsed.certificates) > MAX_CERTIFICATES:
        raise ImportRejected(
            "too_many_certificates", f"more than {MAX_CERTIFICATES} certificates in one import"
        )
    return parsed


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, ValueError):
        return False


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool | None:
    """Whether `issuer`'s key signed `cert`; None when the signature algorithm cannot be checked (SHA-1, MD5)."""
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, TypeError):
        return False
    except (ValueError, UnsupportedAlgorithm):
        return None
    return True


def _issuer_of(cert: x509.Certificate, cas: Sequence[x509.Certificate]) -> x509.Certificate | None:
    """The CA that signed it; by name alone when its signature cannot be checked."""
    named = [(ca, _issued_by(cert, ca)) for ca in cas if ca.subject == cert.issuer and ca is not cert]
    verified = [ca for ca, signed in named if signed]
    unknown = [ca for ca, signed in named if signed is None]
    return (verified or unknown or [None])[0]


def _path(leaf: x509.Certificate, cas: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """The bundle's CA certificates from the leaf's issuer upwards, as far as the bundle goes."""
    chain, current = [], leaf
    while current.subject != current.issuer:
        issuer = _issuer_of(current, cas)
        if issuer is None or any(issuer is seen for seen in chain):
            break
        chain.append(issuer)
        current = issuer
    return chain


def _spki(public_key) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def plan(parsed: ParsedFile) -> list[tuple[x509.Certificate, list[x509.Certificate]]]:
    """(certificate, chain) pairs to record: each leaf with its CA path, or each CA of a CA-only bundle."""
    unique: dict[bytes, x509.Certificate] = {}
    for cert in parsed.certificates:
        unique.setdefault(cert.fingerprint(hashes.SHA256()), cert)
    certs = list(unique.values())
    cas = [cert for cert in certs if _is_ca(cert)]
    leaves = [cert for cert in certs if not _is_ca(cert)]
    if not leaves:
        return [(ca, []) for ca in cas]
    return [(leaf, _path(leaf, cas)) for leaf in leaves]


def _keys_by_certificate(parsed: ParsedFile, planned) -> dict[int, bytes]:
    """PKCS#8 PEM of each key, by the index of the planned certificate it belongs to; a key that belongs to none
    of them refuses the import."""
    matched: dict[int, bytes] = {}
    spkis = [_spki(cert.public_key()) for cert, _ in planned]
    for key in parsed.keys:
        wanted = _spki(key.public_key())
        indexes = [i for i, spki in enumerate(spkis) if spki == wanted]
        if not indexes:
            raise ImportRejected(
                "key_mismatch", "the private key belongs to none of the imported certificates"
            )
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        for index in indexes:
            matched[index] = pem
    return matched


def import_certificates(
    data: bytes,
    *,
    filename: str = "",
    password: str | bytes | None = None,
    include_private_key: bool = False,
    actor: str = "system",
    actor_type: str = "System",
    now: datetime | None = None,
) -> ImportResult:
    """Import the certificates of one file (see the module docstring). Raises ImportRejected (nothing stored)."""
    if len(data) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        raise ImportTooLarge(
            "payload_too_large",
            f"file over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes (CERTCTL_MAX_BODY_SIZE)",
        )
    parsed = parse_file(data, password=password, with_keys=include_private_key)
    planned = plan(parsed)
    if include_private_key and not parsed.keys:
        raise ImportRejected("no_private_key", "a private key was asked for but the file holds none")
    keys = _keys_by_certificate(parsed, planned)
    now = now or timezone.now()
    import_id = new_id("dimport")
    filename = filename[:200]
    detail = f"import {import_id} of {filename or 'a file'} by {actor}"
    items: list[ImportedCertificate] = []
    with transaction.atomic():
        for index, (cert, chain) in enumerate(planned):
            recorded = record(
                read_facts(cert),
                seen_at=now,
                chain=[read_facts(ca) for ca in chain],
                private_key_pem=keys.get(index),
                detail=detail,
                actor=actor,
            )
            items.append(ImportedCertificate(recorded.certificate, recorded.created, index in keys))
        audit(
            "certificates_imported",
            resource_type="discovery_import",
            resource_id=import_id,
            actor=actor,
            actor_type=actor_type,
            details={
                "count": len(items),
                "new": sum(item.created for item in items),
                "filename": filename,
                "format": parsed.kind,
                "fingerprints": [item.certificate.fingerprint_sha256 for item in items],
                "certificate_ids": [item.certificate.pk for item in items],
                "keys_imported": len(keys),
            },
        )
    evaluate_discovered([item.certificate.pk for item in items])
    return ImportResult(
        import_id, parsed.kind, items, keys_ignored=bool(parsed.keys_found) and not include_private_key
    )
