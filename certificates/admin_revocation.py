"""The admin action "Revoke selected certificates…": a reason form, then the same bulk service as the API.

Register it on the certificates admin with `actions = [..., revoke_selected]`.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

from certificates.enums import RevocationReason
from certificates.services.revocation import bulk_revoke


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
