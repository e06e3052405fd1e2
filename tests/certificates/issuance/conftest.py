"""The ACME tests' fixtures (pebble, certctl served on the HTTP-01 port), one definition for the whole folder."""

from tests.acme_support import acme_served, certctl_on_http01_port, pebble  # noqa: F401
