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
    Periodic(
        "notifications: release deferred (quiet hours)",
        "notifications.release_deferred",
        settings.NOTIFICATION_DEFERRED_INTERVAL,
        "CERTCTL_NOTIFICATION_DEFERRED_INTERVAL",
    ),
    Periodic(
        "notifications: escalate unacknowledged critical alerts",
        "notifications.escalate",
        settings.NOTIFICATION_ESCALATION_INTERVAL,
        "CERTCTL_NOTIFICATION_ESCALATION_INTERVAL",
    ),
    Periodic(
        "notifications: daily digests",
        "notifications.send_digests",
        settings.NOTIFICATION_DIGEST_INTERVAL,
        "CERTCTL_NOTIFICATION_DIGEST_INTERVAL",
    ),
]
