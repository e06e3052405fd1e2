"""Django admin actions to approve or reject approval requests, with the same two-person rule as the API.

Wire them on the ApprovalRequest admin: `actions = [approve_selected, reject_selected]`.
"""

from __future__ import annotations

from django.contrib import admin, messages

from certificates.services import approvals


def decide_requests(requests, decide, *, actor: str, note: str = "") -> tuple[list[str], list[str]]:
    """Decide each request as `actor`; returns (decided ids, refusal messages). Admin and tests call this."""
    decided, refused = [], []
    for request in requests:
        try:
            decide(request, actor=actor, actor_type="User", note=note)
        except approvals.ApprovalError as exc:
            refused.append(f"{request.pk}: {exc}")
        else:
            decided.append(request.pk)
    return decided, refused


def _run(modeladmin, request, queryset, decide, verb: str) -> None:
    decided, refused = decide_requests(
        list(queryset), decide, actor=request.user.get_username(), note=f"{verb} in the admin"
    )
    if decided:
        modeladmin.message_user(request, f"{verb.capitalize()} {len(decided)} request(s).", messages.SUCCESS)
    for reason in refused:
        modeladmin.message_user(request, reason, messages.ERROR)


@admin.action(description="Approve selected requests (not your own)", permissions=["change"])
def approve_selected(modeladmin, request, queryset) -> None:
    _run(modeladmin, request, queryset, approvals.approve, "approved")


@admin.action(description="Reject selected requests", permissions=["change"])
def reject_selected(modeladmin, request, queryset) -> None:
    _run(modeladmin, request, queryset, approvals.reject, "rejected")
