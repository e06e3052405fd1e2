from django.apps import AppConfig


class CertctlConfig(AppConfig):
    name = "certctl"
    verbose_name = "Access and system"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from certctl.schedules import register_periodic_tasks

        post_migrate.connect(register_periodic_tasks, sender=self)
