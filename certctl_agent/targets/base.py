"""What every file-based target shares: plan the files, skip unchanged content, write atomically, validate,
reload, and put the previous files back if validation or reload fails."""

from __future__ import annotations

import hashlib
import logging
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from certctl_agent.files import Existing, atomic_write, read_existing

logger = logging.getLogger(__name__)

CERT_MODE = 0o644
KEY_MODE = 0o600
OUTPUT_TAIL = 500


class DeployError(Exception):
    """A deployment that did not happen; the message is safe to send to the server (no key material)."""


@dataclass(frozen=True)
class PlannedFile:
    path: Path
    content: bytes
    mode: int  # for a new file; an existing file keeps its own mode and owner
    config_key: str


@dataclass(frozen=True)
class Material:
    leaf_pem: str
    chain_pem: str  # intermediates and root, may be empty
    key_pem: bytes


@dataclass(frozen=True)
class DeployResult:
    changed: bool
    message: str


@dataclass(frozen=True)
class Policy:
    """The host's own limits, from the agent config: where the server may make it write, what it may run."""

    allowed_dirs: tuple[Path, ...]
    allowed_commands: tuple[str, ...]
    command_timeout: float


class FileTarget:
    type_name = ""
    required_paths: tuple[str, ...] = ()

    def __init__(self, config: dict, policy: Policy) -> None:
        self.config = config or {}
        self.policy = policy

    def plan(self, material: Material) -> list[PlannedFile]:
        raise NotImplementedError

    def path(self, key: str) -> Path:
        raw = self.config.get(key)
        if not isinstance(raw, str) or not raw:
            raise DeployError(f"{self.type_name} target config needs {key!r}")
        path = Path(raw)
        if not path.is_absolute():
            raise DeployError(f"{key} must be an absolute path, got {raw!r}")
        resolved = path.parent.resolve() / path.name
        if not any(resolved.is_relative_to(root.resolve()) for root in self.policy.allowed_dirs):
            raise DeployError(f"{key} {raw} is outside this agent's allowed_dirs")
        return resolved

    def command(self, key: str) -> list[str] | None:
        raw = self.config.get(key)
        if not raw:
            return None
        if not isinstance(raw, str) or raw.strip() not in self.policy.allowed_commands:
            raise DeployError(f"{key} {raw!r} is not in this agent's allowed_commands")
        return shlex.split(raw)

    def deploy(self, material: Material) -> DeployResult:
        files = self.plan(material)
        validate = self.command("validate_command")
        reload = self.command("reload_command")
        before = {planned.path: read_existing(planned.path) for planned in files}
        if all(_same(before[planned.path], planned.content) for planned in files):
            return DeployResult(changed=False, message="unchanged (same SHA-256); nothing written")
        reloaded = False
        try:
            for planned in files:
                old = before[planned.path]
                mode, uid, gid = (old.mode, old.uid, old.gid) if old else (planned.mode, None, None)
                atomic_write(planned.path, planned.content, mode=mode, uid=uid, gid=gid)
            if validate:
                self._run(validate, "validate_command")
            if reload:
                reloaded = True
                self._run(reload, "reload_command")
        except (DeployError, OSError) as exc:
            restore_error = self._restore(before)
            if reloaded and reload and not restore_error:
                # Bring the service back onto the restored files; its own failure is already reported.
                try:
                    self._run(reload, "reload_command")
                except DeployError:
                    logger.warning("reload after restoring previous files failed")
            if restore_error:
                raise DeployError(
                    f"{exc}; restoring the previous files also failed: {restore_error}"
                ) from exc
            raise DeployError(f"{exc}; previous files restored") from exc
        where = ", ".join(str(planned.path) for planned in files)
        return DeployResult(changed=True, message=f"wrote {where}")

    def _restore(self, before: dict[Path, Existing | None]) -> str:
        problems = []
        for path, old in before.items():
            try:
                if old is None:
                    path.unlink(missing_ok=True)
                else:
                    atomic_write(path, old.content, mode=old.mode, uid=old.uid, gid=old.gid)
            except OSError as exc:
                problems.append(f"{path}: {exc.strerror or exc}")
        return "; ".join(problems)

    def _run(self, argv: list[str], what: str) -> None:
        try:
            result = subprocess.run(  # noqa: S603 - argv is an operator-allowed command, no shell
                argv, capture_output=True, text=True, timeout=self.policy.command_timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise DeployError(f"{what} timed out after {self.policy.command_timeout:g}s") from exc
        except OSError as exc:
            raise DeployError(f"{what} could not start: {exc.strerror or exc}") from exc
        if result.returncode != 0:
            output = (result.stderr or result.stdout or "").strip()[-OUTPUT_TAIL:]
            raise DeployError(f"{what} failed (exit {result.returncode}): {output}")


def _same(existing: Existing | None, content: bytes) -> bool:
    return (
        existing is not None and hashlib.sha256(existing.content).digest() == hashlib.sha256(content).digest()
    )
