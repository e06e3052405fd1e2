"""Pipelined writes and `rows.insert`: same rows as save(), errors as Django's own exceptions."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from certctl import rows
from certctl.pipeline import pipelined
from notifications.models import NotificationEvent

pytestmark = pytest.mark.django_db


def test_rows_inserted_in_a_pipeline_read_back_like_saved_rows():
    with transaction.atomic(), pipelined():
        event = NotificationEvent(
            type="RenewalSuccess", channel="Email", message="issued", recipient="a@b.test"
        )
        rows.insert(event)
    stored = NotificationEvent.objects.get(pk=event.pk)
    assert (stored.status, stored.retry_count, stored.message) == ("pending", 0, "issued")
    assert stored.created_at is not None and stored.created_at == event.created_at


def test_a_constraint_violation_in_a_pipeline_raises_integrity_error_and_rolls_back():
    first = NotificationEvent(type="RenewalSuccess", channel="Email", message="one")
    rows.insert(first)
    with pytest.raises(IntegrityError), transaction.atomic(), pipelined():
        rows.insert(NotificationEvent(type="RenewalSuccess", channel="Email", message="two"))
        rows.insert(NotificationEvent(id=first.id, type="RenewalSuccess", channel="Email", message="dup"))
    assert list(NotificationEvent.objects.values_list("message", flat=True)) == ["one"]
