from django.contrib.admin.apps import AdminConfig


class ConsoleAdminConfig(AdminConfig):
    """`django.contrib.admin` with certctl's console as the default `admin.site`."""

    default_site = "certctl.console.site.ConsoleSite"
