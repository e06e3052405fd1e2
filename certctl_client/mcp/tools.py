"""The certctl tools an assistant can call: each is one or a few REST API calls, answering the API's JSON objects.

Certificates, jobs and approvals, stats and the audit trail here; notifications, destinations and alert routes in
alert_tools.py; discovered certificates, scans and compliance violations in discovery_tools.py. Errors and paging:
calls.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from certctl_client.mcp.alert_tools import AlertTools
from certctl_client.mcp.calls import MAX_LIMIT, CertificateId, Limit, api_path, reports_api_errors, utc
from certctl_client.mcp.discovery_tools import DiscoveryTools
from certctl_client.vocabulary import CertificateStatus, JobStatus, JobType, RevocationReason

DecisionNote = Annotated[
    str, Field(max_length=2000, description="Why, recorded with the decision in the audit trail")
]
ApprovalOrJobId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        description="The approval request ID (ar-...) or the ID of the job awaiting approval (status "
        "AwaitingApproval); a job ID is mapped to its pending approval request",
    ),
]

LIVE_STATUSES_EXCLUDED = ("Revoked", "Archived")


class CertctlTools(AlertTools, DiscoveryTools):
    """Every tool, bound to one API connection; server.py registers the ones it names."""

    @reports_api_errors
    def list_certificates(
        self,
        status: Annotated[
            CertificateStatus | None, Field(description="Only certificates in this status")
        ] = None,
        team: Annotated[
            str | None, Field(description="Only this team: a team ID (team-...) or its name")
        ] = None,
        expiring_within_days: Annotated[
            int | None,
            Field(ge=0, le=3650, description="Only certificates whose expiry is before now + this many days"),
        ] = None,
        limit: Limit = 50,
    ) -> dict[str, Any]:
        """List managed certificates, newest first, with optional filters.

        Each certificate has id, name, common_name, sans, status, expires_at, owner_id, team_id, issuer_id and
        revocation fields. Use get_certificate for one certificate, list_expiring_certificates for an expiry view.
        """
        filters: dict[str, Any] = {"status": status}
        if team:
            filters["team_id"] = self._team_id(team)
        if expiring_within_days is not None:
            filters["expires_before"] = utc(datetime.now(UTC) + timedelta(days=expiring_within_days))
        return self._page("certificates", "/api/v1/certificates", limit, **filters)

    @reports_api_errors
    def get_certificate(self, id: CertificateId) -> dict[str, Any]:
        """Get one certificate by ID: names, SANs, status, expiry, owner/team/issuer, targets and revocation."""
        return self.api.get(api_path("certificates", id))

    @reports_api_errors
    def list_expiring_certificates(
        self,
        days: Annotated[int, Field(ge=0, le=3650, description="Look-ahead window in days")] = 30,
        include_expired: Annotated[
            bool, Field(description="Also list certificates whose expiry has already passed")
        ] = False,
        limit: Limit = 50,
    ) -> dict[str, Any]:
        """List certificates that expire within `days` days (default 30), soonest first.

        Revoked and archived certificates are left out. Use renew_certificate to start a renewal.
        """
        now = datetime.now(UTC)
        filters = {"expires_before": utc(now + timedelta(days=days)), "sort": "expires_at"}
        if not include_expired:
            filters["expires_after"] = utc(now)
        per_page = min(MAX_LIMIT, max(limit + 1, 50))
        rows: list[dict] = []
        page, more = 1, False
        while True:  # skip revoked/archived rows (the API's status filter takes one status) until limit + 1
            body = self.api.get("/api/v1/certificates", page=page, per_page=per_page, **filters)
            data = body.get("data", [])
            rows += [row for row in data if row.get("status") not in LIVE_STATUSES_EXCLUDED]
            if len(rows) > limit:
                rows, more = rows[:limit], True
                break
            if not data or page * per_page >= int(body.get("total", 0)):
                break
            page += 1
        answer: dict[str, Any] = {
            "certificates": rows,
            "count": len(rows),
            "window_ends_at": filters["expires_before"],
        }
        if more:
            answer["note"] = (
                f"more than {limit} certificates expire in this window; raise limit (max {MAX_LIMIT})"
            )
        return answer

    @reports_api_errors
    def renew_certificate(
        self,
        id: CertificateId,
        force: Annotated[
            bool,
            Field(description="Replace a renewal job that is already open instead of failing with conflict"),
        ] = False,
    ) -> dict[str, Any]:
        """Start a renewal (or the first issuance) of a certificate; answers the job it created.

        A certificate with an open renewal job gives a conflict error unless force is true. The job may need an
        approval (status AwaitingApproval, see approve_job) or run on an agent; follow it with list_jobs.
        """
        return self.api.post(api_path("certificates", id, "renew"), json={"force": force})

    @reports_api_errors
    def revoke_certificate(
        self,
        id: CertificateId,
        reason: Annotated[
            RevocationReason,
            Field(description="RFC 5280 revocation reason; keyCompromise when the private key leaked"),
        ] = "unspecified",
    ) -> dict[str, Any]:
        """Revoke a certificate: it is published as revoked in the CRL and OCSP. This cannot be undone.

        Confirm with the user before calling. Answers the serial, the reason and revoked_at; an already revoked
        or archived certificate gives a conflict error.
        """
        return self.api.post(api_path("certificates", id, "revoke"), json={"reason": reason})

    @reports_api_errors
    def get_stats(self) -> dict[str, Any]:
        """Get the dashboard counters: the state of the whole inventory in one call.

        Certificates by status, expiring/expired/revoked counts, agents online/offline, jobs
        pending/failed/completed, and notifications by status (dead ones need attention).
        """
        return self.api.get("/api/v1/stats/summary")

    @reports_api_errors
    def search_audit(
        self,
        actor: Annotated[
            str | None, Field(description="Exact actor: API key name, username, agent ID or system")
        ] = None,
        resource_type: Annotated[
            str | None, Field(description="Exact resource type, e.g. certificate, notification, job")
        ] = None,
        resource_id: Annotated[str | None, Field(description="Exact resource ID, e.g. cert-01J...")] = None,
        action: Annotated[
            str | None,
            Field(
                description="Exact action, e.g. certificate_revoked, renewal_triggered, notification_requeued"
            ),
        ] = None,
        since: Annotated[
            str | None, Field(description="Only events at or after this ISO-8601 date or date-time (UTC)")
        ] = None,
        until: Annotated[
            str | None, Field(description="Only events before this ISO-8601 date or date-time")
        ] = None,
        limit: Limit = 50,
    ) -> dict[str, Any]:
        """Search the tamper-evident audit trail (who did what to which resource, and when), newest first."""
        filters = {
            "actor": actor,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "action": action,
            "from": since,
            "to": until,
        }
        return self._page("events", "/api/v1/audit", limit, **filters)

    @reports_api_errors
    def list_jobs(
        self,
        status: Annotated[JobStatus | None, Field(description="Only jobs in this status")] = None,
        type: Annotated[JobType | None, Field(description="Only jobs of this type")] = None,
        certificate_id: Annotated[str | None, Field(description="Only jobs of this certificate")] = None,
        limit: Limit = 50,
    ) -> dict[str, Any]:
        """List issuance, renewal, deployment and validation jobs, newest first.

        Jobs in status AwaitingApproval wait for a second person: approve_job or reject_job.
        """
        filters = {"status": status, "type": type, "certificate_id": certificate_id}
        return self._page("jobs", "/api/v1/jobs", limit, **filters)

    def _approval_id(self, id: str) -> str:
        if id.startswith("ar-"):
            return id
        job = self.api.get(api_path("jobs", id))
        pending = self.api.get(
            "/api/v1/approvals", state="pending", certificate_id=job.get("certificate_id"), per_page=MAX_LIMIT
        )
        for approval in pending.get("data", []):
            if approval.get("job_id") == job["id"]:
                return str(approval["id"])
        raise ToolError(f"conflict: job {id} (status {job.get('status')}) has no pending approval request")

    @reports_api_errors
    def approve_job(self, id: ApprovalOrJobId, note: DecisionNote = "") -> dict[str, Any]:
        """Approve a pending issuance/renewal approval request, so its job proceeds (two-person rule).

        The key that requested it cannot approve it (forbidden error); a decided request gives a conflict error.
        """
        return self.api.post(api_path("approvals", self._approval_id(id), "approve"), json={"note": note})

    @reports_api_errors
    def reject_job(self, id: ApprovalOrJobId, note: DecisionNote = "") -> dict[str, Any]:
        """Reject a pending approval request: its job is cancelled and no certificate is issued."""
        return self.api.post(api_path("approvals", self._approval_id(id), "reject"), json={"note": note})
