"""Quiet hours: the window in the team's time zone (wrapping midnight, across DST changes), and the release of
deferred rows once it ends: delivered, and released once however many workers sweep."""

import threading
from datetime import UTC, datetime, time, timedelta
from types import SimpleNamespace

import pytest
import time_machine
from django.db import connection

from notifications.models import NotificationEvent
from notifications.services.quiet import quiet_until, release_due
from tests.notification_factories import NotificationEventFactory
from tests.sinks import point_channels_at

BERLIN = SimpleNamespace(quiet_hours_start=time(22), quiet_hours_end=time(7), timezone="Europe/Berlin")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "until"),
    [
        (utc(2026, 6, 1, 19, 59), None),  # 21:59 CEST: not yet
        (utc(2026, 6, 1, 20, 0), utc(2026, 6, 2, 5, 0)),  # 22:00 CEST: starts, ends 07:00 CEST tomorrow
        (utc(2026, 6, 2, 1, 0), utc(2026, 6, 2, 5, 0)),  # 03:00 CEST, after midnight: ends today
        (utc(2026, 6, 2, 5, 0), None),  # 07:00 CEST: over
        (utc(2026, 1, 10, 21, 30), utc(2026, 1, 11, 6, 0)),  # winter (CET, UTC+1)
        # Night of the spring change (29 March 2026): starts 22:00 CET, ends 07:00 CEST, only 8 hours later.
        (utc(2026, 3, 28, 21, 0), utc(2026, 3, 29, 5, 0)),
        # Night of the autumn change (25 October 2026): starts 22:00 CEST, ends 07:00 CET, 10 hours later.
        (utc(2026, 10, 24, 20, 0), utc(2026, 10, 25, 6, 0)),
    ],
)
def test_berlin_night_window_ends_at_seven_local_time(now, until):
    assert quiet_until(BERLIN, now) == until


def test_a_window_within_one_day_and_no_window():
    lunch = SimpleNamespace(quiet_hours_start=time(12), quiet_hours_end=time(13), timezone="UTC")
    assert quiet_until(lunch, utc(2026, 6, 1, 12, 30)) == utc(2026, 6, 1, 13, 0)
    assert quiet_until(lunch, utc(2026, 6, 1, 13, 30)) is None
    none = SimpleNamespace(quiet_hours_start=None, quiet_hours_end=None, timezone="Europe/Berlin")
    assert quiet_until(none, utc(2026, 6, 1, 23, 0)) is None


def _deferred(until, **fields):
    return NotificationEventFactory(
        status="deferred", deferred_until=until, channel="Slack", message="held", **fields
    )


@pytest.mark.django_db(transaction=True)
def test_deferred_row_is_released_after_the_window_and_delivered(settings, http_sink):
    point_channels_at(settings, http_sink)
    end = utc(2026, 6, 2, 5, 0)
    row = _deferred(end)

    with time_machine.travel(end - timedelta(minutes=1), tick=False):
        assert release_due() == {"released": 0}
    assert http_sink.count() == 0

    with time_machine.travel(end, tick=False):
        assert release_due() == {"released": 1}

    row.refresh_from_db()
    assert row.status == "sent"
    assert http_sink.wait_for(1, path="/slack")


@pytest.mark.django_db(transaction=True)
def test_concurrent_release_releases_each_row_once(settings):
    settings.SLACK_WEBHOOK_URL = ""  # delivery is not the subject: rows go dead, once each
    end = utc(2026, 6, 2, 5, 0)
    rows = [_deferred(end - timedelta(seconds=i)) for i in range(60)]
    results, errors = [], []
    barrier = threading.Barrier(4)

    def sweep():
        try:
            barrier.wait(timeout=30)
            results.append(release_due(now=end)["released"])
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(results) == len(rows)
    assert not NotificationEvent.objects.filter(status="deferred").exists()
