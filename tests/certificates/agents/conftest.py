"""The ACME fixtures the agent-side HTTP-01 tests use (pebble, the HTTP-01 port freed for the agent's answers)."""

from tests.acme_support import free_http01_port, pebble  # noqa: F401
