"""One ACME order, step by step, saved in an AcmeOrder row after each step so a retried job resumes it (with the
same CSR, or with a new one for the same names while the order is not finalized yet).

The steps follow the order's status at the CA, so a new order and a resumed one take the same path:
pending -> answer each pending challenge (answers.py: HTTP-01 served by certctl, or DNS-01 through the issuer's
DNS provider) and wait for the authorizations; ready -> finalize with the CSR; processing -> wait; valid ->
download the chain, delete the challenge rows, mark the order `completed`. DNS-01 TXT records are removed when
`finish()` returns or raises.
"""

from __future__ import annotations

import hashlib
import time

from acme import messages
from acme.client import ClientV2
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.db import IntegrityError, transaction

from certificates.inventory.models import Issuer
from certificates.issuance.issuers.acme.answers import ChallengeAnswering
from certificates.issuance.issuers.acme.dns import Dns01Settings
from certificates.issuance.issuers.acme.network import issuer_error
from certificates.issuance.issuers.acme.renewal_info import new_order
from certificates.issuance.issuers.base import IssuerError
from certificates.issuance.models import AcmeHttpChallenge, AcmeOrder

FIRST_POLL_SECONDS = 0.2
MAX_POLL_SECONDS = 5.0


def csr_fingerprint(csr: x509.CertificateSigningRequest) -> str:
    return hashlib.sha256(csr.public_bytes(serialization.Encoding.DER)).hexdigest()


