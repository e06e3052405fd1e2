"""Alert routing: for a certificate and one threshold, which destinations get the alert, and why.

The one implementation of the routing order (docs/expiry-alerts.md, "Alert routing"), used by the expiry check, by
`GET /api/v1/certificates/{id}/alert-routes` and by the certificate page. For a tier T, in this order and
de-duplicated:

1. policy: `alert_channels[T]` (a channel name is its built-in environment destination; "Email" is the built-in
   email destination sending to the certificate owner);
2. owner: when T is in the policy's `alert_owner_tiers`, the owner's email through the built-in email destination;
3. team: the certificate team's destinations accepting T;
4. defaults: only when 1-3 gave nothing, the installation-wide `is_default` destinations accepting T.

Everything is read once (`RoutingDirectory.load`) and resolved in memory; a tier's route for a (policy, team) is
computed once per run (`Resolver`), so a run over 100,000 certificates costs no query per certificate.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from certificates.expiry.services.routing import (
    CHANNELS,
    PolicyRouting,
    days_left,
    policy_routing,
    recipient_for,
)
from certificates.inventory.models import ManagedCertificate, RenewalPolicy, Team
from notifications.channels import get_channel
from notifications.enums import (
    CHANNEL_KIND,
    DEFAULT_ALERT_CHANNELS,
    KIND_CHANNEL,
    Channel,
    DestinationKind,
    DestinationSource,
    SeverityTier,
    builtin_destination_id,
)
from notifications.models import Destination
from notifications.services.quiet import quiet_until

# The pseudo threshold of the alert a certificate gets once its expiry has passed (threshold_days on the row).
EXPIRED = -1
RESOLUTION_ORDER = (
    "policy: the renewal policy's alert_channels for the tier (a channel name is its built-in destination)",
    "owner: the owner's email when the tier is in the policy's alert_owner_tiers",
    "team: the certificate team's enabled destinations accepting the tier",
    "defaults: enabled installation-wide default destinations accepting the tier, only when 1-3 gave nothing",
)
POLICY, OWNER, TEAM, DEFAULT = "policy", "owner", "team", "default"


@dataclass(frozen=True)
class DestinationInfo:
    """The routing-relevant part of a `Destination` row."""

    id: str
    name: str
    kind: str
    enabled: bool = True
    team_id: str | None = None
    tiers: tuple[str, ...] = ()
    is_default: bool = False
    source: str = DestinationSource.ADMIN
    recipients: bool = False  # an email destination with its own recipient list
    stored: bool = (
        True  # False: a built-in destination whose row is missing (rows then name only the channel)
    )

    @property
    def channel(self) -> str:
        return KIND_CHANNEL[self.kind]

    @property
    def from_environment(self) -> bool:
        return self.source == DestinationSource.ENVIRONMENT

    @property
    def token(self) -> str:
        """The dedup-key token: the channel name for built-in destinations (as before destinations were rows)."""
        return self.channel if self.from_environment else self.id

    def accepts(self, tier: str) -> bool:
        return not self.tiers or tier in self.tiers


@dataclass(frozen=True)
class TeamSettings:
    id: str
    name: str
    quiet_hours_start: Any = None
    quiet_hours_end: Any = None
    timezone: str = "UTC"
    digest_enabled: bool = False


@dataclass(frozen=True)
class RouteEntry:
    """One destination considered for a threshold: included (with its recipient) or skipped (with why)."""

    destination_id: str
    name: str
    kind: str
    source: str  # policy, owner, team, default
    reason: str
    included: bool
    skipped_reason: str = ""
    token: str = ""
    channel: str = ""
    to_owner: bool = False  # recipient is the certificate owner's email
    recipient: str = ""  # otherwise this
    stored: bool = True
    deferred_until: datetime | None = None

    def recipient_for(self, owner_email: str) -> str:
        return owner_email if self.to_owner else self.recipient


@dataclass(frozen=True)
class TierRoute:
    entries: tuple[RouteEntry, ...]
    invalid: tuple[str, ...] = ()  # policy entries that are neither a channel nor a destination
    held_for_digest: bool = False

    @property
    def included(self) -> tuple[RouteEntry, ...]:
        return tuple(entry for entry in self.entries if entry.included)


@dataclass(frozen=True)
class ThresholdRoute:
    """A threshold of the policy (or EXPIRED), its tier, whether it has fired, and its destinations."""

    threshold: int
    tier: str
    fired: bool
    destinations: tuple[RouteEntry, ...]

    @property
    def label(self) -> str:
        return "expired" if self.threshold == EXPIRED else f"{self.threshold} days"


@dataclass
class RoutingDirectory:
    """Every destination, the teams' alert settings and which built-in channels are configured, read once."""

    by_ref: dict[str, DestinationInfo] = field(default_factory=dict)
    by_team: dict[str, list[DestinationInfo]] = field(default_factory=dict)
    defaults: list[DestinationInfo] = field(default_factory=list)
    teams: dict[str, TeamSettings] = field(default_factory=dict)
    configured: dict[str, bool] = field(default_factory=dict)

    @classmethod
    def load(cls, team_ids: list[str] | None = None) -> RoutingDirectory:
        directory = cls()
        rows = Destination.objects.order_by("name").values_list(
            "id", "name", "kind", "enabled", "team_id", "tiers", "is_default", "source", "config"
        )
        for dest_id, name, kind, enabled, team_id, tiers, is_default, source, config in rows:
            if kind not in KIND_CHANNEL:
                continue
            info = DestinationInfo(
                id=dest_id,
                name=name,
                kind=kind,
                enabled=enabled,
                team_id=team_id,
                tiers=tuple(t for t in tiers if isinstance(t, str)) if isinstance(tiers, list) else (),
                is_default=is_default,
                source=source,
                recipients=kind == DestinationKind.EMAIL
                and bool(isinstance(config, dict) and config.get("recipients")),
            )
            directory.by_ref.setdefault(dest_id, info)
            directory.by_ref.setdefault(name, info)
            if team_id:
                directory.by_team.setdefault(team_id, []).append(info)
            elif is_default:
                directory.defaults.append(info)
        teams = Team.objects.all() if team_ids is None else Team.objects.filter(id__in=team_ids)
        for values in teams.values(
            "id", "name", "quiet_hours_start", "quiet_hours_end", "timezone", "digest_enabled"
        ):
            directory.teams[values["id"]] = TeamSettings(**values)
        directory.configured = {channel: get_channel(channel).is_configured() for channel in Channel.values}
        return directory

    def builtin(self, channel: str) -> DestinationInfo:
        """The built-in destination of a channel (a stand-in when the row is missing, as delivery does)."""
        dest_id = builtin_destination_id(channel)
        return self.by_ref.get(dest_id) or DestinationInfo(
            id=dest_id,
            name=f"{channel} (environment)",
            kind=CHANNEL_KIND[channel],
            source=DestinationSource.ENVIRONMENT,
            stored=False,
        )

    def lookup(self, ref: object) -> DestinationInfo | None:
        if isinstance(ref, str) and ref in CHANNELS:
            return self.builtin(ref)
        return self.by_ref.get(ref) if isinstance(ref, str) else None


