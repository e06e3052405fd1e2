from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # The demo receiver's Inbox lives beside the receiver rather than in notifications/admin.py.
        import notifications.demo.admin  # noqa: F401
        from notifications.channels.email import warn_if_login_in_clear

        warn_if_login_in_clear()
