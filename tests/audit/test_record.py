"""Domain events: redacted before storage, written in the caller's transaction, chained without forks."""

import threading
import time
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction

from audit.models import AuditEvent
from audit.redaction import REDACTED, redact, redact_query
from audit.services import chain
from audit.services.record import record
from audit.services.verify import verify_chain
from certctl.kernel.credentials import generate_agent_credential


def test_credentials_are_redacted_at_every_nesting_depth():
    details = {
        "password": "p0",
        "name": "web",
        "issuer": {"config": {"eab_secret": "e1", "url": "https://acme.test", "Authorization": "Bearer x"}},
        "targets": [
            {"host": "a", "auth": {"token": "t1"}},
            {"host": "b", "nested": [{"SMTP_PASSWORD": "p2"}]},
        ],
        "deep": {"a": {"b": {"c": {"d": {"private_key": "k"}}}}},
        "pem": "-----BEGIN EC PRIVATE KEY-----\nMHc...\n-----END EC PRIVATE KEY-----",
        "note": "created cctl_abcdefghijklmnopqrstuvwxyz012345 for ci",
        "dedup_key": "cert-1:30",
    }
    clean = redact(details)
    assert clean["password"] == REDACTED
    assert clean["name"] == "web"
    assert clean["issuer"]["config"] == {
        "eab_secret": REDACTED,
        "url": "https://acme.test",
        "Authorization": REDACTED,
    }
    assert clean["targets"][0] == {"host": "a", "auth": REDACTED}
    assert clean["targets"][1]["nested"][0] == {"SMTP_PASSWORD": REDACTED}
    assert clean["deep"]["a"]["b"]["c"]["d"]["private_key"] == REDACTED
    assert clean["pem"] == REDACTED
    assert clean["note"] == REDACTED
    assert clean["dedup_key"] == "cert-1:30"
    assert clean["redacted_keys"] == [
        "password",
        "issuer.config.eab_secret",
        "issuer.config.Authorization",
        "targets[0].auth",
        "targets[1].nested[0].SMTP_PASSWORD",
        "deep.a.b.c.d.private_key",
        "pem",
        "note",
    ]
    assert details["password"] == "p0", "the caller's dict is not modified"


def test_agent_credentials_are_redacted_whatever_their_key_is_called():
    credential = generate_agent_credential("agent-01jdemo")
    clean = redact(
        {"note": f"rotated to {credential}", "hosts": [{"cred": credential}], "agent": "agent-01jdemo"}
    )
    assert clean == {
        "note": REDACTED,
        "hosts": [{"cred": REDACTED}],
        "agent": "agent-01jdemo",
        "redacted_keys": ["note", "hosts[0].cred"],
    }
    assert redact_query(f"q={credential}&page=2") == "q=[REDACTED]&page=2"


def test_empty_details_are_stored_as_null_and_clean_details_get_no_redacted_keys():
    assert redact(None) is None
    assert redact({}) is None
    assert redact({"status": "Active -> Revoked"}) == {"status": "Active -> Revoked"}


def test_query_strings_keep_ordinary_parameters():
    assert redact_query("") == ""
    assert redact_query("page=2&actor=ci&api-key=zzz") == "page=2&actor=ci&api-key=[REDACTED]"


@pytest.mark.django_db
def test_record_stores_the_redacted_event_and_chains_it():
    first = record("certificate_created", resource_type="certificate", resource_id="cert-1", actor="alice",
                   actor_type="User", details={"common_name": "a.test", "api_key": "cctl_xyz"})  # fmt: skip
    second = record("certificate_revoked", resource_type="certificate", resource_id="cert-1")
    assert AuditEvent.objects.get(pk=second.pk).seq is None, (
        "joins the chain when sealed, not in the transaction"
    )
    assert chain.seal() == 2
    first, second = AuditEvent.objects.get(pk=first.pk), AuditEvent.objects.get(pk=second.pk)
    stored = first
    assert stored.details == {"common_name": "a.test", "api_key": REDACTED, "redacted_keys": ["api_key"]}
    assert (stored.actor, stored.actor_type) == ("alice", "User")
    assert (second.actor, second.actor_type) == ("system", "System")
    assert second.seq == first.seq + 1
    assert second.prev_hash == first.row_hash
    assert first.prev_hash == chain.GENESIS_HASH
    assert verify_chain().ok


@pytest.mark.django_db
def test_non_json_details_and_naive_times_are_stored_as_they_read_back():
    event = record("job_timeout", resource_type="job", resource_id="job-1",
                   details={"at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "age_hours": 24.0, "ratio": 0.1},
                   now=datetime(2026, 1, 2, 3, 4, 6))  # fmt: skip
    chain.seal()
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.details == {"at": "2026-01-02T03:04:05Z", "age_hours": 24.0, "ratio": 0.1}
    assert stored.timestamp == datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC)
    assert verify_chain().ok


