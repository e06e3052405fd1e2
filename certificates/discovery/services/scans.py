"""Network scan runs: start (from a profile or ad hoc), cancel, resume, and the beat tick that starts due profiles,
takes over chunks whose worker died and closes finished runs. The chunk worker itself is in scan_chunks.py.

A run is cut into ScanChunk rows (a range or a short target list each, never a row per address); each chunk is
one `certificates.scan_chunk` task. A chunk's `claimed_until` is its deadline: a pending chunk must be claimed by
then (its message may be lost), a running one must report progress by then (its worker may be dead); the tick
re-dispatches both.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from audit.services.record import record as audit
from certctl.kernel import dispatch
from certificates.discovery.models import ScanChunk, ScanProfile, ScanRun, ScanRunStatus
from certificates.discovery.services.targets import TargetSet, chunk_specs, parse_targets

logger = logging.getLogger(__name__)

SCAN_CHUNK_TASK = "certificates.scan_chunk"
ACTIVE = (ScanRunStatus.QUEUED, ScanRunStatus.RUNNING)
MAX_ATTEMPTS = 3  # a chunk whose worker died this often fails its run (resume tries again)


class ChunkStatus:
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"  # its run was cancelled before it finished; resume makes it pending again
    FAILED = "failed"  # MAX_ATTEMPTS workers died on it


class ScanStateError(Exception):
    """The run is not in a state that allows this (an API 409)."""


@dataclass(frozen=True)
class ScanSettings:
    timeout_ms: int = 3000
    concurrency: int = 64
    chunk_size: int = 512


def lease_until(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.DISCOVERY_CHUNK_LEASE)


def _dispatch_after_commit(chunk_ids: list[str]) -> None:
    def send() -> None:
        for chunk_id in chunk_ids:
            try:
                dispatch.enqueue(SCAN_CHUNK_TASK, chunk_id)
            except Exception:  # the tick re-dispatches it once its claimed_until has passed
                logger.warning("could not dispatch a scan chunk", extra={"chunk_id": chunk_id}, exc_info=True)

    if chunk_ids:
        transaction.on_commit(send)


def _create_run(
    targets: TargetSet,
    scan: ScanSettings,
    *,
    profile: ScanProfile | None,
    requested_by: str,
    now: datetime,
) -> ScanRun:
    specs = chunk_specs(targets, scan.chunk_size)
    run = ScanRun.objects.create(
        profile=profile,
        profile_name=profile.name if profile else "",
        requested_by=requested_by[:255],
        targets_total=targets.total,
        chunks_total=len(specs),
    )
    options = {"timeout_ms": scan.timeout_ms, "concurrency": scan.concurrency}
    chunks = ScanChunk.objects.bulk_create(
        ScanChunk(
            run=run,
            index=index,
            spec={**spec, **options},
            status=ChunkStatus.PENDING,
            claimed_until=lease_until(now),
        )
        for index, spec in enumerate(specs)
    )
    audit(
        "discovery_scan_started",
        resource_type="scan_run",
        resource_id=run.pk,
        actor=requested_by or "system",
        details={
            "profile_id": profile.pk if profile else None,
            "targets": targets.total,
            "chunks": len(specs),
        },
        now=now,
    )
    _dispatch_after_commit([chunk.pk for chunk in chunks])
    return run


def start_profile_run(
    profile: ScanProfile, *, requested_by: str = "", now: datetime | None = None, scheduled: bool = False
) -> ScanRun | None:
    """Start a run of `profile` now; ScanStateError when one is already queued or running. `scheduled`: only
    if it is still due once locked (None otherwise), so two ticks never start it twice."""
    now = now or timezone.now()
    with transaction.atomic():
        profile = ScanProfile.objects.select_for_update().get(pk=profile.pk)
        if scheduled and profile.next_run_at is not None and profile.next_run_at > now:
            return None
        active = profile.runs.filter(status__in=ACTIVE).first()
        if active is not None:
            raise ScanStateError(f"profile {profile.name!r} already has an active run ({active.pk})")
        targets = parse_targets(profile.targets, profile.ports)
        scan = ScanSettings(profile.timeout_ms, profile.concurrency, profile.chunk_size)
        run = _create_run(targets, scan, profile=profile, requested_by=requested_by, now=now)
        next_run = now + timedelta(minutes=profile.interval_minutes) if profile.interval_minutes else None
        ScanProfile.objects.filter(pk=profile.pk).update(last_run_at=now, next_run_at=next_run)
    return run


def start_adhoc_run(
    targets: list,
    ports: list | None,
    scan: ScanSettings,
    *,
    requested_by: str = "",
    now: datetime | None = None,
) -> ScanRun:
    """Start a run of these targets (checked; TargetError on bad ones) with no profile."""
    now = now or timezone.now()
    checked = parse_targets(targets, ports)
    with transaction.atomic():
        return _create_run(checked, scan, profile=None, requested_by=requested_by, now=now)


def cancel_run(run: ScanRun, *, actor: str = "", now: datetime | None = None) -> ScanRun:
    """Stop a queued or running run: pending chunks are skipped, running ones stop after their current targets.
    Cancelling a cancelled run changes nothing; a completed or failed one is a ScanStateError."""
    now = now or timezone.now()
    with transaction.atomic():
        run = ScanRun.objects.select_for_update().get(pk=run.pk)
        if run.status == ScanRunStatus.CANCELLED:
            return run
        if run.status not in ACTIVE:
            raise ScanStateError(
                f"run {run.pk} is {run.status}; only a queued or running run can be cancelled"
            )
        run.status, run.finished_at = ScanRunStatus.CANCELLED, now
        run.save(update_fields=["status", "finished_at"])
        audit(
            "discovery_scan_cancelled", resource_type="scan_run", resource_id=run.pk, actor=actor or "system"
        )
    # After the run's lock is released: a worker claiming a chunk locks the chunk, then the run (same order
    # everywhere, so no deadlock). A claim racing this sees the cancelled run and leaves its chunk alone.
    run.chunks.filter(status=ChunkStatus.PENDING).update(status=ChunkStatus.CANCELLED, claimed_until=None)
    return run


def resume_run(run: ScanRun, *, actor: str = "", now: datetime | None = None) -> ScanRun:
    """Send a cancelled, failed or stalled run back to work: every chunk not done (and not held by a live
    worker) is dispatched again. A completed run is a ScanStateError."""
    now = now or timezone.now()
    with transaction.atomic():
        run = ScanRun.objects.select_for_update().get(pk=run.pk)
        if run.status == ScanRunStatus.COMPLETED:
            raise ScanStateError(f"run {run.pk} is completed; start a new run instead")
        if run.profile_id and run.status not in ACTIVE:
            active = ScanRun.objects.filter(profile_id=run.profile_id, status__in=ACTIVE).exclude(pk=run.pk)
            if active.exists():
                raise ScanStateError(f"profile {run.profile_name!r} already has an active run")
        run.status, run.finished_at, run.error = ScanRunStatus.RUNNING, None, ""
        run.save(update_fields=["status", "finished_at", "error"])
        audit("discovery_scan_resumed", resource_type="scan_run", resource_id=run.pk, actor=actor or "system")
    with transaction.atomic():
        # Chunks a worker holds right now (locked, or running on a live lease) are left to it.
        redo = (
            ScanChunk.objects.select_for_update(skip_locked=True)
            .filter(run_id=run.pk)
            .exclude(status=ChunkStatus.DONE)
            .exclude(status=ChunkStatus.RUNNING, claimed_until__gte=now)
        )
        ids = [chunk.pk for chunk in redo]
        ScanChunk.objects.filter(pk__in=ids).update(
            status=ChunkStatus.PENDING, claimed_until=lease_until(now)
        )
        _dispatch_after_commit(ids)
    complete_if_done(run.pk, now=now)
    run.refresh_from_db()
    return run


def complete_if_done(run_id: str, *, now: datetime | None = None) -> bool:
    """Close the run when every chunk is done: one conditional UPDATE, so two last chunks cannot both close it."""
    return bool(
        ScanRun.objects.filter(pk=run_id, status__in=ACTIVE, chunks_done__gte=F("chunks_total")).update(
            status=ScanRunStatus.COMPLETED, finished_at=now or timezone.now()
        )
    )


@dataclass
class TickResult:
    started: list[str]
    redispatched: int
    failed_runs: int
    completed: int


def _start_due_profiles(now: datetime) -> list[str]:
    started = []
    due = ScanProfile.objects.filter(enabled=True, interval_minutes__gt=0).filter(
        Q(next_run_at__isnull=True) | Q(next_run_at__lte=now)
    )
    for profile in due:
        try:
            run = start_profile_run(profile, requested_by="schedule", now=now, scheduled=True)
        except (ScanStateError, ValueError) as exc:
            # Still running from the last time, or targets made unscannable outside the checks: try again
            # at the next interval.
            logger.info("scheduled scan not started", extra={"profile_id": profile.pk, "reason": str(exc)})
            ScanProfile.objects.filter(pk=profile.pk).update(
                next_run_at=now + timedelta(minutes=profile.interval_minutes)
            )
            continue
        if run is not None:
            started.append(run.pk)
    return started


def _take_over_lost_chunks(now: datetime) -> tuple[int, int]:
    """Chunks past their deadline (message lost, worker dead), and chunks of a running run left cancelled by a
    cancel/resume race, go back to pending and are dispatched again; after MAX_ATTEMPTS, the run fails."""
    redispatched, failed = [], 0
    with transaction.atomic():
        lost = (
            ScanChunk.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(run__status__in=ACTIVE)
            .filter(
                Q(status__in=(ChunkStatus.PENDING, ChunkStatus.RUNNING), claimed_until__lt=now)
                | Q(status__in=(ChunkStatus.PENDING, ChunkStatus.RUNNING), claimed_until__isnull=True)
                | Q(status=ChunkStatus.CANCELLED, run__status=ScanRunStatus.RUNNING)
            )
        )
        for chunk in lost:
            if chunk.status == ChunkStatus.RUNNING and chunk.attempts >= MAX_ATTEMPTS:
                ScanChunk.objects.filter(pk=chunk.pk).update(status=ChunkStatus.FAILED, claimed_until=None)
                failed += ScanRun.objects.filter(pk=chunk.run_id, status__in=ACTIVE).update(
                    status=ScanRunStatus.FAILED,
                    finished_at=now,
                    error=f"chunk {chunk.index} lost its worker {chunk.attempts} times",
                )
                continue
            ScanChunk.objects.filter(pk=chunk.pk).update(
                status=ChunkStatus.PENDING, claimed_until=lease_until(now)
            )
            redispatched.append(chunk.pk)
        _dispatch_after_commit(redispatched)
    return len(redispatched), failed


def tick(now: datetime | None = None) -> TickResult:
    """The beat task: start due profiles, take over lost chunks, close finished runs."""
    now = now or timezone.now()
    redispatched, failed = _take_over_lost_chunks(now)
    started = _start_due_profiles(now)
    completed = sum(
        complete_if_done(run_id, now=now)
        for run_id in ScanRun.objects.filter(
            status__in=ACTIVE, chunks_done__gte=F("chunks_total")
        ).values_list("pk", flat=True)
    )
    return TickResult(started=started, redispatched=redispatched, failed_runs=failed, completed=completed)
