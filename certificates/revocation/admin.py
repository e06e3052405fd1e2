"""The operators' UI for revocation: the records, CRLs and OCSP state (read-only), and the certificate admin's
action "Revoke selected certificates…" (a reason form, then the same bulk service as the API)."""

from __future__ import annotations

from collections.abc import Iterable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.urls import reverse

from certctl.kernel.admin import ReadOnlyAdmin
from certificates.enums import CertificateStatus, RevocationReason
from certificates.inventory.admin import ManagedCertificateAdmin, page
from certificates.revocation.models import CertificateRevocation, CRLCache, OCSPResponder, OCSPResponseCache
from certificates.revocation.services.issuer_revocation import requeue_at_issuer
from certificates.revocation.services.revoke import RevocationError, bulk_revoke, revoke_certificate


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


class RevokeForm(RevokeSelectedForm):
    confirm = forms.BooleanField(
        label="I understand this cannot be undone",
        help_text="Relying parties see it in the CRL and OCSP at once; renewing afterwards issues a new certificate.",
    )


def revoke_view(model_admin, request, certificate):
    """The certificate page's Revoke button: a reason picker, then the API's revoke service."""

    def perform(data, actor):
        record = revoke_certificate(certificate.pk, data["reason"], **actor)
        return f"Revoked serial {record.serial_number} ({record.reason})."

    return page.form_action(
        model_admin,
        request,
        certificate,
        RevokeForm(page.posted(request)),
        title="Revoke",
        intro="Revokes the current version; the owner and the policy's critical channels are told.",
        perform=perform,
        refused=RevocationError,
    )


def _revocations(certificate) -> Iterable[page.TimelineEntry]:
    for record in CertificateRevocation.objects.filter(certificate=certificate).order_by("-revoked_at"):
        yield page.TimelineEntry(
            at=record.revoked_at,
            kind="revocation",
            title=f"Revoked serial {record.serial_number}: {record.reason}",
            detail=f"by {record.revoked_by}{_at_ca(record)}",
            url=reverse("admin:certificates_certificaterevocation_change", args=[record.pk]),
        )


def _at_ca(record: CertificateRevocation) -> str:
    """What the CA knows, for a CA that is told by a task (a local CA's rows are notified from the start)."""
    if record.issuer_notified:
        return (
            f"; revoked at the CA {record.issuer_notified_at:%Y-%m-%d %H:%M} UTC"
            if record.issuer_notified_at
            else ""
        )
    if record.issuer_error:
        tries = record.issuer_attempts
        return (
            f"; not revoked at the CA yet ({tries} attempt{'' if tries == 1 else 's'}): {record.issuer_error}"
        )
    return "; not revoked at the CA yet"


@admin.action(description="Revoke at the CA again", permissions=["operate"])
def retry_at_issuer(modeladmin, request, queryset):
    """Queue the CA revocation again for the selected rows the CA has not confirmed (after its retries ran out)."""
    queued = requeue_at_issuer(list(queryset.values_list("pk", flat=True)))
    modeladmin.message_user(request, f"Queued {queued} revocation(s) for their CA.", messages.SUCCESS)


def _revocable(certificate) -> bool:
    return certificate.status not in (CertificateStatus.REVOKED, CertificateStatus.ARCHIVED)


# Revocation extends the inventory's certificate list and page (the inventory knows nothing of revocation).
ManagedCertificateAdmin.actions = [*ManagedCertificateAdmin.actions, revoke_selected]
page.add_action(page.PageAction("revoke", "Revoke", revoke_view, available=_revocable))
page.add_timeline_source(_revocations)


@admin.register(CertificateRevocation)
class CertificateRevocationAdmin(ReadOnlyAdmin):
    """Revocations feed CRLs and OCSP: read-only here, revoke through the API so the CA is told."""

    list_display = [
        "serial_number",
        "certificate",
        "issuer",
        "reason",
        "revoked_by",
        "revoked_at",
        "issuer_notified",
        "issuer_error",
    ]
    list_filter = ["reason", "issuer", "issuer_notified"]
    actions = [retry_at_issuer]
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
