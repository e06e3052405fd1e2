"""The agent's state directory (mode 0700): its credential and its private keys (mode 0600)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from certctl_agent import keys
from certctl_agent.files import atomic_write

KEEP_KEYS_PER_CERTIFICATE = 3


@dataclass
class Identity:
    agent_id: str
    credential: str

    def __repr__(self) -> str:  # the credential never reaches a log line
        return f"Identity(agent_id={self.agent_id!r})"


class State:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def prepare(self) -> None:
        for path in (self.root, self.root / "keys"):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(path, 0o700)

    @property
    def identity_path(self) -> Path:
        return self.root / "agent.json"

    def identity(self) -> Identity | None:
        try:
            data = json.loads(self.identity_path.read_text())
            return Identity(agent_id=data["agent_id"], credential=data["credential"])
        except FileNotFoundError:
            return None

    def save_identity(self, identity: Identity) -> None:
        body = json.dumps({"agent_id": identity.agent_id, "credential": identity.credential})
        atomic_write(self.identity_path, body.encode(), mode=0o600)

    @property
    def discovery_path(self) -> Path:
        return self.root / "discovery.json"

    def last_discovery(self) -> float:
        """When the last file discovery report was made (epoch seconds), 0 if never."""
        try:
            return float(json.loads(self.discovery_path.read_text())["last_run"])
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return 0.0

    def save_last_discovery(self, when: float) -> None:
        atomic_write(self.discovery_path, json.dumps({"last_run": when}).encode(), mode=0o600)

    def _key_dir(self, certificate_id: str) -> Path:
        if not certificate_id or "/" in certificate_id or certificate_id.startswith("."):
            raise ValueError(f"bad certificate id {certificate_id!r}")
        return self.root / "keys" / certificate_id

    def save_key(self, certificate_id: str, key) -> Path:
        """Store a new key under the SHA-256 of its public key, so each certificate finds its own key."""
        directory = self._key_dir(certificate_id)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = directory / f"{keys.spki_fingerprint(key.public_key())}.key"
        atomic_write(path, keys.key_pem(key), mode=0o600)
        return path

    def key_for(self, certificate_id: str, public_key) -> bytes | None:
        path = self._key_dir(certificate_id) / f"{keys.spki_fingerprint(public_key)}.key"
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None

    def discard_key(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def prune_keys(self, certificate_id: str, keep_fingerprint: str) -> None:
        """Keep the deployed key and the newest others (a pending renewal may still need one)."""
        directory = self._key_dir(certificate_id)
        others = sorted(
            (path for path in directory.glob("*.key") if path.stem != keep_fingerprint),
            key=lambda path: path.stat().st_mtime,
            reverse=True,
        )
        for path in others[KEEP_KEYS_PER_CERTIFICATE - 1 :]:
            path.unlink(missing_ok=True)
