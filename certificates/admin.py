"""The certificates app's admin pages, registered by each package's `admin` module."""

from certificates.agents import admin as agents_admin  # noqa: F401
from certificates.compliance import admin as compliance_admin  # noqa: F401
from certificates.discovery import admin as discovery_admin  # noqa: F401
from certificates.expiry import admin as expiry_admin  # noqa: F401
from certificates.inventory import admin as inventory_admin  # noqa: F401
from certificates.issuance import admin as issuance_admin  # noqa: F401
from certificates.revocation import admin as revocation_admin  # noqa: F401
