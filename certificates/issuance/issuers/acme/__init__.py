"""The ACME issuer (RFC 8555): orders certificates from Let's Encrypt or any ACME CA, answering HTTP-01 itself.

`config.py` reads the issuer's settings, `account.py` holds the account key and registration, `network.py` maps the
ACME library's failures to IssuerError, `orders.py` drives one order step by step (saved after each, so a retry
resumes it) and `backend.py` is the IssuerBackend the registry hands out.
"""

from certificates.issuance.issuers.acme.backend import AcmeIssuer

__all__ = ["AcmeIssuer"]
