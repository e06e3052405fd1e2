"""The API failure limit and the OCSP limit hold across processes: the counts are in Redis, not in memory."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="needs Redis (scripts/with-services.sh)"
)

# One web process, as far as the counts go: Django set up from the environment, the clock held at one instant so the
# two processes fall in the same window. Prints one line per request: its outcome.
PROCESS = """
import sys, datetime, django, time_machine
django.setup()
from django.test import RequestFactory
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from certctl.api.authentication import APIKeyAuthentication
from certctl.api.throttling import TooManyFailedAuthentications
from certificates.revocation.pki.rate_limit import limiter

what, address, count, instant = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
with time_machine.travel(datetime.datetime.fromtimestamp(instant, datetime.UTC), tick=False):
    for _ in range(count):
        if what == "ocsp":
            print("allowed" if limiter.allow(address) else "refused")
            continue
        # A malformed header fails before any database lookup: the subject here is the count.
        request = RequestFactory().get("/api/v1/certificates", HTTP_AUTHORIZATION="Basic eDp5", REMOTE_ADDR=address)
        try:
            APIKeyAuthentication().authenticate(Request(request))
        except TooManyFailedAuthentications:
            print("429")
        except AuthenticationFailed:
            print("401")
"""


def run_process(what: str, address: str, count: int, instant: float) -> list[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "certctl.settings",
        "CERTCTL_AUTH_FAILURE_LIMIT": "5/min",
        "CERTCTL_OCSP_RATE_LIMIT_PER_IP_MIN": "5",
    }
    result = subprocess.run(
        [sys.executable, "-c", PROCESS, what, address, str(count), str(instant)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.split()


def fresh_address() -> str:
    """An address no earlier run counted (the test Redis lives as long as the whole run)."""
    return f"fd00::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"


def test_a_limit_of_five_failed_authentications_holds_across_two_processes():
    address, instant = fresh_address(), 1_900_000_010.0

    first = run_process("api", address, 4, instant)
    second = run_process("api", address, 4, instant)

    assert first == ["401"] * 4
    assert second == ["401"] + ["429"] * 3


def test_the_ocsp_limit_of_five_a_minute_holds_across_two_processes():
    address, instant = fresh_address(), 1_900_000_010.0

    first = run_process("ocsp", address, 4, instant)
    second = run_process("ocsp", address, 4, instant)

    assert first == ["allowed"] * 4
    assert second == ["allowed"] + ["refused"] * 3
