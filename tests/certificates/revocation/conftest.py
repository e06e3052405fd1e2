"""The ACME fixtures (pebble, certctl served on the HTTP-01 port) for revocation at the CA."""

from tests.acme_support import acme_served, certctl_on_http01_port, pebble  # noqa: F401
