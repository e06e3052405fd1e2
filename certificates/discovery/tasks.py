"""Discovery tasks: network scans (certificates.discovery_tick, certificates.scan_chunk)."""

from __future__ import annotations

from celery import shared_task

from certificates.discovery.services import scan_chunks, scans


@shared_task(name=scans.SCAN_CHUNK_TASK, acks_late=True, ignore_result=True)
def scan_chunk(chunk_id: str) -> None:
    scan_chunks.run_chunk(chunk_id)


@shared_task(name="certificates.discovery_tick", acks_late=True, ignore_result=True)
def discovery_tick() -> None:
    scans.tick()
