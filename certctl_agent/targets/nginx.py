"""NGINX: `cert_path` gets the leaf followed by the chain (ssl_certificate), `key_path` the key
(ssl_certificate_key)."""

from __future__ import annotations

from certctl_agent.targets.base import CERT_MODE, KEY_MODE, FileTarget, Material, PlannedFile


class NginxTarget(FileTarget):
    type_name = "NGINX"

    def plan(self, material: Material) -> list[PlannedFile]:
        fullchain = (material.leaf_pem + material.chain_pem).encode()
        return [
            PlannedFile(self.path("cert_path"), fullchain, CERT_MODE, "cert_path"),
            PlannedFile(self.path("key_path"), material.key_pem, KEY_MODE, "key_path"),
        ]
