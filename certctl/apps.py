from django.apps import AppConfig


class CertctlConfig(AppConfig):
    name = "certctl"
    verbose_name = "Access and system"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from certctl.schedules import register_periodic_tasks
        from certctl.services.named_api_keys import sync_after_migrate
        from certctl.staff_groups import sync_staff_groups

        post_migrate.connect(register_periodic_tasks, sender=self)
        post_migrate.connect(sync_staff_groups, sender=self, dispatch_uid="certctl-staff-groups")
        post_migrate.connect(sync_after_migrate, sender=self)  # CERTCTL_API_KEYS_NAMED, once per deployment
