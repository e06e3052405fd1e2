"""The "Import certificates" page of the discovered certificates' admin: upload a PEM bundle, DER or PKCS#12 file.

`ImportPageMixin` adds the page at `<discovered certificates changelist>/import/` (URL name
`admin:certificates_discoveredcertificate_import`) to the ModelAdmin that mixes it in, and `import_url` to its
changelist context for a link. The page calls the same import service as the API.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse

from certificates.discovery.services.imports import ImportRejected, import_certificates

IMPORT_URL_NAME = "certificates_discoveredcertificate_import"


class ImportForm(forms.Form):
    file = forms.FileField(
        help_text="PEM bundle (.pem/.crt, certificates and optionally a key), DER, or PKCS#12."
    )
    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="For a protected PKCS#12 file or an encrypted private key. Not stored.",
    )
    include_private_key = forms.BooleanField(
        required=False,
        label="Import the private key",
        help_text="Store the file's private key, encrypted; it must belong to one of the imported certificates.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            raise forms.ValidationError(
                f"over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes (CERTCTL_MAX_BODY_SIZE)"
            )
        return upload


class ImportPageMixin:
    """For the DiscoveredCertificate ModelAdmin: the import page and a link to it on the changelist."""

    def get_urls(self):
        page = path("import/", self.admin_site.admin_view(self.import_view), name=IMPORT_URL_NAME)
        return [page, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        context = dict(extra_context or {})
        if self.has_import_permission(request):
            context["import_url"] = reverse(f"admin:{IMPORT_URL_NAME}", current_app=self.admin_site.name)
        return super().changelist_view(request, extra_context=context)

    def has_import_permission(self, request) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    def import_view(self, request):
        if not self.has_import_permission(request):
            raise PermissionDenied
        result = None
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = import_certificates(
                    upload.read(),
                    filename=upload.name or "",
                    password=form.cleaned_data["password"] or None,
                    include_private_key=form.cleaned_data["include_private_key"],
                    actor=request.user.get_username(),
                    actor_type="User",
                )
            except ImportRejected as exc:
                form.add_error(None, f"{exc} ({exc.code}); nothing was imported.")
            else:
                form = ImportForm()
        context = {
            **self.admin_site.each_context(request),
            "title": "Import certificates",
            "opts": self.opts,
            "form": form,
            "result": result,
            "rows": [
                (
                    item,
                    reverse(
                        f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
                        args=[item.certificate.pk],
                        current_app=self.admin_site.name,
                    ),
                )
                for item in (result.items if result else [])
            ],
        }
        return TemplateResponse(request, "admin/certificates/discovery/import.html", context)
