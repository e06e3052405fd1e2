"""Deployment targets by the server's target type; adding one is a module plus a line here."""

from certctl_agent.targets.apache import ApacheTarget
from certctl_agent.targets.base import DeployError, DeployResult, FileTarget, Material, Policy
from certctl_agent.targets.haproxy import HAProxyTarget
from certctl_agent.targets.nginx import NginxTarget

TARGETS: dict[str, type[FileTarget]] = {
    "NGINX": NginxTarget,
    "Apache": ApacheTarget,
    "HAProxy": HAProxyTarget,
}

__all__ = ["TARGETS", "DeployError", "DeployResult", "FileTarget", "Material", "Policy"]
