from django.conf import settings

from certctl.kernel.schedules import Periodic

PERIODIC_TASKS = [
    Periodic(
        "notifications: process pending",
        "notifications.process_pending",
        settings.NOTIFICATION_PROCESS_INTERVAL,
        "CERTCTL_NOTIFICATION_PROCESS_INTERVAL",
    ),
    Periodic(
        "notifications: retry failed",
        "notifications.retry_failed",
        settings.NOTIFICATION_RETRY_INTERVAL,
        "CERTCTL_NOTIFICATION_RETRY_INTERVAL",
    ),
]
