"""Migrations apply on SQLite and PostgreSQL, and migrate registers the periodic tasks."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django_celery_beat.models import PeriodicTask

from certctl.schedules import periodic_tasks, register_periodic_tasks
from tests.certctl.test_deploy_checks import manage


def test_migrations_apply_on_a_fresh_sqlite_database(tmp_path):
    result = manage(["migrate", "--no-input"], tmp_path, CERTCTL_DEBUG="true")
    assert result.returncode == 0, result.stderr + result.stdout
    assert (tmp_path / "db.sqlite3").exists()
    plan = manage(["migrate", "--plan"], tmp_path, CERTCTL_DEBUG="true")
    assert "No planned migration operations." in plan.stdout


@pytest.mark.django_db
def test_every_migration_is_applied_on_postgresql():
    assert connection.vendor == "postgresql"
    executor = MigrationExecutor(connection)
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []


@pytest.mark.django_db
def test_migrate_registers_every_periodic_task():
    registered = dict(PeriodicTask.objects.values_list("name", "task"))
    for item in periodic_tasks():
        assert registered[item.name] == item.task
    heartbeat = PeriodicTask.objects.get(name="heartbeat")
    assert heartbeat.enabled and heartbeat.interval.every == 30


@pytest.mark.django_db
def test_registering_again_keeps_an_operators_edit():
    PeriodicTask.objects.filter(name="heartbeat").update(enabled=False)
    register_periodic_tasks()
    assert PeriodicTask.objects.get(name="heartbeat").enabled is False
    assert PeriodicTask.objects.filter(name="heartbeat").count() == 1


@pytest.mark.django_db
def test_postgresql_has_the_partial_retry_index_and_the_certificate_scan_indexes():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexname = ANY(%s)",
            [["notif_retry_sweep", "cert_expiry_scan", "cert_keyset"]],
        )
        indexes = dict(cursor.fetchall())
    retry = indexes["notif_retry_sweep"]
    assert "(next_retry_at)" in retry
    condition = retry.split(" WHERE ", 1)[1]
    assert "(status)::text = 'failed'::text" in condition
    assert "next_retry_at IS NOT NULL" in condition
    assert "(expires_at, status)" in indexes["cert_expiry_scan"]
    assert "(created_at DESC, id DESC)" in indexes["cert_keyset"]
