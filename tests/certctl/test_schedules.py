"""Interval variables apply at the next start (migrate) unless an operator changed that schedule in the admin."""

from __future__ import annotations

import logging

import pytest
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from certctl.kernel.schedules import Periodic
from certctl.schedules import sync_periodic_tasks

pytestmark = pytest.mark.django_db

NAME = "notifications: retry failed"
VARIABLE = "CERTCTL_NOTIFICATION_RETRY_INTERVAL"


def start_with(seconds: float) -> list[str]:
    """What a start does for this one task: migrate's post-migrate hook with the variable set to `seconds`."""
    return sync_periodic_tasks([Periodic(NAME, "notifications.retry_failed", seconds, VARIABLE)])


def every() -> int:
    return PeriodicTask.objects.get(name=NAME).interval.every


def edit_in_admin(seconds: int, period: str = IntervalSchedule.SECONDS) -> None:
    task = PeriodicTask.objects.get(name=NAME)
    task.interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period=period)
    task.save()


def test_a_changed_variable_applies_at_the_next_start_and_is_noted_on_the_task():
    assert every() == 120  # registered by migrate with the default
    assert start_with(10) == []
    task = PeriodicTask.objects.get(name=NAME)
    assert (task.interval.every, task.interval.period) == (10, "seconds")
    assert "certctl applied every 10 s (from CERTCTL_NOTIFICATION_RETRY_INTERVAL)" in task.description
    start_with(300)
    assert every() == 300


def test_an_interval_changed_in_the_admin_wins_and_each_start_warns_about_the_variable(caplog):
    edit_in_admin(5, IntervalSchedule.MINUTES)
    with caplog.at_level(logging.WARNING, logger="certctl.schedules"):
        assert start_with(10) == [NAME]
    task = PeriodicTask.objects.get(name=NAME)
    assert (task.interval.every, task.interval.period) == (5, "minutes")
    assert f"'{NAME}' keeps the schedule set in the admin (every 300 s)" in caplog.text
    assert f"{VARIABLE} asks for every 10 s" in caplog.text
    assert "Delete the task in the admin" in caplog.text


def test_a_crontab_chosen_in_the_admin_is_kept_too(caplog):
    task = PeriodicTask.objects.get(name=NAME)
    task.interval = None
    task.crontab = CrontabSchedule.objects.create(minute="*/5")
    task.save()
    with caplog.at_level(logging.WARNING, logger="certctl.schedules"):
        assert start_with(10) == [NAME]
    assert PeriodicTask.objects.get(name=NAME).crontab is not None
    assert "(not an interval)" in caplog.text


def test_an_edit_of_the_shared_interval_row_counts_as_an_operators_edit():
    PeriodicTask.objects.filter(name=NAME).update(
        interval=IntervalSchedule.objects.create(every=7, period="seconds")
    )
    start_with(7)  # certctl notes 7 s
    IntervalSchedule.objects.filter(every=7, period="seconds").update(every=45)
    assert start_with(10) == [NAME]
    assert every() == 45


def test_setting_the_admin_value_back_or_deleting_the_task_hands_it_back_to_the_variable():
    start_with(60)
    edit_in_admin(90)
    assert start_with(30) == [NAME] and every() == 90
    edit_in_admin(60)  # back to what certctl applied last
    assert start_with(30) == [] and every() == 30

    edit_in_admin(90)
    PeriodicTask.objects.filter(name=NAME).delete()
    assert start_with(20) == [] and every() == 20


def test_a_task_registered_before_certctl_noted_intervals_is_only_taken_over_when_it_matches(caplog):
    PeriodicTask.objects.filter(name=NAME).update(description="")
    with caplog.at_level(logging.WARNING, logger="certctl.schedules"):
        assert start_with(10) == [NAME]  # 120 s may be an operator's choice: kept
    assert every() == 120
    assert start_with(120) == []  # the variable agrees: certctl notes it and manages the task from now on
    assert start_with(10) == [] and every() == 10


def test_an_operators_description_is_kept_beside_certctls_note():
    task = PeriodicTask.objects.get(name=NAME)
    task.description = "Ops: see runbook 12"
    task.save()
    start_with(120)
    start_with(15)
    description = PeriodicTask.objects.get(name=NAME).description
    assert description.startswith("Ops: see runbook 12\n")
    assert "certctl applied every 15 s" in description and "every 120 s" not in description
    assert every() == 15
