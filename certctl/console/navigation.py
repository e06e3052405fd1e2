"""The console's navigation: models grouped by the operator's task, not by Django app."""

from __future__ import annotations

from django.utils.text import slugify

# (group, [app_label.ModelName, ...]) in display order; within a group, models appear in the order listed.
GROUPS: list[tuple[str, list[str]]] = [
    (
        "Inventory",
        [
            "certificates.ManagedCertificate",
            "certificates.CertificateVersion",
            "certificates.Team",
            "certificates.Owner",
            "certificates.CertificateProfile",
            "certificates.RenewalPolicy",
            "certificates.DeploymentTarget",
        ],
    ),
    (
        "Issuance",
        [
            "certificates.Issuer",
            "certificates.Job",
            "certificates.ApprovalRequest",
            "certificates.ServerGeneratedKey",
        ],
    ),
    ("Revocation", ["certificates.CertificateRevocation", "certificates.OCSPResponder"]),
    (
        "Discovery and compliance",
        [
            "certificates.DiscoveredCertificate",
            "certificates.DiscoveryEndpoint",
            "certificates.ScanProfile",
            "certificates.ScanRun",
            "certificates.ComplianceRule",
            "certificates.Violation",
            "certificates.DiscoverySighting",
            "certificates.ScanChunk",
        ],
    ),
    (
        "Alerts and notifications",
        [
            "notifications.Destination",
            "notifications.NotificationEvent",
            "notifications.DeadLetterNotification",
            "certificates.ExpiryCheckRun",
        ],
    ),
    ("Agents", ["certificates.Agent"]),
    ("Audit", ["audit.AuditEvent"]),
    ("Access", ["certctl.ApiKey", "auth.User", "auth.Group"]),
    (
        "System",
        [
            "certctl.ProcessHeartbeat",
            "certctl.MetricCounter",
            "certificates.CRLCache",
            "certificates.OCSPResponseCache",
        ],
    ),
]
# A model not listed above joins its app's group (a new notifications model lands under alerts); any other
# app's models go to System, where the periodic tasks of django_celery_beat are.
APP_GROUPS = {"notifications": "Alerts and notifications", "audit": "Audit", "auth": "Access"}
FALLBACK_GROUP = "System"


def grouped(app_list: list[dict], index_url: str) -> list[dict]:
    """Django's per-app list (what the user may see) regrouped by task; same dict shape, so the admin's
    templates (index, sidebar) render it unchanged."""
    position = {model: (g, i) for g, (_, models) in enumerate(GROUPS) for i, model in enumerate(models)}
    names = [name for name, _ in GROUPS]
    buckets: dict[str, list[tuple[tuple[int, int, str], dict]]] = {name: [] for name in names}
    for app in app_list:
        for model in app["models"]:
            key = f"{app['app_label']}.{model['object_name']}"
            if key in position:
                group_index, order = position[key]
                group = names[group_index]
            else:
                group, order = APP_GROUPS.get(app["app_label"], FALLBACK_GROUP), len(position)
            buckets[group].append(((order, 0, str(model["name"])), model))
    result = []
    for name in names:
        models = [model for _, model in sorted(buckets[name], key=lambda item: item[0])]
        if models:
            label = slugify(name)
            result.append(
                {
                    "name": name,
                    "app_label": label,
                    "app_url": f"{index_url}#group-{label}",
                    "has_module_perms": True,
                    "models": models,
                }
            )
    return result
