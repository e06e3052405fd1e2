"""The certificates app's Celery tasks, for autodiscovery: each package's `tasks` module registers its own.

Task names are explicit (`certificates.check_expiring`, ...) and never change: beat rows store them.
"""

from certificates.agents import tasks as agents_tasks  # noqa: F401
from certificates.compliance import tasks as compliance_tasks  # noqa: F401
from certificates.discovery import tasks as discovery_tasks  # noqa: F401
from certificates.expiry import tasks as expiry_tasks  # noqa: F401
from certificates.issuance import tasks as issuance_tasks  # noqa: F401
from certificates.revocation import tasks as revocation_tasks  # noqa: F401
