"""The API key model: automation authenticates with one; only the SHA-256 of the key is stored."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models

from certctl.api.scopes import ADMIN, SCOPES, default_scopes, validate_scopes
from certctl.kernel.ids import id_factory


class ApiKey(models.Model):
    """An API key; only the SHA-256 of the key is stored, the key itself is shown once at creation.

    `scopes` says what it may do (read, write, approve, admin); `teams`, when set, binds it to those teams' rows.
    """

    id = models.CharField(primary_key=True, max_length=40, default=id_factory("key"), editable=False)
    name = models.CharField(max_length=128, unique=True)
    key_prefix = models.CharField(max_length=12, help_text="First characters of the key, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(
        default=default_scopes,
        validators=[validate_scopes],
        help_text=f"Any of {', '.join(SCOPES)}; admin may do everything.",
    )
    teams = models.ManyToManyField(
        "certificates.Team",
        blank=True,
        related_name="+",
        help_text="When set, the key sees and changes only these teams' rows.",
    )
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: the key does not expire.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["name"]
        # A staff user's rights through the API (browsable API, console calls) follow these, given by groups.
        permissions = [(f"api_{scope}", f"API scope {scope}") for scope in SCOPES]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def is_admin(self) -> bool:
        return ADMIN in (self.scopes or [])

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


class TeamMembership(models.Model):
    """Binds a staff user to a team: a user with memberships sees only those teams' rows (admin and API)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="certctl_teams")
    team = models.ForeignKey("certificates.Team", on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = "team membership"
        constraints = [models.UniqueConstraint(fields=["user", "team"], name="team_membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"
