"""Notification enumerations, shared with the renewal policies that route alerts to channels."""

from django.db import models


class NotificationType(models.TextChoices):
    EXPIRATION_WARNING = "ExpirationWarning"
    RENEWAL_SUCCESS = "RenewalSuccess"
    RENEWAL_FAILURE = "RenewalFailure"
    DEPLOYMENT_SUCCESS = "DeploymentSuccess"
    DEPLOYMENT_FAILURE = "DeploymentFailure"
    POLICY_VIOLATION = "PolicyViolation"
    REVOCATION = "Revocation"
    INCIDENT_RESOLVED = "IncidentResolved"
    EXPIRY_DIGEST = "ExpiryDigest"


class Channel(models.TextChoices):
    EMAIL = "Email"
    WEBHOOK = "Webhook"
    SLACK = "Slack"
    TEAMS = "Teams"
    PAGERDUTY = "PagerDuty", "PagerDuty"
    OPSGENIE = "OpsGenie", "OpsGenie"


class NotificationStatus(models.TextChoices):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"
    READ = "read"
    DEFERRED = "deferred"


class SeverityTier(models.TextChoices):
    INFORMATIONAL = "informational"
    WARNING = "warning"
    CRITICAL = "critical"


DEFAULT_ALERT_THRESHOLDS = [30, 14, 7, 0]
DEFAULT_SEVERITY_MAP = {"30": "informational", "14": "warning", "7": "warning", "0": "critical"}
DEFAULT_ALERT_CHANNELS = {"informational": ["Email"], "warning": ["Email"], "critical": ["Email"]}


class DestinationKind(models.TextChoices):
    """What a destination row is; each kind is delivered by the channel of the same name."""

    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"
    SLACK = "slack", "Slack"
    TEAMS = "teams", "Teams"
    PAGERDUTY = "pagerduty", "PagerDuty"
    OPSGENIE = "opsgenie", "OpsGenie"


class DestinationSource(models.TextChoices):
    ADMIN = "admin", "configured in certctl"
    ENVIRONMENT = "environment", "from environment"


KIND_CHANNEL = {
    DestinationKind.EMAIL: Channel.EMAIL,
    DestinationKind.WEBHOOK: Channel.WEBHOOK,
    DestinationKind.SLACK: Channel.SLACK,
    DestinationKind.TEAMS: Channel.TEAMS,
    DestinationKind.PAGERDUTY: Channel.PAGERDUTY,
    DestinationKind.OPSGENIE: Channel.OPSGENIE,
}
CHANNEL_KIND = {channel: kind for kind, channel in KIND_CHANNEL.items()}


def builtin_destination_id(channel: str) -> str:
    """The fixed id of the destination a `CERTCTL_*` channel variable set becomes (`dest-env-slack`, ...)."""
    return f"dest-env-{CHANNEL_KIND[channel]}"
