"""ACME orders in the admin: what each order is doing at the CA, read-only (only the issuer backend writes them)."""

from __future__ import annotations

from django.contrib import admin

from certctl.kernel.admin import ReadOnlyAdmin
from certificates.issuance.models import AcmeHttpChallenge, AcmeOrder


class AcmeHttpChallengeInline(admin.TabularInline):
    model = AcmeHttpChallenge
    fields = ["token", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AcmeOrder)
class AcmeOrderAdmin(ReadOnlyAdmin):
    list_display = ["id", "issuer", "status", "created_at", "updated_at"]
    list_filter = ["status", "issuer"]
    list_select_related = ["issuer"]
    search_fields = ["=id", "order_url", "csr_fingerprint"]
    date_hierarchy = "created_at"
    inlines = [AcmeHttpChallengeInline]


@admin.register(AcmeHttpChallenge)
class AcmeHttpChallengeAdmin(ReadOnlyAdmin):
    """The HTTP-01 answers certctl serves while an order is validated (removed when the order ends)."""

    list_display = ["token", "order", "created_at"]
    search_fields = ["=token", "=order__id"]
    fields = ["token", "order", "created_at"]
