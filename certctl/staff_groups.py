"""The staff groups the admin's users are given: Operators, Approvers and Auditors (created by migration
certctl 0003; their permissions are added here after every migrate, so new models are covered; a permission an
operator adds by hand is kept, none is removed).

- Auditors read everything (every model's view permission) and the API with the `read` scope.
- Operators run the inventory and the lifecycle: Auditors' rights, plus adding and changing certificates, owners,
  targets, jobs, discovered certificates, scan runs and notifications; API scopes `read` and `write`.
- Approvers decide approval requests: Auditors' rights, plus changing approval requests; API `read` and `approve`.
Issuers, profiles, renewal policies, teams, destinations, compliance rules, agents and API keys stay with
superusers (the `admin` scope).
"""

from __future__ import annotations

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions

APPS = ("certificates", "notifications", "audit", "certctl")
OPERATED = {
    "certificates": [
        "managedcertificate",
        "owner",
        "deploymenttarget",
        "job",
        "discoveredcertificate",
        "discoveryendpoint",
        "scanrun",
    ],
    "notifications": ["notificationevent", "deadletternotification"],
}
GROUPS = {
    "Auditors": {"scopes": ["read"], "change": {}},
    "Operators": {"scopes": ["read", "write"], "change": OPERATED},
    "Approvers": {"scopes": ["read", "approve"], "change": {"certificates": ["approvalrequest"]}},
}


def sync_staff_groups(apps=global_apps, **kwargs) -> None:
    """Give each group its permissions (idempotent; only adds)."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for label in APPS:
        create_permissions(global_apps.get_app_config(label), verbosity=0, apps=global_apps)
    views = Permission.objects.filter(content_type__app_label__in=APPS, codename__startswith="view_")
    for name, grant in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        wanted = list(views)
        wanted += Permission.objects.filter(
            content_type__app_label="certctl", codename__in=[f"api_{scope}" for scope in grant["scopes"]]
        )
        for label, models in grant["change"].items():
            codenames = [f"{verb}_{model}" for model in models for verb in ("add", "change")]
            wanted += Permission.objects.filter(content_type__app_label=label, codename__in=codenames)
        group.permissions.add(*wanted)
