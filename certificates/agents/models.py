"""Agent groups: a named set of agents (explicit members plus those matching the group's criteria) that
deployments can be aimed at."""

from __future__ import annotations

import ipaddress

from django.core.exceptions import ValidationError
from django.db import models

from certctl.kernel.ids import id_factory


def validate_cidr(value: str) -> None:
    """An IPv4 or IPv6 network such as 10.0.0.0/8 or 2001:db8::/32 (host bits may be set: 10.1.2.3/8)."""
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError as exc:
        raise ValidationError(f"{value!r} is not a CIDR range such as 10.0.0.0/8 or 2001:db8::/32") from exc


class AgentGroup(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=id_factory("agrp"), editable=False)
    name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True)
    # Criteria: an agent matches when every set one holds; a group without criteria has its explicit members only.
    match_os = models.CharField(max_length=64, blank=True, help_text="e.g. linux (as reported, any case)")
    match_architecture = models.CharField(max_length=64, blank=True, help_text="e.g. x86_64, arm64")
    match_cidr = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_cidr],
        help_text="The agent's reported IP address lies in this range, e.g. 10.0.0.0/8 or 2001:db8::/32",
    )
    explicit_members = models.ManyToManyField("certificates.Agent", blank=True, related_name="agent_groups")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def has_criteria(self) -> bool:
        return bool(self.match_os or self.match_architecture or self.match_cidr)

    def matches(self, agent) -> bool:
        """Whether `agent` meets every criterion set (False when none is set: membership is explicit then)."""
        if not self.has_criteria:
            return False
        if self.match_os and agent.os.lower() != self.match_os.lower():
            return False
        if self.match_architecture and agent.architecture.lower() != self.match_architecture.lower():
            return False
        if self.match_cidr:
            try:
                address = ipaddress.ip_address(agent.ip_address.strip())
                network = ipaddress.ip_network(self.match_cidr, strict=False)
            except ValueError:
                return False
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped and network.version == 4:
                address = address.ipv4_mapped
            return address.version == network.version and address in network
        return True
