"""Compliance in the console: rules (configuration checked for the rule's type), violations (read-only), and the
certificate page's Compliance panel listing its open violations."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from certctl.kernel.admin import ReadOnlyAdmin
from certificates.compliance.models import SEVERITY_ORDER, ComplianceRule, Violation
from certificates.compliance.services import rule_changes
from certificates.compliance.services.rule_config import ConfigError, clean_config
from certificates.inventory.admin import page


def _actor(request: HttpRequest) -> dict[str, str]:
    return {"actor": request.user.get_username(), "actor_type": "User"}


class RuleForm(forms.ModelForm):
    class Meta:
        model = ComplianceRule
        fields = ["name", "type", "config", "severity", "applies_to", "enabled", "description"]
        help_texts = {
            "config": 'By type: min_key_size {"rsa": 2048, "ec": 256}; allowed_curves {"curves": ["secp256r1"]}; '
            'forbidden_signature_algorithms {"hashes": ["sha1", "md5"]}; max_validity {"days": 398}; '
            'allowed_issuers {"issuers": ["O=Example"], "issuer_ids": []}; required_san_pattern '
            '{"patterns": ["*.example.com", "re:^api-"]}; expired, self_signed, chain_problem {}.'
        }

    def clean(self):
        cleaned = super().clean()
        if "type" in cleaned and "config" in cleaned:
            try:
                cleaned["config"] = clean_config(cleaned["type"], cleaned["config"])
            except ConfigError as exc:
                for key, messages in exc.errors.items():
                    for message in messages:
                        self.add_error("config" if key.startswith("config") else "type", f"{key}: {message}")
        return cleaned


@admin.register(ComplianceRule)
class ComplianceRuleAdmin(admin.ModelAdmin):
    form = RuleForm
    list_display = ["name", "type", "severity", "applies_to", "enabled", "updated_at"]
    list_filter = ["type", "severity", "applies_to", "enabled"]
    search_fields = ["name", "id"]

    def save_model(self, request, obj: ComplianceRule, form: RuleForm, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in RuleForm.Meta.fields}
        if change:
            rule = rule_changes.update_rule(ComplianceRule.objects.get(pk=obj.pk), fields, **_actor(request))
        else:
            rule = rule_changes.create_rule(fields, **_actor(request))
        obj.pk = rule.pk

    def delete_model(self, request, obj: ComplianceRule) -> None:
        rule_changes.delete_rule(obj, **_actor(request))

    def delete_queryset(self, request, queryset) -> None:
        for rule in queryset:
            rule_changes.delete_rule(rule, **_actor(request))


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("resolved", "Resolved")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(Violation)
class ViolationAdmin(ReadOnlyAdmin):
    list_display = [
        "message",
        "severity",
        "rule",
        "certificate",
        "discovered_certificate",
        "team",
        "first_seen_at",
    ]
    list_filter = [StateFilter, "severity", "rule", "rule_type", "team"]
    list_select_related = ["rule", "certificate", "discovered_certificate", "team"]
    search_fields = ["id", "message", "certificate__name", "discovered_certificate__common_name"]
    date_hierarchy = "first_seen_at"


def compliance_panel(certificate) -> page.Panel | None:
    """The certificate's open violations, most severe first (one query); no panel when it complies."""
    violations = sorted(
        Violation.objects.filter(certificate=certificate, resolved_at__isnull=True).select_related("rule"),
        key=lambda v: (SEVERITY_ORDER.get(v.severity, 3), v.rule.name),
    )
    if not violations:
        return None
    panel = page.Panel(
        title="Compliance",
        headers=["Severity", "Rule", "Violation", "Since"],
        note="Open violations of the compliance rules by the current version, most severe first; they "
        "resolve by themselves once a new version or the next evaluation finds it compliant.",
    )
    for violation in violations:
        panel.rows.append(
            [
                violation.severity,
                violation.rule.name,
                violation.message,
                f"{violation.first_seen_at:%Y-%m-%d %H:%M} UTC",
            ]
        )
    return panel


page.add_panel(compliance_panel)
