"""The `certificates.scan_chunk` worker: claim one chunk, shake hands with its targets, record what was presented.

1. Claim in a short transaction: SELECT ... FOR UPDATE SKIP LOCKED on a pending chunk (or a running one whose
   lease passed), mark it running with a lease; progress a dead worker had counted is taken back from the run.
2. Probe outside any transaction on `concurrency` threads that pull targets one at a time; they only touch
   the network, every database write happens in this thread.
3. About twice a second, add the progress to the chunk and the run with F() expressions, renew the lease, and stop
   early if the run was cancelled or another worker took the chunk over (its `attempts` moved on).
4. Finish with a conditional update; the chunk that brings `chunks_done` to `chunks_total` closes the run.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from certctl.kernel.certificate_facts import read_facts
from certificates.compliance.services.evaluate import evaluate_discovered
from certificates.discovery.models import (
    DiscoveredCertificate,
    DiscoveryEndpoint,
    ScanChunk,
    ScanRun,
    ScanRunStatus,
    SightingSource,
)
from certificates.discovery.services.chains import chain_problem
from certificates.discovery.services.probe import ERRORS, Outcome, ProbeResult, handshake
from certificates.discovery.services.record import Place, record
from certificates.discovery.services.scans import ACTIVE, ChunkStatus, complete_if_done, lease_until
from certificates.discovery.services.targets import expand, spec_size

logger = logging.getLogger(__name__)

PROGRESS_EVERY_S = 0.5
SCAN_ACTOR = "discovery-scan"


@dataclass
class Progress:
    """Counts not yet written to the chunk and the run."""

    targets: int = 0
    found: int = 0
    new: int = 0
    errors: int = 0
    certificate_ids: set[str] = field(default_factory=set)

    def taken(self) -> Progress:
        out = Progress(self.targets, self.found, self.new, self.errors)
        self.targets = self.found = self.new = self.errors = 0
        return out


@dataclass(frozen=True)
class ChunkOutcome:
    chunk_id: str
    finished: bool  # False: stopped early (cancelled, or taken over)
    targets: int
    found: int
    errors: int


def _claim(chunk_id: str, now: datetime) -> ScanChunk | None:
    with transaction.atomic():
        chunk = (
            ScanChunk.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=chunk_id, run__status__in=ACTIVE)
            .filter(
                Q(status=ChunkStatus.PENDING)
                | Q(status=ChunkStatus.RUNNING, claimed_until__lt=now)
                | Q(status=ChunkStatus.RUNNING, claimed_until__isnull=True)
            )
            .first()
        )
        if chunk is None:
            return None
        # A worker that died on this chunk counted part of it; the chunk is probed again from its start.
        # Conditional: a run cancelled while this claim waited for its row lock is left as it is.
        claimed = ScanRun.objects.filter(pk=chunk.run_id, status__in=ACTIVE).update(
            targets_done=F("targets_done") - chunk.targets,
            found=F("found") - chunk.found,
            errors=F("errors") - chunk.errors,
            status=ScanRunStatus.RUNNING,
            started_at=Coalesce(F("started_at"), now),
        )
        if not claimed:
            return None
        chunk.status, chunk.claimed_until, chunk.attempts = (
            ChunkStatus.RUNNING,
            lease_until(now),
            chunk.attempts + 1,
        )
        chunk.targets = chunk.found = chunk.errors = 0
        chunk.save(update_fields=["status", "claimed_until", "attempts", "targets", "found", "errors"])
    return chunk


def _flush(chunk: ScanChunk, progress: Progress) -> bool:
    """Write the progress if the chunk is still ours; True while the run still wants it scanned."""
    step = progress.taken()
    with transaction.atomic():
        mine = ScanChunk.objects.filter(
            pk=chunk.pk, status=ChunkStatus.RUNNING, attempts=chunk.attempts
        ).update(
            targets=F("targets") + step.targets,
            found=F("found") + step.found,
            errors=F("errors") + step.errors,
            claimed_until=lease_until(timezone.now()),
        )
        if not mine:
            return False
        ScanRun.objects.filter(pk=chunk.run_id).update(
            targets_done=F("targets_done") + step.targets,
            found=F("found") + step.found,
            new_certificates=F("new_certificates") + step.new,
            errors=F("errors") + step.errors,
        )
    return ScanRun.objects.filter(pk=chunk.run_id, status=ScanRunStatus.RUNNING).exists()


def _record_found(result: ProbeResult, run_id: str, progress: Progress) -> None:
    try:
        facts = [read_facts(cert) for cert in result.chain]
    except Exception as exc:  # a certificate cryptography parses but cannot describe
        logger.warning("unreadable certificate", extra={"target": result.probe.label, "error": str(exc)})
        progress.errors += 1
        return
    place = Place(
        kind=SightingSource.NETWORK, address=result.address, port=result.probe.port, sni=result.probe.sni
    )
    recorded = record(
        facts[0],
        seen_at=datetime.fromtimestamp(result.seen_at, UTC),
        place=place,
        chain=facts[1:],
        protocol=result.protocol,
        chain_problem=chain_problem(result.chain),
        scan_run_id=run_id,
        actor=SCAN_ACTOR,
    )
    progress.found += 1
    progress.new += int(recorded.created)
    progress.certificate_ids.add(recorded.certificate.pk)


def _note_error(result: ProbeResult) -> None:
    """A known endpoint that stopped answering TLS keeps its certificate and shows the error."""
    if result.address:
        key = Place(
            kind=SightingSource.NETWORK, address=result.address, port=result.probe.port, sni=result.probe.sni
        ).key
        DiscoveryEndpoint.objects.filter(key=key).update(last_error=result.error[:255])


def _probe_all(chunk: ScanChunk, progress: Progress) -> bool:
    """Probe every target of the chunk; False when it stopped early."""
    pending = iter(expand(chunk.spec))
    timeout = chunk.spec.get("timeout_ms", 3000) / 1000
    workers = max(1, min(int(chunk.spec.get("concurrency", 64)), spec_size(chunk.spec)))
    lock, stop, results = threading.Lock(), threading.Event(), queue.SimpleQueue()

    def prober() -> None:
        # Each thread pulls the next target itself: no future per target, and a stop skips what is left.
        try:
            while not stop.is_set():
                with lock:
                    probe = next(pending, None)
                if probe is None:
                    return
                results.put(handshake(probe, timeout))
        finally:
            results.put(None)

    threads = [threading.Thread(target=prober, name="certctl-scan", daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    wanted, running, last_flush = True, workers, time.monotonic()
    try:
        while running:
            result = results.get()
            if result is None:
                running -= 1
                continue
            progress.targets += 1
            if result.outcome == Outcome.FOUND:
                _record_found(result, chunk.run_id, progress)
            elif result.outcome in ERRORS:
                progress.errors += 1
                _note_error(result)
            if wanted and time.monotonic() - last_flush >= PROGRESS_EVERY_S:
                last_flush = time.monotonic()
                wanted = _flush(chunk, progress)
                if not wanted:
                    stop.set()  # targets not yet started are skipped; those in flight finish
    finally:
        stop.set()  # on a database error too: the probing threads stop, the lease hands the chunk on
    return _flush(chunk, progress) and wanted


def _adopt_for_profile_team(run_id: str, certificate_ids: set[str]) -> None:
    """Certificates found by a team's scan profile, still without a team, become that team's: their expiry
    alerts and violations reach it (without claiming them)."""
    team_id = ScanRun.objects.filter(pk=run_id).values_list("profile__team_id", flat=True).first()
    if team_id:
        DiscoveredCertificate.objects.filter(pk__in=certificate_ids, team__isnull=True).update(
            team_id=team_id
        )


def run_chunk(chunk_id: str, *, now: datetime | None = None) -> ChunkOutcome | None:
    """Claim and scan one chunk; None when it is not claimable (done, held by a live worker, run stopped)."""
    now = now or timezone.now()
    chunk = _claim(chunk_id, now)
    if chunk is None:
        return None
    progress = Progress()
    finished = _probe_all(chunk, progress)
    with transaction.atomic():
        ours = ScanChunk.objects.filter(pk=chunk.pk, status=ChunkStatus.RUNNING, attempts=chunk.attempts)
        if finished:
            finished = bool(
                ours.update(status=ChunkStatus.DONE, claimed_until=None, finished_at=timezone.now())
            )
            if finished:
                ScanRun.objects.filter(pk=chunk.run_id).update(chunks_done=F("chunks_done") + 1)
        else:  # stopped by a cancel (or a failed run): resume or the tick hands it out again
            ours.update(status=ChunkStatus.CANCELLED, claimed_until=None)
    if finished:
        complete_if_done(chunk.run_id)
    if progress.certificate_ids:
        _adopt_for_profile_team(chunk.run_id, progress.certificate_ids)
        try:
            evaluate_discovered(sorted(progress.certificate_ids))
        except Exception:  # the periodic compliance sweep judges them later; the scan result stands
            logger.exception("compliance evaluation after a scan chunk failed", extra={"chunk_id": chunk.pk})
    chunk.refresh_from_db(fields=["targets", "found", "errors"])
    return ChunkOutcome(chunk.pk, finished, chunk.targets, chunk.found, chunk.errors)
