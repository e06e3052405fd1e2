"""Apache httpd: `cert_path` gets the leaf (SSLCertificateFile), `chain_path` the intermediates
(SSLCertificateChainFile, optional) and `key_path` the key (SSLCertificateKeyFile)."""

from __future__ import annotations

from certctl_agent.targets.base import CERT_MODE, KEY_MODE, FileTarget, Material, PlannedFile


class ApacheTarget(FileTarget):
    type_name = "Apache"

    def plan(self, material: Material) -> list[PlannedFile]:
        files = [PlannedFile(self.path("cert_path"), material.leaf_pem.encode(), CERT_MODE, "cert_path")]
        if self.config.get("chain_path"):
            files.append(
                PlannedFile(self.path("chain_path"), material.chain_pem.encode(), CERT_MODE, "chain_path")
            )
        files.append(PlannedFile(self.path("key_path"), material.key_pem, KEY_MODE, "key_path"))
        return files
