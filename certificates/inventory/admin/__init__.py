"""The inventory's admin pages: the certificate list and page (certificates.py, extended through page.py) and the
reference data around certificates (records.py)."""

from certificates.inventory.admin import records  # noqa: F401 - registers teams, owners, policies, ...
from certificates.inventory.admin.certificates import ManagedCertificateAdmin

__all__ = ["ManagedCertificateAdmin"]
