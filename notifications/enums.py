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


class SeverityTier(models.TextChoices):
    INFORMATIONAL = "informational"
    WARNING = "warning"
    CRITICAL = "critical"


DEFAULT_ALERT_THRESHOLDS = [30, 14, 7, 0]
DEFAULT_SEVERITY_MAP = {"30": "informational", "14": "warning", "7": "warning", "0": "critical"}
DEFAULT_ALERT_CHANNELS = {"informational": ["Email"], "warning": ["Email"], "critical": ["Email"]}