def csr_identifiers(csr: x509.CertificateSigningRequest) -> frozenset[str]:
    """The names an order for this CSR is for: its CN and its DNS and IP SANs, lower-case."""
    names = {str(a.value) for a in csr.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)}
    try:
        sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        sans = x509.SubjectAlternativeName([])
    names |= set(sans.get_values_for_type(x509.DNSName))
    names |= {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    return frozenset(name.lower() for name in names)


def open_order(issuer: Issuer, csr: x509.CertificateSigningRequest) -> AcmeOrder | None:
    """The order a previous attempt left open for this CSR; else one for the same names that can still be
    finalized with any CSR (pending or ready), taken over for this one: in server keygen mode a retry brings a
    new key, and an order is for names, not for a key (RFC 8555 7.4)."""
    fingerprint = csr_fingerprint(csr)
    orders = AcmeOrder.objects.filter(issuer=issuer).order_by("-created_at")
    own = orders.filter(csr_fingerprint=fingerprint, status__in=AcmeOrder.OPEN_STATUSES).first()
    if own is not None:
        return own
    names = csr_identifiers(csr)
    for order in orders.filter(status__in=("pending", "ready")).only("pk", "identifiers", "csr_fingerprint"):
        if frozenset(name.lower() for name in order.identifiers) != names:
            continue
        try:
            with transaction.atomic():
                taken = AcmeOrder.objects.filter(
                    pk=order.pk, csr_fingerprint=order.csr_fingerprint, status__in=("pending", "ready")
                ).update(csr_fingerprint=fingerprint)
        except IntegrityError:  # another worker placed an order for this very CSR a moment ago
            taken = 0
        if taken:
            return AcmeOrder.objects.get(pk=order.pk)
    return orders.filter(csr_fingerprint=fingerprint, status__in=AcmeOrder.OPEN_STATUSES).first()


class OrderRun(ChallengeAnswering):
    """Drives one order to a certificate with one client; `steps` stops early (tests, resumption)."""

    replaces = ""  # ARI certID of the certificate this order renews (set by the backend), sent in newOrder

    def __init__(
        self,
        client: ClientV2,
        issuer: Issuer,
        csr: x509.CertificateSigningRequest,
        timeout: int,
        dns01: Dns01Settings | None = None,
    ):
        self.client = client
        self.issuer = issuer
        self.csr = csr
        self.csr_pem = csr.public_bytes(serialization.Encoding.PEM)
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.dns01 = dns01
        self.order: AcmeOrder | None = None

    def _acme(self, call, doing: str):
        try:
            return call()
        except Exception as exc:
            raise issuer_error(exc, doing, self.client.net) from exc

    def _save(self, **fields) -> None:
        for name, value in fields.items():
            setattr(self.order, name, value)
        self.order.save(update_fields=[*fields, "updated_at"])

    def start(self) -> AcmeOrder:
        """Resume the open order for this CSR, or place a new one."""
        self.order = open_order(self.issuer, self.csr)
        if self.order is not None:
            return self.order
        placed = self._acme(lambda: new_order(self.client, self.csr_pem, self.replaces), "new order")
        body = placed.body
        try:
            with transaction.atomic():
                self.order = AcmeOrder.objects.create(
                    issuer=self.issuer,
                    csr_fingerprint=csr_fingerprint(self.csr),
                    order_url=placed.uri,
                    status=body.status.name,
                    identifiers=[i.value for i in body.identifiers],
                    authorizations=[{"url": url} for url in body.authorizations],
                )
        except IntegrityError:  # another worker placed one for this CSR a moment ago: use theirs
            self.order = open_order(self.issuer, self.csr)
            if self.order is None:
                raise
        return self.order

    def fetch(self) -> messages.Order:
        """The order as the CA sees it now; its status is saved."""
        response = self._acme(lambda: self.client._post_as_get(self.order.order_url), "order poll")
        body = messages.Order.from_json(response.json())
        fields = {"status": body.status.name}
        if body.certificate:
            fields["certificate_url"] = body.certificate
        if body.error is not None:
            fields["error"] = f"{body.error.typ}: {body.error.detail}"
        self._save(**fields)
        return body

    def wait_while(self, statuses: tuple[str, ...], doing: str) -> messages.Order:
        """Poll the order until it leaves `statuses` (honouring Retry-After, never past the deadline)."""
        pause = FIRST_POLL_SECONDS
        while True:
            body = self.fetch()
            if body.status.name not in statuses:
                return body
            if time.monotonic() + pause > self.deadline:
                raise IssuerError(
                    f"ACME {doing} still {body.status.name} at the deadline; the order resumes on retry",
                    permanent=False,
                )
            time.sleep(pause)
            pause = min(pause * 2, MAX_POLL_SECONDS)

    def failed_authorizations(self) -> str:
        """Why the authorizations failed, from the CA's challenge errors."""
        reasons = []
        for entry in self.order.authorizations:
            url = entry["url"]
            authz = self._acme(
                lambda url=url: self.client._authzr_from_response(self.client._post_as_get(url), uri=url),
                "authorization fetch",
            )
            for challenge in authz.body.challenges:
                if challenge.error is not None:
                    reasons.append(
                        f"{authz.body.identifier.value}: {challenge.error.typ}: {challenge.error.detail}"
                    )
        return "; ".join(reasons) or "no challenge error given"

    def finish(self) -> list[x509.Certificate]:
        """Take the order from wherever it is to the downloaded chain (leaf first)."""
        try:
            return self._finish()
        finally:
            self.withdraw_dns_records()

    def _finish(self) -> list[x509.Certificate]:
        body = self.fetch()
        if body.status == messages.STATUS_PENDING:
            self.answer_challenges()
            body = self.wait_while(("pending",), "authorization")
        if body.status == messages.STATUS_READY:
            finalize_url = body.finalize
            try:
                self.client._post(finalize_url, messages.CertificateRequest(csr=self.csr))
            except messages.Error as exc:
                if exc.code != "orderNotReady":
                    raise issuer_error(exc, "finalize", self.client.net) from exc
            except Exception as exc:
                raise issuer_error(exc, "finalize", self.client.net) from exc
            body = self.wait_while(("ready", "processing"), "finalization")
        elif body.status == messages.STATUS_PROCESSING:
            body = self.wait_while(("processing",), "finalization")
        if body.status == messages.STATUS_INVALID:
            self.discard_challenges()
            reason = self.order.error or self.failed_authorizations()
            self._save(error=reason)
            raise IssuerError(f"the ACME CA refused the order {self.order.order_url}: {reason}")
        if body.status != messages.STATUS_VALID or not body.certificate:
            raise IssuerError(f"the ACME order is {body.status.name}, not valid", permanent=False)
        response = self._acme(lambda: self.client._post_as_get(body.certificate), "certificate download")
        chain = x509.load_pem_x509_certificates(response.text.encode())
        if _public_key(chain[0]) != _public_key(self.csr):
            # A taken-over order an earlier attempt had already finalized: its key is gone with that attempt.
            with transaction.atomic():
                self.discard_challenges()
                self._save(status="abandoned", error="finalized with an earlier attempt's CSR")
            raise IssuerError(
                f"the ACME order {self.order.order_url} was finalized by an earlier attempt with another key; "
                "a new order is placed on retry",
                permanent=False,
            )
        with transaction.atomic():
            self.discard_challenges()
            self._save(status="completed", error="")
        return chain

    def discard_challenges(self) -> None:
        AcmeHttpChallenge.objects.filter(order=self.order).delete()


def _public_key(holder: x509.Certificate | x509.CertificateSigningRequest) -> bytes:
    return holder.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
