"""The built-in local CA (issuer type `local`): signs leaves with a CA key kept encrypted in the database."""

from __future__ import annotations

import functools
import ipaddress
from datetime import UTC, datetime, timedelta
from threading import Lock

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings

from certctl.kernel.x509 import key_usage
from certificates.enums import IssuerType
from certificates.issuance.issuers.base import (
    HealthResult,
    IssuedCertificate,
    IssuerBackend,
    IssuerError,
    LeafRequest,
)
from certificates.issuance.issuers.ca_store import CAMaterial, CANotConfigured, load_ca

EKU_OIDS = {
    "serverAuth": ExtendedKeyUsageOID.SERVER_AUTH,
    "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "codeSigning": ExtendedKeyUsageOID.CODE_SIGNING,
    "emailProtection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "timeStamping": ExtendedKeyUsageOID.TIME_STAMPING,
}

_cache_lock = Lock()
# issuer id -> (the stored material it was decrypted from, the material)
_material_cache: dict[str, tuple[tuple[str, str], CAMaterial]] = {}
_CACHE_LIMIT = 64


def cached_material(issuer) -> CAMaterial:
    """The issuer's CA, decrypted once per process and re-read whenever its stored material changes."""
    # Compared as strings, not hashed: the same objects compare by identity, changed ones by memcmp.
    source = (issuer.encrypted_config or "", (issuer.config or {}).get("ca_cert_pem", ""))
    with _cache_lock:
        cached = _material_cache.get(issuer.pk)
    if cached is not None and cached[0] == source:
        return cached[1]
    material = load_ca(issuer)
    with _cache_lock:
        if len(_material_cache) >= _CACHE_LIMIT:
            _material_cache.clear()
        _material_cache[issuer.pk] = (source, material)
    return material


@functools.lru_cache(maxsize=256)
def _url_extensions(
    issuer_id: str, public_url: str
) -> tuple[x509.CRLDistributionPoints, x509.AuthorityInformationAccess]:
    """The CRL and OCSP pointers every leaf of one issuer carries (built once per issuer and public URL)."""
    return (
        x509.CRLDistributionPoints(
            [
                x509.DistributionPoint(
                    full_name=[x509.UniformResourceIdentifier(crl_url(issuer_id))],
                    relative_name=None,
                    reasons=None,
                    crl_issuer=None,
                )
            ]
        ),
        x509.AuthorityInformationAccess(
            [
                x509.AccessDescription(
                    x509.AuthorityInformationAccessOID.OCSP,
                    x509.UniformResourceIdentifier(ocsp_url(issuer_id)),
                )
            ]
        ),
    )


def crl_url(issuer_id: str) -> str:
    return f"{settings.PUBLIC_URL}/.well-known/pki/crl/{issuer_id}"


def ocsp_url(issuer_id: str) -> str:
    return f"{settings.PUBLIC_URL}/.well-known/pki/ocsp/{issuer_id}"


class LocalCA(IssuerBackend):
    type = IssuerType.LOCAL
    can_sign_crl = True
    # ca_store writes the CA certificate and chain, ca_setup the parent; key_algorithm and key_size are
    # descriptions an operator may note (the key itself is in the secrets).
    public_config_keys = frozenset(
        {"ca_cert_pem", "chain_pem", "parent_issuer_id", "key_algorithm", "key_size"}
    )

    def _material(self) -> CAMaterial:
        try:
            return cached_material(self.issuer)
        except CANotConfigured as exc:
            raise IssuerError(f"{exc}; run `manage.py init_ca` or `import_ca` first") from exc

    def crl_signer(self) -> CAMaterial:
        return self._material()

    def issue(self, request: LeafRequest) -> IssuedCertificate:
        ca = self._material()
        crl_pointer, ocsp_pointer = _url_extensions(self.issuer.pk, settings.PUBLIC_URL)
        now = (request.now or datetime.now(UTC)).replace(microsecond=0)
        if ca.not_after <= now:
            raise IssuerError(
                f"the CA certificate of issuer {self.issuer.name} expired on {ca.not_after:%Y-%m-%d}"
            )
        not_after = min(now + request.validity, ca.not_after)
        public_key = request.csr.public_key()
        names: list[x509.GeneralName] = [x509.DNSName(n) for n in request.dns_names]
        names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in request.ip_addresses]
        names += [x509.RFC822Name(e) for e in request.emails]
        usage_for_encryption = isinstance(public_key, rsa.RSAPublicKey)
        builder = (
            x509.CertificateBuilder()
            .subject_name(request.subject)
            .issuer_name(ca.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                key_usage(digital_signature=True, key_encipherment=usage_for_encryption),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(ca.authority_key_identifier, critical=False)
            .add_extension(crl_pointer, critical=False)
            .add_extension(ocsp_pointer, critical=False)
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        if request.ekus:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([EKU_OIDS[name] for name in request.ekus]), critical=False
            )
        if request.must_staple:
            builder = builder.add_extension(
                x509.TLSFeature([x509.TLSFeatureType.status_request]), critical=False
            )
        try:
            certificate = builder.sign(ca.private_key, ca.signature_algorithm)
        except (ValueError, TypeError) as exc:
            raise IssuerError(f"signing failed: {exc}") from exc
        return IssuedCertificate(
            certificate=certificate, chain=[ca.certificate, *ca.chain], chain_pem=ca.chain_pem
        )

    def revoke(self, serial_hex: str, reason: str) -> None:
        # The CertificateRevocation row is the local CA's revocation list; nothing else to tell.
        return None

    def test(self, now: datetime | None = None) -> HealthResult:
        """Sign a throw-away leaf and verify it with the CA's public key."""
        now = now or datetime.now(UTC)
        try:
            ca = self._material()
        except IssuerError as exc:
            return HealthResult(False, str(exc))
        try:
            usage = ca.certificate.extensions.get_extension_for_class(x509.KeyUsage).value
            if not usage.key_cert_sign:
                return HealthResult(False, "the CA certificate does not allow certificate signing")
        except x509.ExtensionNotFound:
            pass
        if ca.not_after <= now:
            return HealthResult(False, f"the CA certificate expired on {ca.not_after:%Y-%m-%d}")
        probe_key = ec.generate_private_key(ec.SECP256R1())
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "certctl-issuer-test")]))
            .sign(probe_key, hashes.SHA256())
        )
        try:
            issued = self.issue(
                LeafRequest(
                    csr=csr, subject=csr.subject, validity=timedelta(minutes=5), now=now, ekus=["serverAuth"]
                )
            )
            issued.certificate.verify_directly_issued_by(ca.certificate)
        except (IssuerError, ValueError, TypeError, InvalidSignature) as exc:
            return HealthResult(False, f"test signature failed: {exc}")
        days = (ca.not_after - now).days
        return HealthResult(True, f"signed a test certificate; the CA is valid for {days} more days")
