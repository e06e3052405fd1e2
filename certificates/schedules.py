from django.conf import settings

from certctl.schedules import Periodic

PERIODIC_TASKS = [
    Periodic("certificates.check_expiring", "certificates.check_expiring", settings.RENEWAL_CHECK_INTERVAL),
]