def _entry(
    directory: RoutingDirectory, dest: DestinationInfo, tier: str, source: str, reason: str, *, owner: bool
) -> RouteEntry:
    skipped = ""
    if dest.from_environment and not directory.configured.get(dest.channel, False):
        # Still routed, as before destinations existed: the row goes to the dead letter, where an operator sees
        # it and requeues it once the variables are set. Nothing is dropped silently.
        reason += "; its CERTCTL_* variables are not set, so these alerts wait in the dead letter"
    if not dest.enabled:
        skipped = "disabled"
    elif not dest.accepts(tier):
        skipped = f"tier not accepted (accepts {', '.join(dest.tiers)})"
    # Email without a recipient list of its own (the built-in one, or a row with none) goes to the owner.
    to_owner = dest.kind == DestinationKind.EMAIL and (owner or not dest.recipients)
    # Built-in destinations keep the recipient they always had (Slack: its channel); rows are named.
    recipient = recipient_for(dest.channel, "") if dest.from_environment else dest.name
    return RouteEntry(
        destination_id=dest.id,
        name=dest.name,
        kind=dest.kind,
        source=source,
        reason=reason,
        included=not skipped,
        skipped_reason=skipped,
        token=dest.token,
        channel=dest.channel,
        to_owner=to_owner,
        recipient="" if to_owner else recipient,
        stored=dest.stored,
    )


def resolve_tier(
    directory: RoutingDirectory, routing: PolicyRouting, tier: str, team_id: str | None
) -> TierRoute:
    """The destinations of one tier for a certificate of this policy and team, in routing order."""
    candidates: list[RouteEntry] = []
    invalid: list[str] = []
    names = routing.channel_map.get(tier) if routing.channel_map else DEFAULT_ALERT_CHANNELS[tier]
    for ref in names if isinstance(names, list) else []:
        dest = directory.lookup(ref)
        if dest is None:
            shown = ref if isinstance(ref, str) else repr(ref)
            invalid.append(shown)
            candidates.append(
                RouteEntry(
                    destination_id="",
                    name=shown,
                    kind="",
                    source=POLICY,
                    reason=f"policy alert_channels[{tier}]",
                    included=False,
                    skipped_reason="unknown channel or destination",
                )
            )
            continue
        candidates.append(
            _entry(directory, dest, tier, POLICY, f"policy alert_channels[{tier}]", owner=False)
        )
    if tier in routing.owner_tiers:
        email = directory.builtin(Channel.EMAIL)
        candidates.append(
            _entry(directory, email, tier, OWNER, "owner email (policy alert_owner_tiers)", owner=True)
        )
    team = directory.teams.get(team_id) if team_id else None
    held_for_digest = False
    for dest in directory.by_team.get(team_id, []) if team_id else []:
        entry = _entry(directory, dest, tier, TEAM, f"team {team.name if team else team_id}", owner=False)
        if entry.included and team is not None and team.digest_enabled and tier != SeverityTier.CRITICAL:
            entry = replace(entry, included=False, skipped_reason="in the team's daily digest")
            held_for_digest = True
        candidates.append(entry)
    entries = _dedup(candidates)
    fallback = not any(entry.included for entry in entries) and not held_for_digest
    for dest in directory.defaults:
        entry = _entry(directory, dest, tier, DEFAULT, "default destination", owner=False)
        if entry.included and not fallback:
            entry = replace(entry, included=False, skipped_reason="fallback only: an earlier route applies")
        entries.append(entry)
    return TierRoute(tuple(_dedup(entries)), tuple(invalid), held_for_digest)


