"""The ACME issuer backend: one order per CSR (HTTP-01 answered by certctl), revocation at the CA, a health check."""

from __future__ import annotations

from datetime import datetime

from cryptography import x509

from certificates.enums import REVOCATION_REASON_CODES, IssuerType
from certificates.inventory.models import CertificateVersion
from certificates.issuance.issuers.acme.account import check_account, open_client
from certificates.issuance.issuers.acme.config import read_config
from certificates.issuance.issuers.acme.network import issuer_error
from certificates.issuance.issuers.acme.orders import OrderRun
from certificates.issuance.issuers.base import (
    HealthResult,
    IssuedCertificate,
    IssuerBackend,
    IssuerError,
    LeafRequest,
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

    def _check_names(self, request: LeafRequest) -> None:
        if any(name.startswith("*.") for name in request.dns_names):
            raise IssuerError("wildcard names need DNS-01, not supported yet")
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
        self._check_names(request)
        config = read_config(self.issuer)
        client = open_client(self.issuer, config)
        return OrderRun(client, self.issuer, request.csr, config.poll_timeout_seconds)

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
