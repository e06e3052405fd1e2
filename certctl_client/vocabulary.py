"""The API's enumerations as the clients check them before sending (the server's enums, spelled as it takes them)."""

from __future__ import annotations

from typing import Literal

CertificateStatus = Literal[
    "Pending", "Active", "Expiring", "Expired", "RenewalInProgress", "Failed", "Revoked", "Archived"
]
# RFC 5280 reason names, exactly as the API takes them.
RevocationReason = Literal[
    "unspecified",
    "keyCompromise",
    "caCompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
    "certificateHold",
    "privilegeWithdrawn",
]
NotificationStatus = Literal["pending", "sent", "failed", "dead", "read", "deferred"]
Channel = Literal["Email", "Webhook", "Slack", "Teams", "PagerDuty", "OpsGenie"]
DestinationKind = Literal["email", "webhook", "slack", "teams", "pagerduty", "opsgenie"]
DestinationSource = Literal["admin", "environment"]
SeverityTier = Literal["informational", "warning", "critical"]
JobStatus = Literal[
    "Pending", "AwaitingCSR", "AwaitingApproval", "Running", "Completed", "Failed", "Cancelled"
]
JobType = Literal["Issuance", "Renewal", "Deployment", "Validation"]
