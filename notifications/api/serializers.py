from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from notifications.enums import Channel, NotificationStatus
from notifications.models import NotificationEvent
from notifications.services.operator import REQUEUEABLE

BULK_IDS_MAX = 1000


class NotificationSerializer(serializers.ModelSerializer):
    certificate_id = serializers.CharField(allow_null=True, read_only=True)
    attempts = serializers.SerializerMethodField(help_text="Delivery attempts made so far")
    max_attempts = serializers.SerializerMethodField()

    class Meta:
        model = NotificationEvent
        fields = [
            "id",
            "type",
            "certificate_id",
            "channel",
            "recipient",
            "subject",
            "message",
            "severity_tier",
            "threshold_days",
            "status",
            "sent_at",
            "retry_count",
            "attempts",
            "max_attempts",
            "next_retry_at",
            "last_error",
            "created_at",
        ]
        read_only_fields = fields

    def get_attempts(self, event: NotificationEvent) -> int:
        delivered = event.status in (NotificationStatus.SENT, NotificationStatus.READ) and event.sent_at
        return event.retry_count + (1 if delivered else 0)

    def get_max_attempts(self, event: NotificationEvent) -> int:
        return settings.NOTIFICATION_MAX_ATTEMPTS


class ActionResultSerializer(serializers.Serializer):
    status = serializers.CharField()
    notification = NotificationSerializer()


class BulkRequeueSerializer(serializers.Serializer):
    """At least one filter; rows must be failed or dead whatever the filter says."""

    status = serializers.ChoiceField(choices=[s.value for s in REQUEUEABLE], required=False)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    ids = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, allow_empty=False, max_length=BULK_IDS_MAX
    )

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields) if isinstance(self.initial_data, dict) else set()
        if unknown:
            raise serializers.ValidationError({name: ["unknown field"] for name in sorted(unknown)})
        if not attrs:
            raise serializers.ValidationError("give at least one of status, channel, ids")
        return attrs


class BulkRequeueResultSerializer(serializers.Serializer):
    status = serializers.CharField()
    count = serializers.IntegerField()
    ids = serializers.ListField(child=serializers.CharField())
