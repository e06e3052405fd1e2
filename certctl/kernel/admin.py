"""Admin building blocks shared by the apps."""

from django.contrib import admin
from django.contrib.auth import get_permission_codename


def may_operate(modeladmin, request) -> bool:
    """Run an operation (cancel, retry, acknowledge) on rows the admin shows read-only: the model's change
    permission (Operators have it, Auditors do not)."""
    opts = modeladmin.opts
    return request.user.has_perm(f"{opts.app_label}.{get_permission_codename('change', opts)}")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the system maintains: operators see them, only services change them. Actions declared with
    `permissions=["operate"]` need the model's change permission."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_operate_permission(self, request) -> bool:
        return may_operate(self, request)
