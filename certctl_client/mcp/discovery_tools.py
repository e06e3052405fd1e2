"""The discovery and compliance tools: certificates found by scans, agents and imports (list, show, claim,
dismiss), network scan runs, and the compliance violations of managed and discovered certificates.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from certctl_client.mcp.calls import ApiTools, Limit, api_path, reports_api_errors

# The server's enums (discovery and compliance models), spelled as the API takes them.
DiscoveryStatus = Literal["Unmanaged", "Managed", "Dismissed"]
Severity = Literal["Warning", "Error", "Critical"]
RuleType = Literal[
    "min_key_size",
    "allowed_curves",
    "forbidden_signature_algorithms",
    "max_validity",
    "allowed_issuers",
    "required_san_pattern",
    "expired",
    "self_signed",
    "chain_problem",
]
ViolationState = Literal["open", "resolved", "all"]

DiscoveredId = Annotated[
    str, Field(min_length=1, max_length=64, description="Discovered certificate ID (dcert-...)")
]
ReferenceId = Annotated[str | None, Field(max_length=64)]
CREATE_FIELDS = ("owner_id", "team_id", "renewal_policy_id", "issuer_id")


def _flag(value: bool | None) -> str | None:
    return None if value is None else str(value).lower()


class DiscoveryTools(ApiTools):
    """Discovered certificates, scans and violations."""

    @reports_api_errors
    def list_discovered_certificates(
        self,
        status: Annotated[
            DiscoveryStatus | None,
            Field(description="Only this status: Unmanaged (nobody manages it yet), Managed or Dismissed"),
        ] = None,
        weak: Annotated[
            bool | None, Field(description="true: only weak ones (small key, SHA-1/MD5); false: no weak ones")
        ] = None,
        self_signed: Annotated[
            bool | None, Field(description="true: only self-signed ones; false: no self-signed ones")
        ] = None,
        expires_before: Annotated[
            str | None,
            Field(description="Only those expiring before this ISO-8601 date or date-time, e.g. 2027-01-31"),
        ] = None,
        issuer: Annotated[
            str | None, Field(description="Only those whose issuer DN contains this text")
        ] = None,
        search: Annotated[
            str | None, Field(description="Only those whose common name or a SAN contains this text")
        ] = None,
        limit: Limit = 50,
    ) -> dict[str, Any]:
        """List certificates found by network scans, agents and imports, soonest expiry first.

        Each has id, common_name, sans, issuer_dn, not_after, key_algorithm, key_size, signature_algorithm,
        is_weak, is_self_signed, status, managed_certificate_id, owner_id, team_id and first/last_seen_at.
        Use get_discovered_certificate for where one was seen, claim_discovered_certificate to manage it.
        """
        filters = {
            "status": status,
            "weak": _flag(weak),
            "self_signed": _flag(self_signed),
            "expires_before": expires_before,
            "issuer": issuer,
            "search": search,
        }
        return self._page("certificates", "/api/v1/discovery/certificates", limit, **filters)

    @reports_api_errors
    def get_discovered_certificate(self, id: DiscoveredId) -> dict[str, Any]:
        """Get one discovered certificate with its PEM and chain, its sightings (where and when it was seen:
        network address, port and SNI, agent host and path, or an import) and the endpoints serving it now.

        The private key is never returned (has_private_key says whether one was imported).
        """
        return self.api.get(api_path("discovery", "certificates", id))

    @reports_api_errors
    def claim_discovered_certificate(
        self,
        id: DiscoveredId,
        managed_certificate_id: Annotated[
            ReferenceId,
            Field(
                description="Link to this existing managed certificate (cert-...) instead; give nothing else"
            ),
        ] = None,
        owner_id: Annotated[ReferenceId, Field(description="Owner of the new managed certificate")] = None,
        team_id: Annotated[ReferenceId, Field(description="Its team (team-...)")] = None,
        renewal_policy_id: Annotated[ReferenceId, Field(description="Its renewal policy")] = None,
        issuer_id: Annotated[ReferenceId, Field(description="The issuer that renews it")] = None,
        name: Annotated[
            str | None, Field(max_length=255, description="Its name (default: from the certificate)")
        ] = None,
        profile_id: Annotated[ReferenceId, Field(description="Its certificate profile")] = None,
        environment: Annotated[str | None, Field(max_length=64, description="e.g. prod, staging")] = None,
        target_ids: Annotated[
            list[str] | None, Field(description="Deployment targets of the new managed certificate")
        ] = None,
    ) -> dict[str, Any]:
        """Adopt a discovered certificate: create a managed certificate from it (owner_id, team_id,
        renewal_policy_id and issuer_id all needed), or link it to an existing one (managed_certificate_id
        alone).

        Answers the managed certificate and `claim`: created (false for a link), private_key_stored and the
        endpoints where it is deployed. A certificate already managed gives a conflict error (repeating the
        same link answers it again).
        """
        if managed_certificate_id:
            others = {
                "owner_id": owner_id,
                "team_id": team_id,
                "renewal_policy_id": renewal_policy_id,
                "issuer_id": issuer_id,
                "name": name,
                "profile_id": profile_id,
                "environment": environment,
                "target_ids": target_ids,
            }
            given = sorted(field for field, value in others.items() if value)
            if given:
                raise ToolError(
                    f"validation_error: {', '.join(given)}: not allowed with managed_certificate_id "
                    "(linking changes nothing else)"
                )
            body: dict[str, Any] = {"managed_certificate_id": managed_certificate_id}
        else:
            body = {
                "owner_id": owner_id,
                "team_id": team_id,
                "renewal_policy_id": renewal_policy_id,
                "issuer_id": issuer_id,
            }
            missing = [field for field in CREATE_FIELDS if not body[field]]
            if missing:
                raise ToolError(
                    f"validation_error: {', '.join(missing)}: required to create a managed certificate "
                    "(or give managed_certificate_id to link to an existing one)"
                )
            optional = {
                "name": name,
                "profile_id": profile_id,
                "environment": environment,
                "target_ids": target_ids,
            }
            body.update({field: value for field, value in optional.items() if value})
        return self.api.post(api_path("discovery", "certificates", id, "claim"), json=body)

    @reports_api_errors
    def dismiss_discovered_certificate(
        self,
        id: DiscoveredId,
        reason: Annotated[
            str,
            Field(
                min_length=1, max_length=2000, description="Why it needs no management; stored and audited"
            ),
        ],
    ) -> dict[str, Any]:
        """Dismiss a discovered certificate from the unmanaged list: no more alerts for it, and it says why.

        Answers the certificate (status Dismissed, dismissed_reason, dismissed_by); one already dismissed is
        answered unchanged, a managed one gives a conflict error.
        """
        return self.api.post(api_path("discovery", "certificates", id, "dismiss"), json={"reason": reason})

    @reports_api_errors
    def start_discovery_scan(
        self,
        profile_id: Annotated[
            str, Field(min_length=1, max_length=64, description="Scan profile ID (scanprof-...)")
        ],
    ) -> dict[str, Any]:
        """Start a network scan of a scan profile now; only the profile's targets are contacted.

        Answers the run (id dscan-..., status, targets_total, ...); follow it with get_discovery_scan. A
        profile with a run already queued or running gives a conflict error.
        """
        return self.api.post(api_path("discovery", "profiles", profile_id, "scan"))

    @reports_api_errors
    def get_discovery_scan(
        self, id: Annotated[str, Field(min_length=1, max_length=64, description="Scan run ID (dscan-...)")]
    ) -> dict[str, Any]:
        """Get a network scan run: status (queued, running, completed, cancelled, failed), targets_done of
        targets_total, progress (0.0 to 1.0), found, new_certificates, errors, chunks and timestamps."""
        return self.api.get(api_path("discovery", "scans", id))

    @reports_api_errors
    def list_violations(
        self,
        severity: Annotated[Severity | None, Field(description="Only this severity")] = None,
        rule_type: Annotated[
            RuleType | None, Field(description="Only violations of rules of this type")
        ] = None,
        rule_id: Annotated[ReferenceId, Field(description="Only violations of this rule (rule-...)")] = None,
        certificate_id: Annotated[
            ReferenceId, Field(description="Only this managed certificate's violations (cert-...)")
        ] = None,
        discovered_certificate_id: Annotated[
            ReferenceId, Field(description="Only this discovered certificate's violations (dcert-...)")
        ] = None,
        team_id: Annotated[ReferenceId, Field(description="Only this team's violations (team-...)")] = None,
        state: Annotated[
            ViolationState | None, Field(description="open (the default), resolved or all")
        ] = None,
        limit: Limit = 50,
    ) -> dict[str, Any]:
        """List compliance violations (weak keys, SHA-1 signatures, expired, self-signed, chain problems, ...)
        of managed and discovered certificates, newest first; open ones unless state says otherwise.

        Each has id, rule_id, rule_name, rule_type, severity, state, certificate_id or
        discovered_certificate_id, team_id, message, details, first_seen_at, last_seen_at and resolved_at.
        """
        filters = {
            "severity": severity,
            "rule_type": rule_type,
            "rule_id": rule_id,
            "certificate_id": certificate_id,
            "discovered_certificate_id": discovered_certificate_id,
            "team_id": team_id,
            "state": state,
        }
        return self._page("violations", "/api/v1/violations", limit, **filters)
