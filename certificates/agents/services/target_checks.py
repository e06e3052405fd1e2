"""POST /targets/{id}/test: what the server can check about a deployment target without its agent.

The agent does the target's work on its own host (and the server never dials agents), so this checks: the
target is enabled and not retired; its config has what the agent's connector for the type needs (absolute
paths); its agent is not retired and was heard from within CERTCTL_AGENT_OFFLINE_AFTER; and, when the config
names a `verify_endpoint`, that the server gets a TLS handshake there (and which certificate it serves).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from cryptography.hazmat.primitives.serialization import Encoding
from django.utils import timezone

from audit.services.record import record
from certctl.kernel.certificate_facts import fingerprint
from certificates.agents.services.verification import VERIFY_TIMEOUT, EndpointConfigError, endpoint_probe
from certificates.discovery.services.probe import Outcome, handshake
from certificates.inventory.models import DeploymentTarget
from certificates.inventory.querysets import agent_online

# The paths each agent connector needs (certctl_agent/targets); other types have no connector in the agent yet.
REQUIRED_PATHS: dict[str, tuple[str, ...]] = {
    "NGINX": ("cert_path", "key_path"),
    "Apache": ("cert_path", "chain_path", "key_path"),
    "HAProxy": ("pem_path",),
}


@dataclass
class TargetCheck:
    name: str
    ok: bool
    detail: str


def _config_check(target: DeploymentTarget) -> TargetCheck:
    config = target.config if isinstance(target.config, dict) else {}
    needed = REQUIRED_PATHS.get(target.type)
    if needed is None:
        return TargetCheck("config", False, f"the certctl agent has no connector for {target.type} targets")
    problems = [
        key for key in needed if not isinstance(config.get(key), str) or not config[key].startswith("/")
    ]
    if problems:
        return TargetCheck("config", False, f"{target.type} needs absolute paths in: {', '.join(problems)}")
    return TargetCheck("config", True, f"{', '.join(needed)} set")


def _agent_check(target: DeploymentTarget, now: datetime) -> TargetCheck:
    agent = target.agent
    if agent.retired_at is not None:
        return TargetCheck("agent", False, f"agent {agent.name} was retired")
    if not type(agent).objects.filter(agent_online(now), pk=agent.pk).exists():
        seen = agent.last_heartbeat_at.isoformat() if agent.last_heartbeat_at else "never"
        return TargetCheck("agent", False, f"agent {agent.name} is offline (last heartbeat: {seen})")
    return TargetCheck("agent", True, f"agent {agent.name} is online")


def _endpoint_check(target: DeploymentTarget, timeout: float) -> TargetCheck | None:
    try:
        probe = endpoint_probe(target.config)
    except EndpointConfigError as exc:
        return TargetCheck("endpoint", False, str(exc))
    if probe is None:
        return None
    result = handshake(probe, timeout)
    if result.outcome != Outcome.FOUND:
        detail = f": {result.error}" if result.error else ""
        return TargetCheck("endpoint", False, f"{probe.label} {result.outcome.value}{detail}")
    served = fingerprint(result.chain[0].public_bytes(Encoding.DER))
    return TargetCheck("endpoint", True, f"{probe.label} answers {result.protocol}, serving {served}")


def check_target(
    target: DeploymentTarget,
    *,
    actor: str,
    actor_type: str,
    now: datetime | None = None,
    timeout: float = VERIFY_TIMEOUT,
) -> tuple[bool, list[TargetCheck]]:
    """Run the checks (the handshake outside any transaction); audited as `target_tested`."""
    now = now or timezone.now()
    checks = [
        TargetCheck(
            "state",
            target.enabled and target.retired_at is None,
            "retired" if target.retired_at else ("enabled" if target.enabled else "disabled"),
        ),
        _config_check(target),
        _agent_check(target, now),
    ]
    endpoint = _endpoint_check(target, timeout)
    if endpoint is not None:
        checks.append(endpoint)
    ok = all(check.ok for check in checks)
    record(
        "target_tested",
        resource_type="target",
        resource_id=target.pk,
        actor=actor,
        actor_type=actor_type,
        details={"ok": ok, "checks": [asdict(check) for check in checks]},
        now=now,
    )
    return ok, checks
