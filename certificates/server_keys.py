"""Private keys the server generated itself (CERTCTL_KEYGEN_MODE=server, lab setups), encrypted at rest."""

from __future__ import annotations

from django.db import models

from certctl.ids import id_factory


class ServerGeneratedKey(models.Model):
    """The key of one issued version; `encrypted_private_key` is Fernet ciphertext (certctl.crypto), never PEM."""

    id = models.CharField(primary_key=True, max_length=40, default=id_factory("skey"), editable=False)
    version = models.OneToOneField(
        "certificates.CertificateVersion", on_delete=models.CASCADE, related_name="server_key"
    )
    encrypted_private_key = models.TextField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "certificates"

    def __str__(self) -> str:
        return f"server key of {self.version_id}"
