"""The ACME tests' fixtures (pebble, challtestsrv, certctl served on the HTTP-01 port), one definition for the
whole folder."""

from tests.acme_dns_support import challtestsrv  # noqa: F401
from tests.acme_support import acme_served, certctl_on_http01_port, pebble  # noqa: F401
