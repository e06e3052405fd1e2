from django.conf import settings

from certctl.kernel.schedules import Periodic

PERIODIC_TASKS = [
    Periodic(
        "audit-seal-chain", "audit.seal_chain", settings.AUDIT_SEAL_INTERVAL, "CERTCTL_AUDIT_SEAL_INTERVAL"
    )
]
