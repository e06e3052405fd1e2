"""Prune anchors are authenticated: rows cut from the head of the chain are accepted only behind an anchor that
prune_audit wrote with the audit anchor key, whose counts add up, and that the chain continues exactly from."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from audit.models import AuditEvent
from audit.services import chain
from audit.services.chain import seal
from audit.services.record import record
from audit.services.runtime_role import grant_runtime_role

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, tzinfo=UTC)
KEY = "anchor-key-for-tests-only-0123456789abcdef"


@pytest.fixture(autouse=True)
def anchor_key(monkeypatch):
    monkeypatch.setenv("CERTCTL_AUDIT_ANCHOR_KEY", KEY)
    return KEY.encode()


def on_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("lifting the append-only trigger is PostgreSQL's")


def events(n):
    for i in range(n):
        record("certificate_updated", resource_type="certificate", resource_id=f"cert-{i}",
               details={"i": i}, now=T0 + timedelta(days=i))  # fmt: skip
    seal()
    return list(AuditEvent.objects.order_by("seq"))


def raw(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def owner_deletes_head(first_kept_seq):
    """The table owner lifts the trigger, deletes the oldest rows and puts the trigger back."""
    raw("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_append_only")
    raw("DELETE FROM audit_auditevent WHERE seq < %s", [first_kept_seq])
    raw("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_append_only")


def app_records_anchor(details):
    """What the runtime role can do: INSERT an audit row (here with only the grants grant_runtime_role gives)."""
    raw("CREATE ROLE certctl_app_anchor_test NOLOGIN")
    grant_runtime_role("certctl_app_anchor_test")
    raw("SET LOCAL ROLE certctl_app_anchor_test")
    try:
        record("audit_pruned", resource_type="audit", resource_id="before:2026-01-04", details=details)
        seal()
    finally:
        raw("RESET ROLE")


def verify(*args):
    from io import StringIO

    out = StringIO()
    call_command("verify_audit", *args, stdout=out)
    return out.getvalue()


def test_rows_deleted_behind_a_hand_made_anchor_fail_verification_with_a_recorded_head():
    """The attack of issue 20: before, this chain verified, --expect included (the head was older than the cut)."""
    on_postgres()
    rows = events(6)
    recorded_head = f"{rows[2].seq}:{rows[2].row_hash}"
    owner_deletes_head(rows[4].seq)  # rows seq 1..4 gone, including the recorded head
    legacy_forgery = {"before": "2026-01-05T00:00:00+00:00", "deleted": 4, "first_kept_seq": rows[4].seq,
                      "anchor_hash": rows[3].row_hash}  # fmt: skip
    app_records_anchor(legacy_forgery)
    for args in ((), ("--expect", recorded_head)):
        with pytest.raises(CommandError, match=r"BROKEN at seq 7 \(event audit-.*carries no anchor MAC"):
            verify(*args)


def test_a_hand_made_anchor_with_a_made_up_mac_is_not_authenticated():
    on_postgres()
    rows = events(6)
    owner_deletes_head(rows[4].seq)
    app_records_anchor({"before": "2026-01-05T00:00:00+00:00", "deleted": 4, "first_deleted_seq": 1,
                        "first_kept_seq": rows[4].seq, "anchor_hash": rows[3].row_hash, "anchor_mac": "ab" * 32})  # fmt: skip
    with pytest.raises(CommandError, match="not authenticated by the anchor key"):
        verify("--expect", f"{rows[2].seq}:{rows[2].row_hash}")


def test_a_genuine_prune_verifies_with_the_key_and_is_not_verified_without_it(monkeypatch, capsys):
    rows = events(6)
    head = f"{rows[-1].seq}:{rows[-1].row_hash}"
    call_command("prune_audit", "--before", (T0 + timedelta(days=3)).isoformat(), "--actor", "ops")
    assert "deleted 3 audit events" in capsys.readouterr().out
    assert "audit chain OK: 4 rows, seq 4..7, 1 prune anchors authenticated" in verify("--expect", head)
    monkeypatch.delenv("CERTCTL_AUDIT_ANCHOR_KEY")
    with pytest.raises(CommandError, match="NOT VERIFIED: 1 audit_pruned anchors cannot be authenticated"):
        verify()
    monkeypatch.setenv("CERTCTL_AUDIT_ANCHOR_KEY", "another-key-of-enough-length-0123456789")
    with pytest.raises(CommandError, match="not authenticated by the anchor key"):
        verify()


def test_the_anchor_key_can_come_from_a_file_and_must_not_be_short(tmp_path, monkeypatch):
    events(4)
    monkeypatch.delenv("CERTCTL_AUDIT_ANCHOR_KEY")
    with pytest.raises(CommandError, match="needs the audit anchor key"):
        call_command("prune_audit", "--before", "2026-01-03")
    key_file = tmp_path / "anchor.key"
    key_file.write_text(KEY + "\n")
    call_command("prune_audit", "--before", "2026-01-03", "--anchor-key-file", str(key_file), stdout=None)
    assert "1 prune anchors authenticated" in verify("--anchor-key-file", str(key_file))
    key_file.write_text("short")
    with pytest.raises(CommandError, match="at least 32 characters"):
        verify("--anchor-key-file", str(key_file))


def test_an_anchor_whose_counts_do_not_match_fails_even_with_a_valid_mac(anchor_key):
    """Whoever holds the key can only write anchors that add up: 2 rows deleted cannot cover seq 1..3."""
    on_postgres()
    rows = events(6)
    owner_deletes_head(rows[3].seq)
    details = {"before": "2026-01-04T00:00:00+00:00", "deleted": 2, "first_deleted_seq": 1,
               "first_kept_seq": rows[3].seq, "anchor_hash": rows[2].row_hash}  # fmt: skip
    details["anchor_mac"] = chain.anchor_mac(anchor_key, details)
    app_records_anchor(details)
    with pytest.raises(CommandError, match=r"counts do not match \(deleted 2 rows, seq 1\.\.3\)"):
        verify()


def test_rows_deleted_after_a_genuine_prune_do_not_hide_behind_its_anchor():
    on_postgres()
    rows = events(8)
    call_command("prune_audit", "--before", (T0 + timedelta(days=3)).isoformat(), stdout=None)
    owner_deletes_head(rows[5].seq)  # two more rows, seq 4 and 5, after the genuine cut at 4
    with pytest.raises(
        CommandError, match="starts at seq 6, but the latest audit_pruned anchor kept seq 4 onwards"
    ):
        verify("--expect", f"{rows[4].seq}:{rows[4].row_hash}")


def test_a_copy_of_a_genuine_anchor_with_another_range_fails_its_mac():
    on_postgres()
    rows = events(8)
    call_command("prune_audit", "--before", (T0 + timedelta(days=3)).isoformat(), stdout=None)
    genuine = AuditEvent.objects.get(action="audit_pruned").details
    owner_deletes_head(rows[5].seq)
    app_records_anchor({**genuine, "deleted": 2, "first_deleted_seq": 4, "first_kept_seq": rows[5].seq,
                        "anchor_hash": rows[4].row_hash})  # fmt: skip
    with pytest.raises(CommandError, match="not authenticated by the anchor key"):
        verify()


def test_a_second_prune_continues_from_the_first_and_both_anchors_verify(capsys):
    events(8)
    call_command("prune_audit", "--before", (T0 + timedelta(days=2)).isoformat(), stdout=None)
    call_command("prune_audit", "--before", (T0 + timedelta(days=5)).isoformat(), stdout=None)
    anchors = list(
        AuditEvent.objects.filter(action="audit_pruned").order_by("seq").values_list("details", flat=True)
    )
    assert [(a["first_deleted_seq"], a["first_kept_seq"], a["deleted"]) for a in anchors] == [
        (1, 3, 2),
        (3, 6, 3),
    ]
    assert "audit chain OK: 5 rows, seq 6..10, 2 prune anchors authenticated" in verify()


def test_prune_refuses_to_delete_a_gap_it_would_otherwise_paper_over():
    on_postgres()
    rows = events(6)
    raw("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_append_only")
    raw("DELETE FROM audit_auditevent WHERE id = %s", [rows[1].id])
    raw("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_append_only")
    with pytest.raises(CommandError, match=r"does not verify \(rows seq 2\.\.2 are missing.*nothing pruned"):
        call_command("prune_audit", "--before", (T0 + timedelta(days=4)).isoformat())
    assert AuditEvent.objects.count() == 5


def test_an_anchor_from_before_authentication_is_accepted_only_when_the_operator_vouches_for_it():
    """Anchors written before this change carry no MAC: they cannot be told from a forgery, so verify_audit
    fails on them until the operator names the ones they know to be their own prunes."""
    on_postgres()
    rows = events(6)
    owner_deletes_head(rows[3].seq)  # what the old prune_audit did, in effect
    record("audit_pruned", resource_type="audit", resource_id="before:2026-01-04",
           details={"before": "2026-01-04T00:00:00+00:00", "deleted": 3, "first_kept_seq": rows[3].seq,
                    "anchor_hash": rows[2].row_hash})  # fmt: skip
    seal()
    legacy = AuditEvent.objects.get(action="audit_pruned")
    with pytest.raises(CommandError, match=f"--trust-legacy-anchor {legacy.id}"):
        verify()
    assert "1 prune anchors authenticated" in verify("--trust-legacy-anchor", legacy.id)
    call_command("prune_audit", "--before", "2026-01-05", "--trust-legacy-anchor", legacy.id, stdout=None)
    assert "2 prune anchors authenticated" in verify("--trust-legacy-anchor", legacy.id)
