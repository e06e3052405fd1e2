"""HAProxy: one combined PEM at `pem_path` (leaf, chain, then key), as `crt` in a bind line expects; it holds
the key, so a new file is mode 0600."""

from __future__ import annotations

from certctl_agent.targets.base import KEY_MODE, FileTarget, Material, PlannedFile


class HAProxyTarget(FileTarget):
    type_name = "HAProxy"

    def plan(self, material: Material) -> list[PlannedFile]:
        key = material.key_pem if material.key_pem.endswith(b"\n") else material.key_pem + b"\n"
        combined = (material.leaf_pem + material.chain_pem).encode() + key
        return [PlannedFile(self.path("pem_path"), combined, KEY_MODE, "pem_path")]
