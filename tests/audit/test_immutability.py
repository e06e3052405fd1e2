"""Append-only on every layer (database trigger, ORM, admin), tamper evidence, and audited retention."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.admin.sites import site
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory

from audit.models import AppendOnlyError, AuditEvent
from audit.services import chain
from audit.services.chain import seal
from audit.services.record import record

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ANCHOR_KEY = "anchor-key-for-tests-only-0123456789abcdef"


@pytest.fixture(autouse=True)
def _anchor_key(monkeypatch):
    """prune_audit and verify_audit read the audit anchor key from their environment (tests/audit/test_anchors.py)."""
    monkeypatch.setenv("CERTCTL_AUDIT_ANCHOR_KEY", ANCHOR_KEY)


def on_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("the append-only trigger is PostgreSQL's")


def events(n, start=T0):
    """n events, one a day from `start`, sealed into the chain; returned as stored."""
    ids = [
        record(
            "certificate_updated",
            resource_type="certificate",
            resource_id=f"cert-{i}",
            details={"status": "Active -> Expiring", "i": i},
            now=start + timedelta(days=i),
        ).id
        for i in range(n)
    ]
    seal()
    return list(AuditEvent.objects.filter(id__in=ids).order_by("seq"))


def raw(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def tamper(sql, params=()):
    """What an attacker with the table owner's rights does: lift the trigger, change a row, put it back."""
    raw("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_append_only")
    raw(sql, params)
    raw("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_append_only")


def verify_output():
    from io import StringIO

    out = StringIO()
    call_command("verify_audit", stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    "sql",
    ["UPDATE audit_auditevent SET actor = 'mallory'", "DELETE FROM audit_auditevent"],
    ids=["update", "delete"],
)
def test_raw_sql_update_and_delete_are_refused_by_postgresql(sql):
    on_postgres()
    events(2)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        raw(sql)
    assert AuditEvent.objects.filter(actor="system").count() == 2


def test_truncate_is_refused_by_postgresql_for_every_role():
    """The test database lifts this trigger for the flushes of transactional tests (tests/conftest.py); here it
    is on, as in production, where even the table owner must disable it by name first."""
    on_postgres()
    events(2)
    raw("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_no_truncate")
    try:
        with pytest.raises(DatabaseError, match="TRUNCATE refused"), transaction.atomic():
            raw("TRUNCATE audit_auditevent")
    finally:
        raw("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_no_truncate")
    assert AuditEvent.objects.count() == 2


def test_the_orm_refuses_updates_and_deletes():
    event = events(1)[0]
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(actor="mallory")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        event.delete()
    event.actor = "mallory"
    with pytest.raises(AppendOnlyError):
        event.save()


def test_the_admin_grants_no_add_change_or_delete_even_to_a_superuser(django_user_model):
    request = RequestFactory().get("/admin/audit/auditevent/")
    request.user = django_user_model.objects.create_superuser("root", "r@example.test", "pw-for-tests-only")
    model_admin = site._registry[AuditEvent]
    event = events(1)[0]
    assert model_admin.has_view_permission(request, event)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, event)
    assert not model_admin.has_delete_permission(request, event)


