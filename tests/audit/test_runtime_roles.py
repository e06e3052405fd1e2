"""The runtime role (web, worker, beat) as `grant_runtime_role` leaves it, seen from its own connection: it records
and seals audit rows, works on ordinary tables, and can neither delete, truncate nor lift the audit triggers."""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)

ROLE = "certctl_app_roles_test"
PASSWORD = "role-password-for-tests-only"
ROOT = Path(__file__).resolve().parents[2]


def sql(statement, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


@pytest.fixture
def runtime_role():
    """A login role that owns nothing, as contrib/postgres/initdb-certctl-roles.sh creates certctl_app."""
    if connection.vendor != "postgresql":
        pytest.skip("database roles are PostgreSQL's")
    sql(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'")
    yield ROLE
    sql(f"DROP OWNED BY {ROLE}")
    sql(f"DROP ROLE {ROLE}")


def connect_as(role):
    db = connection.settings_dict
    return psycopg.connect(host=db["HOST"], port=db["PORT"], dbname=db["NAME"], user=role, password=PASSWORD,
                           autocommit=True)  # fmt: skip


def manage_as(role, *args):
    """A certctl process connected as `role`, as compose runs web, worker and beat."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{role}:{PASSWORD}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip


INSERT_EVENT = """
INSERT INTO audit_auditevent (id, actor, actor_type, action, resource_type, resource_id, timestamp, details,
                              prev_hash, row_hash)
VALUES ('audit-roles-test', 'web', 'System', 'certificate_created', 'certificate', 'cert-r', now(), NULL, '', '')
"""


def test_the_runtime_role_records_and_seals_but_cannot_delete_truncate_or_lift_the_triggers(
    runtime_role, capsys
):
    call_command("grant_runtime_role", runtime_role)
    call_command("grant_runtime_role", runtime_role)  # after the next migrate: same grants, nothing added
    assert "audit_auditevent: SELECT, INSERT, UPDATE of seq, prev_hash, row_hash" in capsys.readouterr().out
    with connect_as(runtime_role) as app:
        app.execute(INSERT_EVENT)
        sealed = manage_as(runtime_role, "verify_audit", "--seal")
        assert sealed.returncode == 0, sealed.stderr
        assert "audit chain OK: 1 rows" in sealed.stdout
        assert app.execute("SELECT seq FROM audit_auditevent WHERE id = 'audit-roles-test'").fetchone() == (
            1,
        )
        for statement in (
            "DELETE FROM audit_auditevent",
            "TRUNCATE audit_auditevent",
            "ALTER TABLE audit_auditevent DISABLE TRIGGER audit_append_only",
            "ALTER TABLE audit_auditevent DISABLE TRIGGER ALL",
            "UPDATE audit_auditevent SET actor = 'mallory'",
            "TRUNCATE auth_group",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute(statement)
        # Ordinary tables: rows are read and written as the application needs.
        app.execute("INSERT INTO auth_group (name) VALUES ('roles-test')")
        assert app.execute("DELETE FROM auth_group WHERE name = 'roles-test'").rowcount == 1
    verified = manage_as(runtime_role, "verify_audit")
    assert verified.returncode == 0 and "audit chain OK: 1 rows" in verified.stdout, verified.stderr


def test_grant_runtime_role_refuses_a_role_that_could_lift_the_triggers_or_does_not_exist():
    if connection.vendor != "postgresql":
        pytest.skip("database roles are PostgreSQL's")
    superuser = connection.settings_dict["USER"]
    with pytest.raises(CommandError, match="superuser or can act as the owner"):
        call_command("grant_runtime_role", superuser)
    with pytest.raises(CommandError, match="does not exist"):
        call_command("grant_runtime_role", "certctl_no_such_role")
    with pytest.raises(CommandError, match="not a plain PostgreSQL role name"):
        call_command("grant_runtime_role", 'app"; DROP TABLE x; --')


@pytest.mark.slow
@pytest.mark.parametrize("setup", ["new_volume", "existing_database"])
def test_the_role_scripts_then_migrate_and_grant_leave_the_app_role_recording_but_unable_to_delete(setup):
    """The sequence docker-compose.yml runs, on a database of its own on the test server: a new volume
    (initdb-certctl-roles.sh), or a database migrated as the superuser before the roles existed, handed over by
    adopt-certctl-roles.sh; then `migrate` as certctl_owner and `grant_runtime_role certctl_app`."""
    if connection.vendor != "postgresql":
        pytest.skip("database roles are PostgreSQL's")
    db = connection.settings_dict
    name = f"certctl_roles_{setup}"
    env = {**os.environ, "PGHOST": db["HOST"], "PGPORT": str(db["PORT"]), "PGUSER": db["USER"],
           "PGPASSWORD": db["PASSWORD"] or "", "CERTCTL_DB_NAME": name,
           "CERTCTL_DB_OWNER_PASSWORD": PASSWORD, "CERTCTL_DB_APP_PASSWORD": PASSWORD}  # fmt: skip

    def run(*command, role=None):
        url = f"postgres://{role}:{PASSWORD}@{db['HOST']}:{db['PORT']}/{name}"
        if role is None:  # the superuser, as the old compose file ran everything
            url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{name}"
        done = subprocess.run(command, cwd=ROOT, env={**env, "DATABASE_URL": url}, capture_output=True, text=True,
                              timeout=300, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    try:
        if setup == "new_volume":
            run("sh", "contrib/postgres/initdb-certctl-roles.sh")
        else:
            sql(f"CREATE DATABASE {name}")
            run(sys.executable, "manage.py", "migrate", "--no-input", "-v", "0")
            run("sh", "contrib/postgres/adopt-certctl-roles.sh")
            run("sh", "contrib/postgres/adopt-certctl-roles.sh")  # idempotent
        run(sys.executable, "manage.py", "migrate", "--no-input", "-v", "0", role="certctl_owner")
        run(sys.executable, "manage.py", "grant_runtime_role", "certctl_app", role="certctl_owner")
        run(sys.executable, "manage.py", "shell", "-c", "from audit.services.record import record; "
            "record('certificate_created', resource_type='certificate', resource_id='cert-e2e')", role="certctl_app")  # fmt: skip
        assert "audit chain OK: 1 rows" in run(
            sys.executable, "manage.py", "verify_audit", "--seal", role="certctl_app"
        )
        with psycopg.connect(host=db["HOST"], port=db["PORT"], dbname=name, user="certctl_app", password=PASSWORD,
                             autocommit=True) as app:  # fmt: skip
            for statement in ("DELETE FROM audit_auditevent", "TRUNCATE audit_auditevent",
                              "ALTER TABLE audit_auditevent DISABLE TRIGGER audit_append_only"):  # fmt: skip
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    app.execute(statement)
    finally:
        sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        sql("DROP ROLE IF EXISTS certctl_app")
        sql("DROP ROLE IF EXISTS certctl_owner")
