"""Judge certificates against the enabled compliance rules; open, refresh and resolve their violations.

Idempotent and safe with several workers: an open violation is unique per (rule, certificate) in the database
(partial unique constraints), new ones are inserted with ON CONFLICT DO NOTHING and only the inserter of a row
notifies for it. Work is done in batches: per batch a fixed number of queries (the certificates, the chain
problems, the open violations, one refresh), so a sweep over 100,000 unchanged certificates costs no query per
certificate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from django.apps import apps
from django.db import transaction
from django.utils import timezone

from certctl.kernel import dispatch
from certificates.compliance.models import ComplianceRule, RuleScope, Violation
from certificates.compliance.services import notify, publisher, subjects
from certificates.compliance.services.rules import judge
from certificates.inventory.models import ManagedCertificate

logger = logging.getLogger(__name__)

BATCH_SIZE = 2000


@dataclass(frozen=True)
class Kind:
    scope: str
    fk: str  # the Violation column naming the certificate
    load: Callable[[Sequence[str]], list[subjects.Judged]]


MANAGED = Kind(RuleScope.MANAGED, "certificate_id", subjects.managed)
DISCOVERED = Kind(RuleScope.DISCOVERED, "discovered_certificate_id", subjects.discovered)


def evaluate_discovered(certificate_ids: Iterable[str], *, now=None) -> int:
    """Re-judge these discovered certificates; returns the number of violations opened."""
    return _evaluate(DISCOVERED, list(dict.fromkeys(certificate_ids)), now or timezone.now())


def evaluate_managed(certificate_ids: Iterable[str], *, now=None) -> int:
    """Re-judge these managed certificates' current versions; returns the number of violations opened."""
    return _evaluate(MANAGED, list(dict.fromkeys(certificate_ids)), now or timezone.now())


def evaluate_all(*, now=None) -> dict[str, int]:
    """The sweep (beat task `certificates.evaluate_compliance`): every certificate, managed and discovered,
    and the open violations of disabled rules resolved. Returns counts."""
    now = now or timezone.now()
    result = {"resolved_disabled": resolve_disabled_rules(now)}
    for kind, model in (
        (MANAGED, ManagedCertificate),
        (DISCOVERED, apps.get_model("certificates", "DiscoveredCertificate")),
    ):
        rules = enabled_rules(kind)
        opened = checked = 0
        last = ""
        while True:
            ids = list(
                model.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:BATCH_SIZE]
            )
            if not ids:
                break
            opened += _apply(kind, ids, rules, now)
            checked += len(ids)
            last = ids[-1]
        result[f"{kind.scope}_checked"] = checked
        result[f"{kind.scope}_opened"] = opened
    logger.info("compliance sweep finished", extra={"summary": result})
    return result


def enabled_rules(kind: Kind) -> list[ComplianceRule]:
    return list(
        ComplianceRule.objects.filter(enabled=True, applies_to__in=[RuleScope.ALL, kind.scope]).order_by("pk")
    )


def resolve_disabled_rules(now, rule_ids: Sequence[str] | None = None) -> int:
    """Resolve the open violations of disabled rules (or of `rule_ids`); returns how many."""
    found = Violation.objects.filter(resolved_at__isnull=True)
    found = (
        found.filter(rule_id__in=list(rule_ids))
        if rule_ids is not None
        else found.filter(rule__enabled=False)
    )
    return found.update(resolved_at=now)


def _evaluate(kind: Kind, ids: list[str], now) -> int:
    if not ids:
        return 0
    rules = enabled_rules(kind)
    return sum(_apply(kind, ids[i : i + BATCH_SIZE], rules, now) for i in range(0, len(ids), BATCH_SIZE))


def _apply(kind: Kind, ids: Sequence[str], rules: list[ComplianceRule], now) -> int:
    """Judge one batch and bring its open violations in line; returns how many were opened."""
    judged = kind.load(ids)
    wanted: dict[tuple[str, str], tuple[ComplianceRule, subjects.Judged, str, dict]] = {}
    for one in judged:
        if one.subject is None:
            continue
        for rule in rules:
            finding = judge(rule.type, rule.config, one.subject, now)
            if finding is not None:
                wanted[(rule.pk, one.id)] = (rule, one, finding[0][:1024], finding[1])
    open_rows = Violation.objects.filter(
        **{f"{kind.fk}__in": [one.id for one in judged]}, resolved_at__isnull=True
    ).values_list("id", "rule_id", kind.fk, "message", "details", "team_id", "severity")
    refresh, resolve, changed = [], [], []
    for pk, rule_id, cert_id, message, details, team_id, severity in open_rows:
        want = wanted.pop((rule_id, cert_id), None)
        if want is None:
            resolve.append(pk)
            continue
        rule, one, new_message, new_details = want
        current = (new_message, new_details, one.team_id, rule.severity)
        if (message, details, team_id, severity) != current:
            changed.append((pk, current))
        else:
            refresh.append(pk)
    with transaction.atomic():
        if refresh:
            Violation.objects.filter(pk__in=refresh, resolved_at__isnull=True).update(last_seen_at=now)
        if resolve:
            Violation.objects.filter(pk__in=resolve, resolved_at__isnull=True).update(resolved_at=now)
        for pk, (message, details, team_id, severity) in changed:
            Violation.objects.filter(pk=pk, resolved_at__isnull=True).update(
                message=message, details=details, team_id=team_id, severity=severity, last_seen_at=now
            )
        opened = _open(kind, list(wanted.values()), now)
        notify.violations_opened(opened, now)
    return len(opened)


def _open(kind: Kind, found: list, now) -> list[tuple[Violation, subjects.Judged]]:
    """Insert the new violations; a row another worker opened first is skipped (ON CONFLICT DO NOTHING), and
    only the rows this call inserted come back."""
    rows = [
        Violation(
            rule=rule,
            rule_type=rule.type,
            severity=rule.severity,
            team_id=one.team_id,
            message=message,
            details=details,
            first_seen_at=now,
            last_seen_at=now,
            **{kind.fk: one.id},
        )
        for rule, one, message, details in found
    ]
    if not rows:
        return []
    Violation.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
    inserted = set(Violation.objects.filter(pk__in=[row.pk for row in rows]).values_list("pk", flat=True))
    return [(row, one) for row, (_, one, _, _) in zip(rows, found, strict=True) if row.pk in inserted]


def run(
    managed_ids: Sequence[str] | None = None, discovered_ids: Sequence[str] | None = None
) -> dict[str, int]:
    """The task's work: these certificates when ids are given, else the sweep over all."""
    if managed_ids is None and discovered_ids is None:
        return evaluate_all()
    return {
        "managed_opened": evaluate_managed(managed_ids or []),
        "discovered_opened": evaluate_discovered(discovered_ids or []),
    }


def schedule(managed_ids: Sequence[str] | None = None) -> None:
    """Evaluate these managed certificates (or, without ids, everything) once the surrounding transaction
    commits, through the `certificates.evaluate_compliance` task; a broker outage leaves it to the beat sweep."""
    if managed_ids is not None:
        ids = list(managed_ids)
        transaction.on_commit(lambda: publisher.publish(ids), robust=True)
        return

    def publish_sweep() -> None:
        try:
            dispatch.enqueue(publisher.EVALUATE_TASK)
        except Exception:  # the periodic sweep catches up
            logger.warning("could not schedule a compliance evaluation", exc_info=True)

    transaction.on_commit(publish_sweep)
