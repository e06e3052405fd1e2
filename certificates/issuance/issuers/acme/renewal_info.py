"""ACME Renewal Information (RFC 9773): the certificate identifier, the CA's suggested window, and new orders that
say which certificate they replace.

The renewalInfo resource is fetched with a plain GET (no account, no JWS). `replaces` is a field of the newOrder
request that the `acme` library does not know, so the order is posted here with it added.
"""

from __future__ import annotations

import base64

import josepy as jose
import requests
from acme import crypto_util, messages
from acme.client import ClientV2
from cryptography import x509
from django.utils.dateparse import parse_datetime

from certificates.issuance.issuers.acme.network import (
    NETWORK_TIMEOUT_SECONDS,
    USER_AGENT,
    issuer_error,
    retry_after_seconds,
)
from certificates.issuance.issuers.base import IssuerError, RenewalInfo


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def cert_id(certificate: x509.Certificate) -> str:
    """RFC 9773 §4.1: base64url(AKI keyIdentifier) "." base64url(DER bytes of the serial, without tag and length)."""
    try:
        aki = certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound as exc:
        raise IssuerError("the certificate has no authority key identifier; ARI cannot name it") from exc
    if aki.key_identifier is None:
        raise IssuerError(
            "the certificate's authority key identifier has no keyIdentifier; ARI cannot name it"
        )
    serial = certificate.serial_number
    # A DER INTEGER is signed: one more bit for the sign, so a serial with its top bit set gets a 0x00 first.
    serial_der = serial.to_bytes(serial.bit_length() // 8 + 1, "big")
    return f"{_b64url(aki.key_identifier)}.{_b64url(serial_der)}"


def offers_renewal_info(directory: messages.Directory) -> bool:
    """Whether the CA's directory names a renewalInfo resource."""
    try:
        return bool(directory["renewalInfo"])
    except KeyError:
        return False


def fetch_directory(directory_url: str, verify: bool | str) -> dict:
    """The CA's directory as a plain JSON object (the ACME library's client would need the account key)."""
    try:
        response = requests.get(
            directory_url, timeout=NETWORK_TIMEOUT_SECONDS, verify=verify, headers={"User-Agent": USER_AGENT}
        )
        response.raise_for_status()
        directory = response.json()
    except requests.HTTPError as exc:
        raise IssuerError(
            f"ACME directory fetch failed: HTTP {exc.response.status_code}",
            permanent=exc.response.status_code < 500,
        ) from exc
    except Exception as exc:
        raise issuer_error(exc, "directory fetch") from exc
    if not isinstance(directory, dict):
        raise IssuerError("ACME directory fetch failed: the answer is not a JSON object")
    return directory


def fetch_renewal_info(base_url: str, certificate: x509.Certificate, verify: bool | str) -> RenewalInfo:
    """GET {renewalInfo}/{certID}; IssuerError when the CA does not answer with a usable window."""
    url = f"{base_url.rstrip('/')}/{cert_id(certificate)}"
    try:
        response = requests.get(
            url, timeout=NETWORK_TIMEOUT_SECONDS, verify=verify, headers={"User-Agent": USER_AGENT}
        )
    except Exception as exc:
        raise issuer_error(exc, "renewal information fetch") from exc
    if response.status_code != 200:
        raise IssuerError(
            f"ACME renewal information fetch failed: HTTP {response.status_code}",
            permanent=response.status_code in (400, 404),
        )
    try:
        body = response.json()
        window = body["suggestedWindow"]
        start, end = parse_datetime(window["start"]), parse_datetime(window["end"])
        explanation = body.get("explanationURL") or ""
    except (ValueError, KeyError, TypeError) as exc:
        raise IssuerError(f"ACME renewal information is not what RFC 9773 describes: {exc!r}") from exc
    if start is None or end is None or start.tzinfo is None or end.tzinfo is None or end <= start:
        raise IssuerError(
            "ACME renewal information has no valid suggestedWindow (start before end, with zones)"
        )
    if not isinstance(explanation, str) or not explanation.startswith(("https://", "http://")):
        explanation = ""
    return RenewalInfo(
        window_start=start,
        window_end=end,
        explanation_url=explanation[:2048],
        retry_after=retry_after_seconds(response),
    )


class ReplacingOrder(messages.NewOrder):
    """newOrder with RFC 9773's `replaces`: the certID of the certificate this order renews."""

    replaces: str = jose.field("replaces", omitempty=True)


def new_order(client: ClientV2, csr_pem: bytes, replaces: str = "") -> messages.OrderResource:
    """Place an order for the CSR's names, saying which certificate it replaces when `replaces` is given.

    A CA that already saw that certificate replaced (`alreadyReplaced`, e.g. by an order that failed later) gets
    the order again without it: the certificate is still needed.
    """
    if not replaces:
        return client.new_order(csr_pem)
    csr = x509.load_pem_x509_csr(csr_pem)
    dns_names, ip_addresses = crypto_util.get_identifiers_from_x509(csr.subject, csr.extensions)
    identifiers = [messages.Identifier(typ=messages.IDENTIFIER_FQDN, value=name) for name in dns_names] + [
        messages.Identifier(typ=messages.IDENTIFIER_IP, value=str(ip)) for ip in ip_addresses
    ]
    try:
        response = client._post(
            client.directory["newOrder"], ReplacingOrder(identifiers=identifiers, replaces=replaces)
        )
    except messages.Error as exc:
        if str(exc.typ).rsplit(":", 1)[-1] != "alreadyReplaced":
            raise
        return client.new_order(csr_pem)
    body = messages.Order.from_json(response.json())
    authorizations = [
        client._authzr_from_response(client._post_as_get(url), uri=url) for url in body.authorizations
    ]
    return messages.OrderResource(
        body=body, uri=response.headers.get("Location"), authorizations=authorizations, csr_pem=csr_pem
    )