def test_admin_list_filters_and_searches_by_resource(client, django_user_model):
    client.force_login(
        django_user_model.objects.create_superuser("root", "r@example.test", "pw-for-tests-only")
    )
    events(3)
    response = client.get("/admin/audit/auditevent/", {"q": "cert-1"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1
    response = client.get("/admin/audit/auditevent/", {"actor_type__exact": "System"})
    assert response.context["cl"].result_count == 3


def test_verify_audit_passes_on_an_untouched_chain():
    events(5)
    assert "audit chain OK: 5 rows" in verify_output()


def test_verify_audit_reports_the_edited_row():
    on_postgres()
    rows = events(5)
    tamper(
        "UPDATE audit_auditevent SET details = %s WHERE id = %s",
        ['{"status": "Active -> Active"}', rows[2].id],
    )
    with pytest.raises(CommandError, match=rf"BROKEN at seq {rows[2].seq} \(event {rows[2].id}\).*edited"):
        verify_output()


def test_verify_audit_reports_an_edit_whose_hash_was_recomputed_at_the_next_link():
    on_postgres()
    rows = events(4)
    tamper(
        "UPDATE audit_auditevent SET actor = 'mallory', row_hash = %s WHERE id = %s", ["f" * 64, rows[1].id]
    )
    with pytest.raises(CommandError, match=rf"seq {rows[1].seq} .*edited"):
        verify_output()
    row = AuditEvent.objects.filter(pk=rows[1].pk).values(*chain.HASHED_FIELDS, "details", "prev_hash").get()
    tamper("UPDATE audit_auditevent SET row_hash = %s WHERE id = %s", [chain.row_hash(row), rows[1].id])
    with pytest.raises(CommandError, match=rf"seq {rows[2].seq} .*re-linked"):
        verify_output()


def test_verify_audit_reports_a_deleted_row():
    on_postgres()
    rows = events(4)
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [rows[1].id])
    with pytest.raises(
        CommandError, match=rf"seq {rows[2].seq} .*seq {rows[1].seq}\.\.{rows[1].seq} are missing"
    ):
        verify_output()


def test_verify_audit_reports_a_cut_head_that_no_prune_recorded():
    on_postgres()
    rows = events(3)
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [rows[0].id])
    with pytest.raises(CommandError, match="no audit_pruned event anchors it"):
        verify_output()


def test_prune_audit_deletes_the_old_prefix_records_itself_and_keeps_the_chain_verifiable():
    rows = events(10)  # one per day from T0
    cutoff = T0 + timedelta(days=4)
    call_command("prune_audit", "--before", cutoff.isoformat(), "--actor", "ops", stdout=None)
    kept = list(AuditEvent.objects.order_by("seq"))
    assert [e.resource_id for e in kept[:-1]] == [f"cert-{i}" for i in range(4, 10)]
    pruned = kept[-1]
    assert (pruned.action, pruned.actor) == ("audit_pruned", "ops")
    mac = pruned.details.pop("anchor_mac")
    assert pruned.details == {"before": cutoff.isoformat(), "deleted": 4, "first_deleted_seq": rows[0].seq,
                              "first_kept_seq": rows[4].seq, "anchor_hash": rows[3].row_hash}  # fmt: skip
    assert mac == chain.anchor_mac(ANCHOR_KEY.encode(), pruned.details)
    assert "audit chain OK: 7 rows" in verify_output()


def test_prune_audit_dry_run_and_bad_dates_change_nothing(capsys):
    events(3)
    call_command("prune_audit", "--before", "2026-01-03", "--dry-run")
    assert "would delete 2 audit events" in capsys.readouterr().out
    with pytest.raises(CommandError, match="not an ISO-8601"):
        call_command("prune_audit", "--before", "last tuesday")
    with pytest.raises(CommandError, match="future"):
        call_command("prune_audit", "--before", "2999-01-01")
    assert AuditEvent.objects.count() == 3


def test_prune_audit_is_refused_to_a_role_that_does_not_own_the_table():
    on_postgres()
    events(3)
    raw("CREATE ROLE certctl_app_test NOLOGIN")
    raw("GRANT USAGE ON SCHEMA public TO certctl_app_test")
    raw("GRANT SELECT, INSERT, UPDATE, DELETE ON audit_auditevent TO certctl_app_test")
    raw("SET LOCAL ROLE certctl_app_test")
    try:
        with pytest.raises(CommandError, match="role that owns the table"):
            call_command("prune_audit", "--before", "2026-01-03")
        with pytest.raises(DatabaseError), transaction.atomic():
            raw("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_append_only")
    finally:
        raw("RESET ROLE")
    assert AuditEvent.objects.count() == 3


