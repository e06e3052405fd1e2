"""One ACME order, step by step, saved in an AcmeOrder row after each step so a retried job resumes it.

The steps follow the order's status at the CA, so a new order and a resumed one take the same path:
pending -> answer each pending HTTP-01 challenge (the key authorisation goes into an AcmeHttpChallenge row that
certctl serves at /.well-known/acme-challenge/<token>) and wait for the authorizations; ready -> finalize with
the CSR; processing -> wait; valid -> download the chain, delete the challenge rows, mark the order `completed`.
"""

from __future__ import annotations

import hashlib
import time

from acme import challenges, messages
from acme.client import ClientV2
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.db import IntegrityError, transaction

from certificates.inventory.models import Issuer
from certificates.issuance.issuers.acme.network import issuer_error
from certificates.issuance.issuers.base import IssuerError
from certificates.issuance.models import AcmeHttpChallenge, AcmeOrder

FIRST_POLL_SECONDS = 0.2
MAX_POLL_SECONDS = 5.0


def csr_fingerprint(csr: x509.CertificateSigningRequest) -> str:
    return hashlib.sha256(csr.public_bytes(serialization.Encoding.DER)).hexdigest()


def open_order(issuer: Issuer, csr: x509.CertificateSigningRequest) -> AcmeOrder | None:
    """The order a previous attempt left open for this CSR, if any."""
    return (
        AcmeOrder.objects.filter(
            issuer=issuer, csr_fingerprint=csr_fingerprint(csr), status__in=AcmeOrder.OPEN_STATUSES
        )
        .order_by("-created_at")
        .first()
    )


class OrderRun:
    """Drives one order to a certificate with one client; `steps` stops early (tests, resumption)."""

    def __init__(self, client: ClientV2, issuer: Issuer, csr: x509.CertificateSigningRequest, timeout: int):
        self.client = client
        self.issuer = issuer
        self.csr = csr
        self.csr_pem = csr.public_bytes(serialization.Encoding.PEM)
        self.deadline = time.monotonic() + timeout
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
        placed = self._acme(lambda: self.client.new_order(self.csr_pem), "new order")
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

    def answer_challenges(self) -> None:
        """Publish and answer the HTTP-01 challenge of every pending authorization."""
        recorded = []
        for entry in self.order.authorizations:
            url = entry["url"]
            authz = self._acme(
                lambda url=url: self.client._authzr_from_response(self.client._post_as_get(url), uri=url),
                "authorization fetch",
            )
            entry = {**entry, "identifier": authz.body.identifier.value, "status": authz.body.status.name}
            if authz.body.status == messages.STATUS_PENDING:
                challenge = next(
                    (c for c in authz.body.challenges if isinstance(c.chall, challenges.HTTP01)), None
                )
                if challenge is None:
                    raise IssuerError(
                        f"the ACME CA offers no HTTP-01 challenge for {entry['identifier']}; "
                        "DNS-01 is not supported yet"
                    )
                response, key_authorization = challenge.response_and_validation(self.client.net.key)
                AcmeHttpChallenge.objects.update_or_create(
                    token=challenge.chall.encode("token"),
                    defaults={"key_authorization": key_authorization, "order": self.order},
                )
                entry.update(challenge_url=challenge.uri, token=challenge.chall.encode("token"))
                if challenge.status == messages.STATUS_PENDING:
                    answered = self._acme(
                        lambda c=challenge, r=response: self.client.answer_challenge(c, r), "challenge answer"
                    )
                    entry["challenge_status"] = answered.body.status.name
                else:
                    entry["challenge_status"] = challenge.status.name
            recorded.append(entry)
            self._save(authorizations=[*recorded, *self.order.authorizations[len(recorded) :]])

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
        with transaction.atomic():
            self.discard_challenges()
            self._save(status="completed", error="")
        return chain

    def discard_challenges(self) -> None:
        AcmeHttpChallenge.objects.filter(order=self.order).delete()
