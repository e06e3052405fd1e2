from django.apps import AppConfig
from django.db.models.signals import post_migrate


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from audit.team_scope import register_team_resource
        from notifications.models import NotificationEvent

        register_team_resource(NotificationEvent, "notification")
        # The demo receiver's Inbox lives beside the receiver rather than in notifications/admin.py.
        import notifications.demo.admin  # noqa: F401
        from notifications.channels.email import warn_if_login_in_clear
        from notifications.channels.targets import ensure_builtin_destinations

        post_migrate.connect(
            ensure_builtin_destinations, sender=self, dispatch_uid="certctl-builtin-destinations"
        )

        warn_if_login_in_clear()
