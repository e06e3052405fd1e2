"""The OCSP per-address limit counted in Redis in batches: exact for one process, shared across processes."""

from __future__ import annotations

import pytest

from certctl.kernel.shared_counts import redis_client
from certificates.revocation.pki import rate_limit


@pytest.fixture
def two_processes(settings):
    """Two limiters sharing one namespace, as two web processes share Redis."""
    if redis_client() is None:
        pytest.skip("needs the Redis cache backend (REDIS_URL)")
    first, second = rate_limit._Limiter(), rate_limit._Limiter()
    first.reset()
    second._namespace = first._namespace
    return first, second


def test_one_process_allows_exactly_the_limit(two_processes, settings):
    settings.OCSP_RATE_LIMIT_PER_IP_MIN = 500  # batches of 5
    first, _ = two_processes
    allowed = sum(first.allow("192.0.2.1") for _ in range(600))
    assert allowed == 500
    assert first.allow("192.0.2.2")  # another address has its own count


def test_processes_share_the_count_within_a_batch_each(two_processes, settings):
    settings.OCSP_RATE_LIMIT_PER_IP_MIN = 1000  # batches of 10
    first, second = two_processes
    assert all(first.allow("192.0.2.9") for _ in range(700))
    allowed = sum(second.allow("192.0.2.9") for _ in range(700))
    # The second process sees the first one's 700 (all but its last unsent batch) and stops near the limit.
    assert 300 <= allowed <= 310
    # The first process learns of the second one's requests at its next batch at the latest.
    assert sum(first.allow("192.0.2.9") for _ in range(20)) <= 10
