"""The operators' UI for revocation: the records, CRLs and OCSP state (read-only), and the certificate admin's
action "Revoke selected certificates…" (a reason form, then the same bulk service as the API)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

from certctl.kernel.admin import ReadOnlyAdmin
from certificates.enums import RevocationReason
from certificates.inventory.admin import ManagedCertificateAdmin
from certificates.revocation.models import CertificateRevocation, CRLCache, OCSPResponder, OCSPResponseCache
from certificates.revocation.services.revoke import bulk_revoke


class RevokeSelectedForm(forms.Form):
    reason = forms.ChoiceField(
        choices=RevocationReason.choices,
        initial=RevocationReason.UNSPECIFIED,
        help_text="RFC 5280 reason published in the CRL and OCSP answers.",
    )


@admin.action(description="Revoke selected certificates…", permissions=["change"])
def revoke_selected(modeladmin, request, queryset):
    """First call shows the reason form; the confirmed form revokes every selected certificate."""
    form = RevokeSelectedForm(request.POST if "apply" in request.POST else None)
    if form.is_valid():
        ids = list(queryset.values_list("id", flat=True))
        result = bulk_revoke(
            {"certificate_ids": ids},
            form.cleaned_data["reason"],
            actor=request.user.get_username(),
            actor_type="User",
        )
        level = messages.WARNING if result.total_failed else messages.SUCCESS
        modeladmin.message_user(
            request,
            f"Revoked {result.total_revoked} of {result.total_matched} certificates "
            f"({result.total_skipped} already revoked or archived, {result.total_failed} failed).",
            level,
        )
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Revoke selected certificates",
        "opts": modeladmin.model._meta,
        "queryset": queryset,
        "form": form,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "action_name": "revoke_selected",
    }
    return TemplateResponse(request, "admin/certificates/revoke_selected.html", context)


# Revocation extends the certificate list of the inventory (which knows nothing of revocation) with its action.
ManagedCertificateAdmin.actions = [*ManagedCertificateAdmin.actions, revoke_selected]


@admin.register(CertificateRevocation)
class CertificateRevocationAdmin(ReadOnlyAdmin):
    """Revocations feed CRLs and OCSP: read-only here, revoke through the API so the CA is told."""

    list_display = ["serial_number", "certificate", "issuer", "reason", "revoked_by", "revoked_at"]
    list_filter = ["reason", "issuer", "issuer_notified"]
    list_select_related = ["certificate", "issuer"]
    search_fields = ["serial_number", "certificate__name", "revoked_by"]
    date_hierarchy = "revoked_at"


@admin.register(CRLCache)
class CRLCacheAdmin(ReadOnlyAdmin):
    list_display = ["issuer", "crl_number", "this_update", "next_update", "revoked_count"]
    list_select_related = ["issuer"]
    exclude = ["crl_der"]


@admin.register(OCSPResponder)
class OCSPResponderAdmin(ReadOnlyAdmin):
    list_display = ["issuer", "cert_serial", "key_algorithm", "not_before", "not_after"]
    list_select_related = ["issuer"]
    exclude = ["encrypted_key"]


@admin.register(OCSPResponseCache)
class OCSPResponseCacheAdmin(ReadOnlyAdmin):
    list_display = ["serial_hex", "issuer", "cert_status", "hash_algorithm", "this_update", "next_update"]
    list_filter = ["cert_status", "issuer"]
    list_select_related = ["issuer"]
    search_fields = ["=serial_hex"]
    exclude = ["response_der"]
