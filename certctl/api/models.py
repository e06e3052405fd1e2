"""The API key model: automation authenticates with one; only the SHA-256 of the key is stored."""

from __future__ import annotations

from django.db import models

from certctl.kernel.ids import id_factory


class ApiKey(models.Model):
    """An API key; only the SHA-256 of the key is stored, the key itself is shown once at creation."""

    id = models.CharField(primary_key=True, max_length=40, default=id_factory("key"), editable=False)
    name = models.CharField(max_length=128, unique=True)
    key_prefix = models.CharField(max_length=12, help_text="First characters of the key, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    is_admin = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
