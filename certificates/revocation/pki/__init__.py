"""Pure revocation building blocks (reason codes, CRL, OCSP, delegated responder): no database, no settings."""

from __future__ import annotations

from cryptography import x509

from certificates.enums import REVOCATION_REASON_CODES

REASON_FLAGS = {
    "unspecified": x509.ReasonFlags.unspecified,
    "keyCompromise": x509.ReasonFlags.key_compromise,
    "caCompromise": x509.ReasonFlags.ca_compromise,
    "affiliationChanged": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessationOfOperation": x509.ReasonFlags.cessation_of_operation,
    "certificateHold": x509.ReasonFlags.certificate_hold,
    "privilegeWithdrawn": x509.ReasonFlags.privilege_withdrawn,
}
assert set(REASON_FLAGS) == set(REVOCATION_REASON_CODES)


def reason_flag(reason: str) -> x509.ReasonFlags:
    """RFC 5280 CRLReason of a stored reason name; unknown names map to unspecified, as in the reference."""
    return REASON_FLAGS.get(reason, x509.ReasonFlags.unspecified)
