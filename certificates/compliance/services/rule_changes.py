"""Creating, changing and deleting compliance rules: the configuration is checked for the rule's type, a
disabled rule's open violations are resolved at once, and every change is followed (after commit) by a
re-evaluation of all certificates through the `certificates.evaluate_compliance` task."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from audit.services.record import record as record_event
from certificates.compliance.models import ComplianceRule, Violation
from certificates.compliance.services import evaluate
from certificates.compliance.services.rule_config import clean_config

EDITABLE = ("name", "type", "config", "severity", "applies_to", "enabled", "description")


def create_rule(fields: dict, *, actor: str, actor_type: str = "user") -> ComplianceRule:
    """A new rule (ConfigError on a configuration that does not fit its type)."""
    fields = {name: value for name, value in fields.items() if name in EDITABLE}
    fields["config"] = clean_config(fields.get("type", ""), fields.get("config"))
    with transaction.atomic():
        rule = ComplianceRule.objects.create(**fields)
        _audit("compliance_rule_created", rule, actor, actor_type, fields)
        evaluate.schedule()
    return rule


def update_rule(
    rule: ComplianceRule, changes: dict, *, actor: str, actor_type: str = "user"
) -> ComplianceRule:
    """Change a rule; its open violations take a new severity at once and are resolved at once when disabled.
    Changing its type or configuration re-judges them at the next evaluation (scheduled here)."""
    changes = {name: value for name, value in changes.items() if name in EDITABLE}
    if "type" in changes or "config" in changes:
        changes["config"] = clean_config(changes.get("type", rule.type), changes.get("config", rule.config))
    with transaction.atomic():
        for name, value in changes.items():
            setattr(rule, name, value)
        rule.save()
        open_rows = Violation.objects.filter(rule=rule, resolved_at__isnull=True)
        if not rule.enabled:
            evaluate.resolve_disabled_rules(timezone.now(), [rule.pk])
        else:
            open_rows.exclude(severity=rule.severity).update(severity=rule.severity)
            open_rows.exclude(rule_type=rule.type).update(rule_type=rule.type)
        _audit("compliance_rule_updated", rule, actor, actor_type, changes)
        evaluate.schedule()
    return rule


def delete_rule(rule: ComplianceRule, *, actor: str, actor_type: str = "user") -> None:
    """Delete a rule and, with it, its violations (open and resolved); disable it instead to keep the history."""
    with transaction.atomic():
        _audit("compliance_rule_deleted", rule, actor, actor_type, {"name": rule.name})
        rule.delete()


def _audit(action: str, rule: ComplianceRule, actor: str, actor_type: str, changes: dict) -> None:
    record_event(
        action,
        resource_type="compliance_rule",
        resource_id=rule.pk,
        actor=actor,
        actor_type=actor_type,
        details={name: value for name, value in changes.items() if name != "description"},
    )