def test_verify_audit_with_a_recorded_head_catches_a_rewritten_or_truncated_tail():
    on_postgres()
    rows = events(4)
    head = f"{rows[-1].seq}:{rows[-1].row_hash}"
    assert f"head {head}" in verify_output()
    call_command("verify_audit", "--expect", head, stdout=None)
    # Rewrite: edit the last row and recompute its hash, so the chain alone still verifies.
    tamper("UPDATE audit_auditevent SET actor = 'mallory' WHERE id = %s", [rows[-1].id])
    row = AuditEvent.objects.filter(pk=rows[-1].pk).values(*chain.HASHED_FIELDS, "details", "prev_hash").get()
    tamper("UPDATE audit_auditevent SET row_hash = %s WHERE id = %s", [chain.row_hash(row), rows[-1].id])
    assert "audit chain OK" in verify_output()
    with pytest.raises(CommandError, match="tail rewritten"):
        call_command("verify_audit", "--expect", head)
    # Truncate: drop the last two rows; the shorter chain is valid on its own.
    tamper("DELETE FROM audit_auditevent WHERE seq >= %s", [rows[-2].seq])
    assert "audit chain OK: 2 rows" in verify_output()
    with pytest.raises(CommandError, match=rf"BROKEN at seq {rows[-1].seq}: .*tail truncated"):
        call_command("verify_audit", "--expect", head)
    with pytest.raises(CommandError, match="SEQ:HASH"):
        call_command("verify_audit", "--expect", "nonsense")


def test_the_trigger_allows_sealing_once_and_never_a_content_change():
    on_postgres()
    unsealed = record("certificate_created", resource_type="certificate", resource_id="cert-x")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        raw("UPDATE audit_auditevent SET actor = 'mallory', seq = 99 WHERE id = %s", [unsealed.id])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        raw("UPDATE audit_auditevent SET details = '{}' WHERE id = %s", [unsealed.id])
    assert seal() == 1
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        raw("UPDATE audit_auditevent SET seq = 7, row_hash = '' WHERE id = %s", [unsealed.id])
    assert AuditEvent.objects.get(pk=unsealed.pk).seq == 1


def test_prune_audit_seals_pending_rows_first_and_never_deletes_unsealed_ones():
    events(3)  # sealed, days 0..2
    record(
        "certificate_created", resource_type="certificate", resource_id="late", now=T0 - timedelta(days=30)
    )
    call_command("prune_audit", "--before", (T0 + timedelta(days=2)).isoformat(), stdout=None)
    kept = list(AuditEvent.objects.order_by("seq").values_list("resource_id", flat=True))
    assert kept == ["cert-2", "late", "before:2026-01-03T00:00:00+00:00"]
    assert "audit chain OK: 3 rows" in verify_output()


def test_the_documented_app_role_can_record_and_seal_but_not_change_or_delete():
    on_postgres()
    raw("CREATE ROLE certctl_app_doc NOLOGIN")
    raw("GRANT USAGE ON SCHEMA public TO certctl_app_doc")
    raw("GRANT SELECT, INSERT ON audit_auditevent TO certctl_app_doc")
    raw("GRANT UPDATE (seq, prev_hash, row_hash) ON audit_auditevent TO certctl_app_doc")
    raw("SET LOCAL ROLE certctl_app_doc")
    try:
        event = record("certificate_created", resource_type="certificate", resource_id="cert-r")
        assert seal() == 1
        for sql in (
            "UPDATE audit_auditevent SET actor = 'mallory'",
            "DELETE FROM audit_auditevent",
            "TRUNCATE audit_auditevent",
            "ALTER TABLE audit_auditevent DISABLE TRIGGER audit_append_only",
        ):
            with pytest.raises(DatabaseError), transaction.atomic():
                raw(sql)
    finally:
        raw("RESET ROLE")
    assert AuditEvent.objects.get(pk=event.pk).seq == 1
    assert "audit chain OK: 1 rows" in verify_output()
