"""Answering an order's challenges: HTTP-01 served by certctl or by the agent of the certificate's target
(agent_http01.py), or DNS-01 published by the issuer's DNS provider.

Every pending authorization's answer is published first (an AcmeHttpChallenge row, or a TXT record at
`_acme-challenge.<name>` recorded in the order's authorizations before the provider is called, so a resumed order
knows what to remove); for DNS-01 certctl then waits until the records are visible at the configured nameservers,
and for HTTP-01 through an agent it waits until the agent reports every answer published; only then it tells the CA
to validate. TXT records are removed when the order run ends, successful or not.
"""

from __future__ import annotations

import logging
import time

from acme import challenges, messages

from certificates.inventory.models import DeploymentTarget
from certificates.issuance.issuers.acme.agent_http01 import wait_until_published
from certificates.issuance.issuers.acme.dns import Dns01Settings
from certificates.issuance.issuers.acme.dns.propagation import wait_until_visible
from certificates.issuance.issuers.base import IssuerError
from certificates.issuance.models import AcmeHttpChallenge

logger = logging.getLogger(__name__)


class ChallengeAnswering:
    """The challenge part of an OrderRun (which provides client, order, deadline, timeout, _acme and _save)."""

    dns01: Dns01Settings | None = None  # None: HTTP-01 answered by certctl
    agent_target: DeploymentTarget | None = None  # http-01-agent: the target whose agent publishes HTTP-01
    agent_publish_timeout: int = 120

    def answer_challenges(self) -> None:
        """Publish the answer of every pending authorization, wait for DNS-01 records to be visible, answer."""
        kind = challenges.DNS01 if self.dns01 else challenges.HTTP01
        entries = list(self.order.authorizations)
        to_answer = []
        for index, entry in enumerate(entries):
            url = entry["url"]
            authz = self._acme(
                lambda url=url: self.client._authzr_from_response(self.client._post_as_get(url), uri=url),
                "authorization fetch",
            )
            identifier = authz.body.identifier.value
            entry = {**entry, "identifier": identifier, "status": authz.body.status.name}
            if authz.body.status == messages.STATUS_PENDING:
                challenge = next((c for c in authz.body.challenges if isinstance(c.chall, kind)), None)
                if challenge is None:
                    raise IssuerError(f"the ACME CA offers no {kind.typ} challenge for {identifier}")
                response, validation = challenge.response_and_validation(self.client.net.key)
                entry.update(challenge_url=challenge.uri, challenge_status=challenge.status.name)
                if self.dns01:
                    entries[index] = self._publish_txt(entries, index, entry, challenge, validation)
                else:
                    token = challenge.chall.encode("token")
                    AcmeHttpChallenge.objects.update_or_create(
                        token=token,
                        defaults={
                            "key_authorization": validation,
                            "order": self.order,
                            "target": self.agent_target,
                        },
                    )
                    entry["token"] = token
                if challenge.status == messages.STATUS_PENDING:
                    to_answer.append((index, challenge, response))
            entries[index] = {**entries[index], **entry}
            self._save(authorizations=list(entries))
        if self.dns01 and to_answer:
            published = [
                (entries[index]["dns_name"], entries[index]["dns_value"]) for index, _c, _r in to_answer
            ]
            wait_until_visible(
                published, self.dns01.propagation_nameservers, self.dns01.propagation_timeout_seconds
            )
            # The wait for validation starts once the records are visible.
            self.deadline = max(self.deadline, time.monotonic() + self.timeout)
        elif self.agent_target is not None and to_answer:
            tokens = {entries[index]["token"]: entries[index]["identifier"] for index, _c, _r in to_answer}
            wait_until_published(list(tokens), self.agent_publish_timeout, tokens)
            self.deadline = max(self.deadline, time.monotonic() + self.timeout)
        for index, challenge, response in to_answer:
            answered = self._acme(
                lambda c=challenge, r=response: self.client.answer_challenge(c, r), "challenge answer"
            )
            entries[index] = {**entries[index], "challenge_status": answered.body.status.name}
            self._save(authorizations=list(entries))

    def _publish_txt(self, entries: list[dict], index: int, entry: dict, challenge, validation: str) -> dict:
        record = challenge.chall.validation_domain_name(entry["identifier"])
        entry = {**entry, "dns_name": record, "dns_value": validation, "dns_published": True}
        entries[index] = entry
        self._save(authorizations=list(entries))  # recorded first: whoever resumes the order can remove it
        self.dns01.provider.present(record, validation)
        return entry

    def withdraw_dns_records(self) -> None:
        """Remove the TXT records this order published (after success and failure alike); a removal that fails
        is logged and left, never raised over the order's outcome."""
        if self.order is None or self.dns01 is None:
            return
        entries = list(self.order.authorizations)
        removed = False
        for index, entry in enumerate(entries):
            if not entry.get("dns_published"):
                continue
            try:
                self.dns01.provider.cleanup(entry["dns_name"], entry["dns_value"])
            except IssuerError as exc:
                logger.warning(
                    "DNS-01 record not removed",
                    extra={"order": self.order.pk, "record": entry["dns_name"], "error": str(exc)},
                )
                continue
            entries[index] = {**entry, "dns_published": False}
            removed = True
        if removed:
            self._save(authorizations=entries)
