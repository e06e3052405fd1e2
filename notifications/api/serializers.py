from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from notifications.enums import Channel, NotificationStatus
from notifications.models import NotificationEvent
from notifications.services.destinations import row_destination_id
from notifications.services.operator import REQUEUEABLE

BULK_IDS_MAX = 1000


class NotificationSerializer(serializers.ModelSerializer):
    certificate_id = serializers.CharField(allow_null=True, read_only=True)
    attempts = serializers.SerializerMethodField(help_text="Delivery attempts made so far")
    max_attempts = serializers.SerializerMethodField()
    destination_id = serializers.SerializerMethodField(
        help_text="The destination it goes to (null: one deleted since; destination_name keeps its name)"
    )
    destination_name = serializers.SerializerMethodField()

    class Meta:
        model = NotificationEvent
        fields = [
            "id",
            "type",
            "certificate_id",
            "channel",
            "destination_id",
            "destination_name",
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

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_destination_id(self, event: NotificationEvent) -> str | None:
        return row_destination_id(event.destination_id, event.destination_name, event.channel)

    def get_destination_name(self, event: NotificationEvent) -> str:
        if event.destination_name or event.destination_id:
            return event.destination_name
        return f"{event.channel} (environment)"  # a row that named only its channel: the built-in destination


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
    destination_id = serializers.CharField(
        max_length=40, required=False, help_text="Only this destination's rows"
    )

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields) if isinstance(self.initial_data, dict) else set()
        if unknown:
            raise serializers.ValidationError({name: ["unknown field"] for name in sorted(unknown)})
        if not attrs:
            raise serializers.ValidationError("give at least one of status, channel, destination_id, ids")
        return attrs


class BulkRequeueResultSerializer(serializers.Serializer):
    status = serializers.CharField()
    count = serializers.IntegerField()
    ids = serializers.ListField(child=serializers.CharField())
