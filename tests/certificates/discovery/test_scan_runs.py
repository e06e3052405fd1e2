"""Scan runs: ranges with closed and silent addresses, chunks, cancel and resume, a dead worker's chunk taken over by
the tick, two workers never on one chunk, and scheduled profiles."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from audit.models import AuditEvent
from certificates.discovery.models import DiscoveryEndpoint, ScanChunk, ScanProfile, ScanRun
from certificates.discovery.services import scan_chunks, scans
from certificates.discovery.services.targets import chunk_specs, parse_targets
from tests.discovery_support import Pki, silent_server, tls_server

SETTINGS = scans.ScanSettings(timeout_ms=400, concurrency=16, chunk_size=8)


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


def queued_run(django_capture_on_commit_callbacks, targets, ports=None, settings=SETTINGS) -> ScanRun:
    """A run whose chunks were created but not yet dispatched to any worker."""
    with django_capture_on_commit_callbacks(execute=False):
        return scans.start_adhoc_run(targets, ports, settings, requested_by="test")


@pytest.mark.django_db
def test_a_range_with_closed_ports_and_silent_addresses_finishes_with_the_right_counts(
    pki, django_capture_on_commit_callbacks
):
    leaf = pki.leaf("ranged.test")
    with (
        tls_server([leaf, pki.intermediate], host="127.0.5.1") as tls_port,
        silent_server("127.0.5.2") as quiet,
        django_capture_on_commit_callbacks(execute=True),
    ):
        run = scans.start_adhoc_run(["127.0.5.0/28"], [tls_port, quiet], SETTINGS, requested_by="test")
    run.refresh_from_db()
    # 16 addresses x 2 ports, 4 addresses (8 targets) a chunk: one handshake, one silent listener (an error),
    # 30 refused ports (nothing there, not errors).
    assert (run.status, run.targets_total, run.targets_done) == ("completed", 32, 32)
    assert (run.found, run.new_certificates, run.errors) == (1, 1, 1)
    assert (run.chunks_total, run.chunks_done) == (4, 4)
    assert run.started_at and run.finished_at >= run.started_at
    assert set(run.chunks.values_list("status", flat=True)) == {"done"}
    assert DiscoveryEndpoint.objects.get(
        address="127.0.5.1", port=tls_port
    ).current_certificate.common_name == ("ranged.test")


@pytest.mark.django_db
def test_cancel_skips_pending_chunks_and_resume_finishes_the_run(pki, django_capture_on_commit_callbacks):
    with tls_server([pki.leaf("resumed.test"), pki.intermediate]) as port:
        run = queued_run(django_capture_on_commit_callbacks, [f"127.0.0.1:{port}", "127.0.6.0/30"], [port])
        assert run.chunks_total == 2 and run.status == "queued"

        run = scans.cancel_run(run, actor="alice")
        assert run.status == "cancelled" and run.finished_at
        assert set(run.chunks.values_list("status", flat=True)) == {"cancelled"}
        assert scan_chunks.run_chunk(run.chunks.first().pk) is None  # a cancelled run's chunk is not claimed
        assert scans.cancel_run(run).status == "cancelled"  # idempotent

        with django_capture_on_commit_callbacks(execute=True):
            run = scans.resume_run(run, actor="alice")
    run.refresh_from_db()
    assert (run.status, run.targets_done, run.found, run.chunks_done, run.finished_at is not None) == (
        "completed", 5, 1, 2, True,
    )  # fmt: skip
    assert set(AuditEvent.objects.filter(resource_id=run.pk).values_list("action", flat=True)) == {
        "discovery_scan_started", "discovery_scan_cancelled", "discovery_scan_resumed",
    }  # fmt: skip
    with pytest.raises(scans.ScanStateError):
        scans.cancel_run(run)
    with pytest.raises(scans.ScanStateError):
        scans.resume_run(run)


def _rows_for(targets, ports=None, *, timeout_ms=400, concurrency=1, chunk_size=512) -> ScanRun:
    """A queued run's rows, made directly (no dispatch): for tests whose workers are the test's own threads."""
    parsed = parse_targets(targets, ports)
    specs = chunk_specs(parsed, chunk_size)
    run = ScanRun.objects.create(targets_total=parsed.total, chunks_total=len(specs))
    for index, spec in enumerate(specs):
        ScanChunk.objects.create(
            run=run, index=index, spec={**spec, "timeout_ms": timeout_ms, "concurrency": concurrency}
        )
    return run


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_running_chunk_stops_between_targets_when_its_run_is_cancelled():
    with silent_server() as quiet:
        # 40 probes of one silent listener (each with its own SNI name), one at a time.
        run = _rows_for([f"n{n}.test@127.0.0.1:{quiet}" for n in range(40)], timeout_ms=600)
        chunk = run.chunks.get()
        outcome: list = []

        def worker() -> None:
            try:
                outcome.append(scan_chunks.run_chunk(chunk.pk))
            finally:
                connection.close()

        thread = threading.Thread(target=worker)
        thread.start()
        deadline = timezone.now() + timedelta(seconds=60)
        while not ScanRun.objects.filter(pk=run.pk, targets_done__gt=0).exists():
            assert timezone.now() < deadline, "the worker reported no progress"
            threading.Event().wait(0.05)
        scans.cancel_run(run)
        thread.join(timeout=60)
    run.refresh_from_db()
    chunk.refresh_from_db()
    assert outcome[0].finished is False
    assert chunk.status == "cancelled" and run.status == "cancelled"
    assert 0 < run.targets_done < 40 and run.targets_done == chunk.targets


@pytest.mark.django_db
def test_the_tick_hands_a_dead_workers_chunk_to_another_and_the_dead_one_changes_nothing(
    pki, django_capture_on_commit_callbacks
):
    with tls_server([pki.leaf("lease.test"), pki.intermediate]) as port:
        run = _rows_for([f"127.0.0.1:{port}", f"127.0.8.1:{port}"])
        now = timezone.now()
        dead = scan_chunks._claim(
            run.chunks.get().pk, now
        )  # a worker claims it, counts one target, then dies
        assert dead is not None and dead.attempts == 1
        progress = scan_chunks.Progress(targets=1, errors=1)
        assert scan_chunks._flush(dead, progress) is True
        assert scan_chunks.run_chunk(dead.pk) is None  # its lease still runs: nobody else takes it

        later = now + timedelta(seconds=scans.settings.DISCOVERY_CHUNK_LEASE + 1)
        with django_capture_on_commit_callbacks(execute=True):
            result = scans.tick(later)
        assert result.redispatched == 1
    run.refresh_from_db()
    chunk = run.chunks.get()
    assert (chunk.status, chunk.attempts) == ("done", 2)
    # The dead worker's count was taken back when the chunk was probed again.
    assert (run.status, run.targets_done, run.found, run.errors) == ("completed", 2, 1, 0)
    # The first worker wakes up late: its progress and its finish are refused.
    assert scan_chunks._flush(dead, scan_chunks.Progress(targets=5)) is False
    run.refresh_from_db()
    assert run.targets_done == 2


@pytest.mark.django_db
def test_a_chunk_whose_workers_keep_dying_fails_the_run_and_resume_retries_it(
    django_capture_on_commit_callbacks,
):
    run = _rows_for(["127.0.9.1:9"])
    chunk = run.chunks.get()
    ScanChunk.objects.filter(pk=chunk.pk).update(
        status="running", attempts=scans.MAX_ATTEMPTS, claimed_until=timezone.now() - timedelta(seconds=1)
    )
    ScanRun.objects.filter(pk=run.pk).update(status="running")
    result = scans.tick()
    run.refresh_from_db()
    assert (result.failed_runs, run.status) == (1, "failed") and "lost its worker" in run.error
    with django_capture_on_commit_callbacks(execute=True):
        scans.resume_run(run)
    run.refresh_from_db()
    assert (run.status, run.targets_done, run.errors) == ("completed", 1, 0)


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_scan_the_same_chunk():
    run = _rows_for(["127.0.10.1:9"])
    chunk = run.chunks.get()
    held, release = threading.Event(), threading.Event()

    def other_worker() -> None:
        try:
            with transaction.atomic():
                ScanChunk.objects.select_for_update().get(pk=chunk.pk)
                held.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    assert held.wait(30)
    try:
        assert scan_chunks.run_chunk(chunk.pk) is None  # locked by the other worker: skipped, not waited for
        assert ScanChunk.objects.get(pk=chunk.pk).attempts == 0
    finally:
        release.set()
        thread.join(30)
    outcome = scan_chunks.run_chunk(chunk.pk)
    assert outcome is not None and outcome.finished
    assert scan_chunks.run_chunk(chunk.pk) is None  # done: a duplicate message changes nothing
    run.refresh_from_db()
    assert (run.status, run.targets_done, run.chunks_done) == ("completed", 1, 1)


@pytest.mark.django_db
def test_the_tick_starts_due_profiles_once_and_sets_their_next_run(pki, django_capture_on_commit_callbacks):
    with tls_server([pki.leaf("scheduled.test"), pki.intermediate]) as port:
        due = ScanProfile.objects.create(name="due", targets=[f"127.0.0.1:{port}"], interval_minutes=60)
        ScanProfile.objects.create(name="on demand", targets=[f"127.0.0.1:{port}"])
        ScanProfile.objects.create(
            name="off", targets=[f"127.0.0.1:{port}"], interval_minutes=5, enabled=False
        )
        later = ScanProfile.objects.create(
            name="later", targets=[f"127.0.0.1:{port}"], interval_minutes=5,
            next_run_at=timezone.now() + timedelta(days=1),
        )  # fmt: skip
        now = timezone.now()
        with django_capture_on_commit_callbacks(execute=False):
            first = scans.tick(now)
        assert len(first.started) == 1
        run = ScanRun.objects.get(pk=first.started[0])
        assert (run.profile_id, run.requested_by, run.status) == (due.pk, "schedule", "queued")
        due.refresh_from_db()
        assert due.next_run_at == now + timedelta(minutes=60) and due.last_run_at == now

        # Due again while its run is still queued: no second run, the next attempt waits an interval.
        ScanProfile.objects.filter(pk=due.pk).update(next_run_at=now)
        with django_capture_on_commit_callbacks(execute=True):
            second = scans.tick(now + timedelta(seconds=1))
        assert second.started == []
        with pytest.raises(scans.ScanStateError):
            scans.start_profile_run(due)
        # The queued run's message was lost: once its deadline passes the tick dispatches it again.
        with django_capture_on_commit_callbacks(execute=True):
            third = scans.tick(now + timedelta(seconds=scans.settings.DISCOVERY_CHUNK_LEASE + 5))
    assert third.redispatched == 1
    run.refresh_from_db()
    assert (run.status, run.found) == ("completed", 1)
    assert ScanRun.objects.filter(profile=later).count() == 0


@pytest.mark.django_db
def test_what_a_teams_profile_finds_becomes_that_teams_and_its_violations_name_the_team(
    pki, django_capture_on_commit_callbacks
):
    from certificates.compliance.models import Violation
    from certificates.discovery.models import DiscoveredCertificate
    from tests.factories import TeamFactory

    platform, other = TeamFactory(name="Platform"), TeamFactory(name="Other")
    expired = pki.leaf("old.test", not_before=timezone.now() - timedelta(days=40), days=30)
    owned = pki.leaf("owned.test")
    with tls_server([expired, pki.intermediate]) as first, tls_server([owned, pki.intermediate]) as second:
        with django_capture_on_commit_callbacks(execute=True):  # found first by an ad hoc scan: no team
            scans.start_adhoc_run([f"127.0.0.1:{second}"], None, SETTINGS, requested_by="test")
        DiscoveredCertificate.objects.filter(common_name="owned.test").update(team=other)
        profile = ScanProfile.objects.create(
            name="platform-edge", targets=[f"127.0.0.1:{first}", f"127.0.0.1:{second}"], team=platform
        )
        with django_capture_on_commit_callbacks(execute=True):
            run = scans.start_profile_run(profile, requested_by="test")
    run.refresh_from_db()
    assert (run.status, run.found) == ("completed", 2)
    teams = dict(DiscoveredCertificate.objects.values_list("common_name", "team__name"))
    assert teams == {"old.test": "Platform", "owned.test": "Other"}
    violation = Violation.objects.get(discovered_certificate__common_name="old.test", rule_type="expired")
    assert violation.team == platform
