"""Discovery's admin pages: scan profiles and runs, imports, the discovered inventory."""

from certificates.discovery.admin import endpoints, imports, inventory, scans  # noqa: F401
