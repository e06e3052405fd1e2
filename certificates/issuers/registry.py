"""The built-in issuer backends; importing this module registers them (one line per backend)."""

from certificates.issuers import local  # noqa: F401
