"""Issuance on the certificate page: Renew, Issue from CSR and Export buttons, and the jobs and approvals
in its timeline. Each button calls the service the API calls."""

from __future__ import annotations

from collections.abc import Iterable

from django import forms
from django.http import HttpResponse
from django.urls import reverse

from certificates.enums import CertificateStatus
from certificates.inventory.admin import page
from certificates.issuance.models import ApprovalRequest, Job
from certificates.issuance.services import export, issuance, renewal
from certificates.issuance.services.jobs import InvalidTransition


class RenewForm(forms.Form):
    force = forms.BooleanField(
        required=False, help_text="Cancel the open issuance or renewal job first and start a new one."
    )


class IssueForm(forms.Form):
    csr_pem = forms.CharField(
        label="CSR (PEM)",
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false"}),
        help_text="-----BEGIN CERTIFICATE REQUEST----- ... It must match the certificate's names and profile.",
    )


class ExportForm(forms.Form):
    FORMATS = [("pem", "PEM: certificate and chain"), ("pkcs12", "PKCS#12 with the server-generated key")]
    format = forms.ChoiceField(choices=FORMATS, initial="pem", widget=forms.RadioSelect)
    include_key = forms.BooleanField(
        required=False, label="Include the server-generated private key (PEM, superusers only)"
    )
    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="PKCS#12 only: the bundle's password (at least 8 characters).",
    )

    def __init__(self, *args, may_export_keys: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.may_export_keys = may_export_keys

    def clean(self):
        data = super().clean()
        wants_key = data.get("format") == "pkcs12" or data.get("include_key")
        if wants_key and not self.may_export_keys:
            raise forms.ValidationError("exporting a private key requires a superuser")
        if data.get("format") == "pkcs12" and len(data.get("password") or "") < 8:
            self.add_error("password", "at least 8 characters")
        return data


def renew_view(model_admin, request, certificate):
    def perform(data, actor):
        job = renewal.request_renewal(certificate, force=data["force"], **actor)
        return f"{job.type} job {job.pk} started: {job.status}."

    return page.form_action(
        model_admin,
        request,
        certificate,
        RenewForm(page.posted(request)),
        title="Renew",
        intro="Starts a renewal job now, whatever the renewal window says (a first issuance if never issued).",
        perform=perform,
        refused=(renewal.RenewalRefused, renewal.RenewalAlreadyOpen),
    )


def issue_view(model_admin, request, certificate):
    def perform(data, actor):
        version = issuance.issue_for_certificate(certificate, data["csr_pem"], **actor)
        return f"Issued serial {version.serial_number}, valid until {version.not_after:%Y-%m-%d}."

    return page.form_action(
        model_admin,
        request,
        certificate,
        IssueForm(page.posted(request)),
        title="Issue from CSR",
        intro="Signs a CSR made where the key lives; it completes a job waiting for a CSR, if there is one.",
        perform=perform,
        refused=(issuance.IssuanceError, InvalidTransition),
        error_field="csr_pem",
    )


def export_view(model_admin, request, certificate):
    def perform(data, actor):
        if data["format"] == "pkcs12":
            bundle = export.export_pkcs12(certificate, password=data["password"], **actor)
            return _download(bundle, "application/x-pkcs12", f"{certificate.pk}.p12")
        body = export.export_pem(certificate, include_key=data["include_key"], **actor)
        pem = body.get("private_key_pem", "") + body["full_pem"]
        return _download(pem, "application/x-pem-file", f"{certificate.pk}.pem")

    return page.form_action(
        model_admin,
        request,
        certificate,
        ExportForm(page.posted(request), may_export_keys=request.user.is_superuser),
        title="Export",
        intro="Downloads the current version. Every export is audited.",
        perform=perform,
        refused=export.ExportError,
    )


def _download(content, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _renewable(certificate) -> bool:
    return certificate.status not in (CertificateStatus.ARCHIVED, CertificateStatus.REVOKED)


def _issued(certificate) -> bool:
    return certificate.versions.exists()


def _jobs(certificate) -> Iterable[page.TimelineEntry]:
    for job in Job.objects.filter(certificate=certificate).order_by("-created_at")[: page.TIMELINE_LIMIT]:
        yield page.TimelineEntry(
            at=job.created_at,
            kind="job",
            title=f"{job.type} job: {job.status}",
            detail=job.last_error
            or (f"attempt {job.attempts} of {job.max_attempts}" if job.attempts else ""),
            url=reverse("admin:certificates_job_change", args=[job.pk]),
        )


def _approvals(certificate) -> Iterable[page.TimelineEntry]:
    rows = ApprovalRequest.objects.filter(certificate=certificate).order_by("-created_at")
    for approval in rows[: page.TIMELINE_LIMIT]:
        decided = f", {approval.state} by {approval.decided_by}" if approval.decided_by else ""
        yield page.TimelineEntry(
            at=approval.created_at,
            kind="approval",
            title=f"Approval requested by {approval.requested_by}: {approval.state}",
            detail=f"job {approval.job_id}{decided}",
            url=reverse("admin:certificates_approvalrequest_change", args=[approval.pk]),
        )


def renewal_info_panel(certificate) -> page.Panel | None:
    """The CA's suggested renewal window (ACME ARI) and the moment certctl picked in it; none without ARI."""
    if certificate.ari_checked_at is None:
        return None
    rows = [
        ["Suggested window", f"{_utc(certificate.ari_window_start)} to {_utc(certificate.ari_window_end)}"],
        ["Renewal scheduled at", _utc(certificate.ari_renew_at)],
        ["Asked the CA", _utc(certificate.ari_checked_at)],
        ["Next check", _utc(certificate.ari_next_check_at)],
    ]
    if certificate.ari_explanation_url:
        rows.append(["Explanation from the CA", certificate.ari_explanation_url])
    return page.Panel(
        title="Renewal window from the CA (ARI)",
        headers=["", ""],
        rows=rows,
        note="The CA's suggestion replaces the renewal policy's window for this certificate; a CA that moves the "
        "window earlier (e.g. before a mass revocation) gets the certificate renewed early.",
    )


def _utc(value) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "-"


page.add_action(page.PageAction("renew", "Renew", renew_view, available=_renewable))
page.add_action(page.PageAction("issue", "Issue from CSR", issue_view, available=_renewable))
page.add_action(page.PageAction("export", "Export", export_view, permission="view", available=_issued))
page.add_timeline_source(_jobs)
page.add_timeline_source(_approvals)
page.add_panel(renewal_info_panel)
