"""The alerting tools: the notification outbox, acknowledgement, destinations and a certificate's alert routes.

Destination secrets are write-only in the API: no answer carries them (only `secrets_set` and `url_host`), so no
tool here can return one, and none takes one.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from certctl_client.mcp.calls import ApiTools, CertificateId, Limit, api_path, reports_api_errors
from certctl_client.vocabulary import Channel, DestinationKind, NotificationStatus

ChannelFilter = Annotated[Channel | None, Field(description="Only this delivery channel")]
DestinationFilter = Annotated[
    str | None, Field(description="Only this destination's notifications (dest-...)")
]
NotificationId = Annotated[str, Field(min_length=1, max_length=64, description="Notification ID (notif-...)")]
DestinationId = Annotated[
    str,
    Field(min_length=1, max_length=64, description="Destination ID (dest-..., e.g. dest-env-slack)"),
]


class AlertTools(ApiTools):
    """Notifications, destinations and alert routes."""

    @reports_api_errors
    def list_notifications(
        self,
        status: Annotated[
            NotificationStatus | None, Field(description="Only notifications in this status")
        ] = None,
        channel: ChannelFilter = None,
        certificate_id: Annotated[
            str | None, Field(description="Only notifications about this certificate")
        ] = None,
        destination_id: DestinationFilter = None,
        limit: Limit = 50,
    ) -> dict[str, Any]:
        """List notifications (expiry warnings, renewal results, revocations) in the outbox, newest first.

        Each has id, type, channel, destination_id, destination_name, recipient, subject, status, attempts,
        last_error, next_retry_at and acknowledged_at.
        """
        filters = {
            "status": status,
            "channel": channel,
            "certificate_id": certificate_id,
            "destination_id": destination_id,
        }
        return self._page("notifications", "/api/v1/notifications", limit, **filters)

    @reports_api_errors
    def list_dead_notifications(self, channel: ChannelFilter = None, limit: Limit = 50) -> dict[str, Any]:
        """List notifications that gave up after their last delivery attempt (status dead), newest first.

        last_error says why delivery failed; once the cause is fixed, requeue_notification sends one again.
        """
        return self._page("notifications", "/api/v1/notifications", limit, status="dead", channel=channel)

    @reports_api_errors
    def requeue_notification(
        self,
        id: NotificationId,
    ) -> dict[str, Any]:
        """Put a failed or dead notification back to pending with a fresh retry budget; it is delivered again soon.

        A notification in any other status (pending, sent, read) gives a conflict error and is left unchanged.
        """
        return self.api.post(api_path("notifications", id, "requeue"))

    @reports_api_errors
    def acknowledge_notification(self, id: NotificationId) -> dict[str, Any]:
        """Acknowledge an alert: every alert of its incident (same certificate and expiry, all destinations) is
        acknowledged and its escalation stops.

        Answers status (acknowledged, or already_acknowledged with who and when the first time),
        acknowledged_at, acknowledged_by (this API key's name), rows_acknowledged and the notification.
        """
        return self.api.post(api_path("notifications", id, "ack"))

    @reports_api_errors
    def list_destinations(
        self,
        kind: Annotated[DestinationKind | None, Field(description="Only destinations of this kind")] = None,
        team_id: Annotated[str | None, Field(description="Only this team's destinations (team-...)")] = None,
        limit: Limit = 50,
    ) -> dict[str, Any]:
        """List alert destinations (Slack, Teams, PagerDuty, OpsGenie, webhook, email), the six built-in ones from
        the environment (source environment) included.

        Each has id, name, kind, source, config (public settings), secrets_set (names only: secrets are never
        returned), url_host, configured, enabled, team_id, tiers, is_default and the last delivery.
        """
        return self._page("destinations", "/api/v1/destinations", limit, kind=kind, team_id=team_id)

    @reports_api_errors
    def test_destination(
        self,
        id: DestinationId,
        recipient: Annotated[
            str | None, Field(description="Email destinations only: where the test message goes")
        ] = None,
    ) -> dict[str, Any]:
        """Send one test message to a destination now (admin key) and answer the outcome: ok, detail (never a
        secret), last_delivery_at and last_delivery_status. A failed delivery is ok false, not an error."""
        body = {"recipient": recipient} if recipient else {}
        return self.api.post(api_path("destinations", id, "test"), json=body)

    @reports_api_errors
    def certificate_alert_routes(self, id: CertificateId) -> dict[str, Any]:
        """Where a certificate's expiry alerts go and why: per threshold (days, label, tier, fired), every
        destination considered with its route (policy, owner, team, default), reason, included, skipped_reason,
        recipient and deferred_until (quiet hours). Also the policy, team, quiet hours and the routing rules."""
        return self.api.get(api_path("certificates", id, "alert-routes"))