def _dedup(entries: list[RouteEntry]) -> list[RouteEntry]:
    """A destination reached by two routes gets the alert once, from the first; the later one says so."""
    first: dict[str, RouteEntry] = {}
    out = []
    for entry in entries:
        earlier = first.get(entry.token) if entry.token else None
        if entry.included and earlier is not None and earlier is not entry:
            entry = replace(entry, included=False, skipped_reason=f"already routed ({earlier.reason})")
        elif entry.included and entry.token:
            first[entry.token] = entry
        out.append(entry)
    return out


class Resolver:
    """Routes for many certificates in one run: each (policy, tier, team) route and each team's quiet hours
    is computed once."""

    def __init__(self, directory: RoutingDirectory, now: datetime) -> None:
        self.directory = directory
        self.now = now
        self._routes: dict[tuple[str, str, str | None], TierRoute] = {}
        self._quiet: dict[str | None, datetime | None] = {}

    def tier_route(self, policy_id: str, routing: PolicyRouting, tier: str, team_id: str | None) -> TierRoute:
        key = (policy_id, tier, team_id)
        route = self._routes.get(key)
        if route is None:
            route = self._routes[key] = resolve_tier(self.directory, routing, tier, team_id)
        return route

    def quiet_until(self, team_id: str | None) -> datetime | None:
        if team_id not in self._quiet:
            team = self.directory.teams.get(team_id) if team_id else None
            self._quiet[team_id] = quiet_until(team, self.now) if team else None
        return self._quiet[team_id]

    def held(self, entries: tuple[RouteEntry, ...], tier: str, team_id: str | None) -> tuple[RouteEntry, ...]:
        """Non-critical alerts of a team in quiet hours wait for the end of its window; critical ones go now."""
        until = None if tier == SeverityTier.CRITICAL else self.quiet_until(team_id)
        if until is None:
            return entries
        return tuple(replace(e, deferred_until=until) if e.included else e for e in entries)


def threshold_routes(
    resolver: Resolver,
    policy_id: str,
    routing: PolicyRouting,
    team_id: str | None,
    expires_at: datetime | None,
) -> list[ThresholdRoute]:
    """Every threshold of the policy, least urgent first, then the EXPIRED alert, each with its destinations.

    `fired`: the threshold is reached (a certificate not issued yet has reached none).
    """
    days = days_left(expires_at, resolver.now) if expires_at else None
    out = []
    for threshold in sorted(routing.thresholds, reverse=True):
        tier = routing.tier_for(threshold)
        route = resolver.tier_route(policy_id, routing, tier, team_id)
        held = resolver.held(route.entries, tier, team_id)
        out.append(ThresholdRoute(threshold, tier, days is not None and days <= threshold, held))
    critical = resolver.tier_route(policy_id, routing, SeverityTier.CRITICAL, team_id)
    expired = expires_at is not None and expires_at <= resolver.now
    out.append(ThresholdRoute(EXPIRED, SeverityTier.CRITICAL, expired, critical.entries))
    return out


def resolve_routes(certificate: ManagedCertificate, now: datetime) -> list[ThresholdRoute]:
    """The alert routes of one certificate at `now` (the alert-routes API and the certificate page)."""
    resolver = Resolver(RoutingDirectory.load(team_ids=[certificate.team_id]), now)
    routing = routing_of(certificate.renewal_policy)
    return threshold_routes(
        resolver, certificate.renewal_policy_id, routing, certificate.team_id, certificate.expires_at
    )


def routing_of(policy: RenewalPolicy) -> PolicyRouting:
    return policy_routing(
        policy.alert_thresholds_days,
        policy.alert_severity_map,
        policy.alert_channels,
        owner_tiers=policy.alert_owner_tiers,
        escalation_after_minutes=policy.escalation_after_minutes,
        escalation_steps=policy.escalation_steps,
    )