@pytest.mark.django_db
def test_an_event_recorded_in_a_rolled_back_transaction_is_gone_with_the_change():
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        record("certificate_archived", resource_type="certificate", resource_id="cert-9")
        raise Boom
    assert not AuditEvent.objects.filter(resource_id="cert-9").exists()
    record("certificate_archived", resource_type="certificate", resource_id="cert-9")
    assert chain.seal() == 1
    assert verify_chain().ok


def skip_unless_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("threads on the in-memory SQLite test database hit shared-cache table locks")


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_and_sealers_never_fork_the_chain():
    skip_unless_postgres()
    errors = []

    def writer(n):
        try:
            for i in range(25):
                with transaction.atomic():
                    record("renewal_job_created", resource_type="job", resource_id=f"job-{n}-{i}")
                if i % 5 == 4:
                    chain.seal()
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    chain.seal()
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(range(1, 151))
    result = verify_chain()
    assert (result.ok, result.checked, result.unsealed) == (True, 150, 0)


@pytest.mark.django_db(transaction=True)
def test_an_open_transaction_that_recorded_does_not_block_other_writers_or_the_sealer():
    skip_unless_postgres()
    recorded, release = threading.Event(), threading.Event()

    def long_transaction():
        try:
            with transaction.atomic():
                record("certificate_updated", resource_type="certificate", resource_id="slow")
                recorded.set()
                release.wait(30)
        finally:
            connection.close()

    slow = threading.Thread(target=long_transaction)
    slow.start()
    try:
        assert recorded.wait(30)
        started = time.monotonic()
        with transaction.atomic():
            record("certificate_updated", resource_type="certificate", resource_id="fast")
        assert chain.seal() == 1, "the uncommitted event is not visible yet, so it is sealed later"
        assert time.monotonic() - started < 5
    finally:
        release.set()
        slow.join()
    assert chain.seal() == 1
    assert list(AuditEvent.objects.order_by("seq").values_list("resource_id", flat=True)) == ["fast", "slow"]
    assert verify_chain().ok


@pytest.mark.django_db
def test_an_event_created_directly_is_still_redacted_and_chained():
    first = record("certificate_created", resource_type="certificate", resource_id="cert-1")
    direct = AuditEvent.objects.create(action="x", resource_type="t", resource_id="1", actor="a",
                                       actor_type="System", details={"token": "t0"})  # fmt: skip
    chain.seal()
    first, direct = AuditEvent.objects.get(pk=first.pk), AuditEvent.objects.get(pk=direct.pk)
    assert (direct.seq, direct.prev_hash) == (first.seq + 1, first.row_hash)
    assert direct.details == {"token": REDACTED, "redacted_keys": ["token"]}
    assert verify_chain().ok


@pytest.mark.django_db
def test_record_many_writes_redacted_events_in_one_go_and_they_chain_in_time_order():
    from audit.services.record import record_many

    record("expiry_check_started", resource_type="system", resource_id="expiry")
    record_many(
        {"action": "expiration_alert_sent", "resource_type": "certificate", "resource_id": f"cert-{i}",
         "details": {"threshold_days": 30, "webhook_secret": "s"}, "now": datetime(2026, 1, 1, tzinfo=UTC)}
        for i in range(1200)
    )  # fmt: skip
    assert chain.seal(batch_size=500) == 1201
    stored = AuditEvent.objects.filter(action="expiration_alert_sent").order_by("seq")
    assert stored.count() == 1200
    assert list(stored.values_list("seq", flat=True)) == list(range(1, 1201)), "older timestamps chain first"
    assert stored.first().details == {"threshold_days": 30, "webhook_secret": REDACTED,
                                      "redacted_keys": ["webhook_secret"]}  # fmt: skip
    assert (stored.first().actor, stored.first().actor_type) == ("system", "System")
    result = verify_chain()
    assert (result.ok, result.checked) == (True, 1201)


@pytest.mark.django_db
def test_the_periodic_seal_task_chains_what_workers_recorded():
    from django_celery_beat.models import PeriodicTask

    from audit.tasks import seal_chain

    record("renewal_job_created", resource_type="job", resource_id="job-1")
    seal_chain.delay()
    assert AuditEvent.objects.get(resource_id="job-1").seq == 1
    assert PeriodicTask.objects.filter(task="audit.seal_chain", enabled=True).exists()


@pytest.mark.django_db
def test_retiring_an_agent_records_agent_retired_with_who_and_why(admin_client_with_key):
    from tests.agent_helpers import make_agent

    client_with_key = admin_client_with_key  # retiring an agent needs the admin scope

    agent, _ = make_agent()
    response = client_with_key.delete(f"/api/v1/agents/{agent.id}?reason=host%20decommissioned")
    assert response.status_code == 200
    event = AuditEvent.objects.get(action="agent_retired")
    assert (event.resource_type, event.resource_id, event.actor, event.actor_type) == (
        "agent",
        agent.id,
        "ops-admin",
        "User",
    )
    assert event.details["reason"] == "host decommissioned"
    assert client_with_key.delete(f"/api/v1/agents/{agent.id}").status_code == 204
    assert AuditEvent.objects.filter(action="agent_retired").count() == 1, "retiring again changes nothing"
