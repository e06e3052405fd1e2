from __future__ import annotations

from rest_framework import serializers

from audit.models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "seq",
            "actor",
            "actor_type",
            "action",
            "resource_type",
            "resource_id",
            "details",
            "timestamp",
            "prev_hash",
            "row_hash",
        ]
        read_only_fields = fields
