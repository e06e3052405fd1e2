"""Changes made in the Django admin become domain audit events, in the admin's own transaction; so do failed logins."""

from __future__ import annotations

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.signals import user_login_failed
from django.db.models.signals import post_save
from django.dispatch import receiver

from audit.models import ActorType
from audit.services.record import record

ACTIONS = {ADDITION: "admin_addition", CHANGE: "admin_change", DELETION: "admin_deletion"}


@receiver(post_save, sender=LogEntry, dispatch_uid="audit_admin_log_entry")
def record_admin_change(sender, instance: LogEntry, created: bool, **kwargs) -> None:
    if not created or instance.action_flag not in ACTIONS:
        return
    content_type = instance.content_type
    record(
        ACTIONS[instance.action_flag],
        resource_type=f"{content_type.app_label}.{content_type.model}" if content_type else "unknown",
        resource_id=instance.object_id or "",
        actor=instance.user.get_username(),
        actor_type=ActorType.USER,
        details={"object": instance.object_repr, "change": instance.get_change_message()},
        now=instance.action_time,
    )


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def record_login_failed(sender, credentials: dict, request=None, **kwargs) -> None:
    """`login_failed` with the user name tried and the client address; Django has already masked the password,
    and only those two fields are kept."""
    username = str(credentials.get("username", ""))[:150]
    record(
        "login_failed",
        resource_type="auth.user",
        resource_id=username,
        actor=username or "anonymous",
        actor_type=ActorType.ANONYMOUS,
        details={"username": username, "address": request.META.get("REMOTE_ADDR", "") if request else ""},
    )
