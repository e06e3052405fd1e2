"""The ACME issuer backend: one order per CSR (HTTP-01 answered by certctl or by the target's agent, or DNS-01
through a DNS provider),
revocation at the CA, renewal information (ARI), a health check."""

from __future__ import annotations

from datetime import datetime

from acme import messages
from cryptography import x509
from django.utils import timezone

from certificates.enums import REVOCATION_REASON_CODES, IssuerType
from certificates.inventory.models import CertificateVersion
from certificates.issuance.issuers.acme.account import check_account, open_client
from certificates.issuance.issuers.acme.agent_http01 import answering_target
from certificates.issuance.issuers.acme.config import (
    PUBLIC_KEYS,
    AcmeConfig,
    public_key_problems,
    read_config,
)
from certificates.issuance.issuers.acme.dns import DNS_01, HTTP_01_AGENT
from certificates.issuance.issuers.acme.network import issuer_error
from certificates.issuance.issuers.acme.orders import OrderRun
from certificates.issuance.issuers.acme.renewal_info import (
    cert_id,
    fetch_directory,
    fetch_renewal_info,
    offers_renewal_info,
)
from certificates.issuance.issuers.base import (
    HealthResult,
    IssuedCertificate,
    IssuerBackend,
    IssuerError,
    LeafRequest,
    RenewalInfo,
)


def csr_names(csr: x509.CertificateSigningRequest) -> set[str]:
    """The names an ACME CA will certify for this CSR: its CN and its DNS and IP SANs."""
    names = {str(a.value) for a in csr.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)}
    try:
        sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return names
    return (
        names
        | set(sans.get_values_for_type(x509.DNSName))
        | {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    )


class AcmeIssuer(IssuerBackend):
    type = IssuerType.ACME
    revokes_at_ca = True
    offers_renewal_info = True
    public_config_keys = PUBLIC_KEYS

    def __init__(self, issuer) -> None:
        super().__init__(issuer)
        self._directory: dict | None = None  # fetched once per instance by renewal_info()

    @classmethod
    def public_config_problems(cls, config) -> dict[str, str]:
        return public_key_problems(config)

    def _check_names(self, request: LeafRequest, config: AcmeConfig) -> None:
        wildcards = [name for name in request.dns_names if name.startswith("*.")]
        if wildcards and config.challenge != DNS_01:
            raise IssuerError(
                f"wildcard names need DNS-01: set challenge to dns-01 and a DNS provider in the config of issuer "
                f"{self.issuer.name} (it uses {config.challenge}; {', '.join(wildcards)})"
            )
        if request.emails:
            raise IssuerError("an ACME CA certifies DNS names and IP addresses, not e-mail addresses")
        wanted = set(request.dns_names) | {str(ip) for ip in request.ip_addresses}
        missing = sorted(wanted - csr_names(request.csr))
        if missing:
            # The CA certifies exactly the CSR's names; a leaf without some of the certificate's names is useless.
            raise IssuerError(
                f"an ACME CA certifies exactly the CSR's names; the CSR lacks {', '.join(missing)}"
            )

    def run(self, request: LeafRequest) -> OrderRun:
        """An order run for the request (placed or resumed by `start()`), for callers that drive the steps."""
        config = read_config(self.issuer)
        self._check_names(request, config)
        target = None
        if config.challenge == HTTP_01_AGENT:
            target = answering_target(request.certificate_id, self.issuer.name)
        client = open_client(self.issuer, config)
        run = OrderRun(client, self.issuer, request.csr, config.poll_timeout_seconds, dns01=config.dns01)
        run.agent_target, run.agent_publish_timeout = target, config.agent_publish_timeout_seconds
        run.replaces = self._replaced_cert_id(client, request.certificate_id)
        return run

    def _replaced_cert_id(self, client, certificate_id: str) -> str:
        """The ARI certID of the certificate's current, unexpired version from this CA, when the CA offers ARI
        (sent as the new order's `replaces`); empty otherwise."""
        if not certificate_id or not offers_renewal_info(client.directory):
            return ""
        version = (
            CertificateVersion.objects.filter(
                certificate_id=certificate_id, issuer=self.issuer, not_after__gt=timezone.now()
            )
            .order_by("-created_at", "-id")
            .only("pem_chain")
            .first()
        )
        if version is None:
            return ""
        try:
            return cert_id(x509.load_pem_x509_certificates(version.pem_chain.encode())[0])
        except (IssuerError, ValueError):
            return ""

    def renewal_info(self, certificate: x509.Certificate) -> RenewalInfo | None:
        """The CA's suggested renewal window (RFC 9773), or None when its directory offers no renewalInfo."""
        config = read_config(self.issuer)
        if self._directory is None:
            self._directory = fetch_directory(config.directory_url, config.tls_verify)
        base_url = self._directory.get("renewalInfo")
        if not isinstance(base_url, str) or not base_url:
            return None
        return fetch_renewal_info(base_url, certificate, config.tls_verify)

    def issue(self, request: LeafRequest) -> IssuedCertificate:
        """Order a certificate for the CSR's names, resuming the order a previous attempt left open."""
        run = self.run(request)
        run.start()
        leaf, *chain = run.finish()
        return IssuedCertificate(certificate=leaf, chain=chain)

    def revoke(self, serial_hex: str, reason: str) -> None:
        """Revoke at the CA with the RFC 5280 reason code (the certificate is read from its stored version)."""
        version = (
            CertificateVersion.objects.filter(issuer=self.issuer, serial_number=serial_hex.lower())
            .only("pem_chain")
            .first()
        )
        if version is None:
            raise IssuerError(f"no certificate with serial {serial_hex} was issued by {self.issuer.name}")
        certificate = x509.load_pem_x509_certificates(version.pem_chain.encode())[0]
        client = open_client(self.issuer, read_config(self.issuer))
        try:
            client.revoke(certificate, REVOCATION_REASON_CODES.get(reason, 0))
        except messages.Error as exc:
            if exc.code != "alreadyRevoked":  # a repeated request (a retried task): the CA knows
                raise issuer_error(exc, "revocation", client.net) from exc
        except Exception as exc:
            raise issuer_error(exc, "revocation", client.net) from exc

    def test(self, now: datetime | None = None) -> HealthResult:
        """Fetch the directory and register or look up the account."""
        try:
            config = read_config(self.issuer)
            client = open_client(self.issuer, config)
            account_url = check_account(self.issuer, client)
        except IssuerError as exc:
            return HealthResult(False, str(exc))
        return HealthResult(True, f"ACME directory {config.directory_url} answered; account {account_url}")
