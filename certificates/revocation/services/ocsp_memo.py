"""Each web process's memory of OCSP answers and statuses, kept coherent with revocations by a shared epoch.

Without it every OCSP request costs a PostgreSQL round trip (the response cache or the status lookup): about
0.3 ms of the 0.4 ms a cached answer takes, and the database's CPU on the same machine. With it a repeated
question is answered from this process's memory:

- answers without a nonce: (issuer, serial, CertID hash) -> the signed DER, until its nextUpdate;
- statuses, for requests with a nonce (signed live with the remembered status): (issuer, serial) -> the CA
  certificate and the answer. `unknown` is remembered for one poll interval only: the serial may be issued next.

Coherence: every revocation adds to the shared counter `ocsp_status_epoch` in its own transaction
(`revocation_rows.drop_ocsp_cache`), as does every issuer save (its CA may have changed), and forgets the
serials here at once. Each process reads the counter's total
at most every `CERTCTL_OCSP_MEMO_SECONDS` (default 1 s) and forgets everything when it moved. So a revocation
shows at once in the process that made it and within that interval in every other process, as if the answer had
been cached by an HTTP cache for a second (OCSP answers are cacheable for an hour by design). 0 turns the memo off.

A status read from the database is kept only if nothing was forgotten while it was read (the generation check),
so a read that raced a revocation cannot outlive the poll that noticed it.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

from django.conf import settings

from certctl.kernel import counters

EPOCH_COUNTER = "ocsp_status_epoch"  # a shared counter, not exported as a metric
MAX_ENTRIES = 20_000  # per kind and process (~1 KB an answer with its key, so ~20 MB): forget all past it

_lock = threading.Lock()
_answers: dict[tuple[str, str, str], tuple[bytes, str, datetime]] = {}
_statuses: dict[tuple[str, str], tuple[Any, float]] = {}  # value, monotonic deadline
_state = {"generation": 0, "epoch": None, "checked": -1e9}


def enabled() -> bool:
    return settings.OCSP_MEMO_SECONDS > 0


def generation() -> int:
    """Taken before a database read; `keep_*` drops the value when the memo was cleared meanwhile."""
    return _state["generation"]


def fresh() -> bool:
    """The memo is on and the epoch was read within the interval: what it holds may be used without a query."""
    interval = settings.OCSP_MEMO_SECONDS
    return interval > 0 and time.monotonic() - _state["checked"] < interval


def refresh() -> None:
    """Read the shared epoch when the interval has passed; forget everything if a revocation moved it."""
    now = time.monotonic()
    if now - _state["checked"] < settings.OCSP_MEMO_SECONDS:
        return
    _state["checked"] = now
    epoch = counters.total(EPOCH_COUNTER)
    if epoch != _state["epoch"]:
        forget_all()
        _state["epoch"] = epoch


def answer(key: tuple[str, str, str], now: datetime) -> tuple[bytes, str, datetime] | None:
    hit = _answers.get(key)
    if hit is not None and hit[2] > now:
        return hit
    return None


def keep_answer(token: int, key: tuple[str, str, str], value: tuple[bytes, str, datetime]) -> None:
    _keep(_answers, token, key, value)


def status(key: tuple[str, str]):
    hit = _statuses.get(key)
    if hit is not None and hit[1] > time.monotonic():
        return hit[0]
    return None


def keep_status(token: int, key: tuple[str, str], value, *, unknown: bool) -> None:
    lifetime = settings.OCSP_MEMO_SECONDS if unknown else settings.OCSP_RESPONSE_VALIDITY
    _keep(_statuses, token, key, (value, time.monotonic() + lifetime))


def _keep(memo: dict, token: int, key, value) -> None:
    if not enabled():
        return
    with _lock:
        if token != _state["generation"]:
            return
        if len(memo) >= MAX_ENTRIES:
            memo.clear()
        memo[key] = value


def forget(issuer_id: str, serials: set[str]) -> None:
    """Forget these serials of one issuer now (the revocation's own process), and make every racing read void."""
    with _lock:
        _state["generation"] += 1
        for key in [k for k in _answers if k[0] == issuer_id and k[1] in serials]:
            del _answers[key]
        for serial in serials:
            _statuses.pop((issuer_id, serial), None)


def forget_all() -> None:
    with _lock:
        _state["generation"] += 1
        _answers.clear()
        _statuses.clear()


def reset() -> None:
    """Forget everything and read the epoch at the next answer (tests: a rolled-back database repeats epochs)."""
    forget_all()
    _state["epoch"], _state["checked"] = None, -1e9


def status_changed(count: int = 1) -> None:
    """Move the shared epoch (inside the revocation's transaction): every process forgets at its next poll."""
    counters.increment(EPOCH_COUNTER, {}, count)


def issuer_changed(sender, instance, **kwargs) -> None:
    """post_save / post_delete of an Issuer: its CA certificate, key or type may have changed."""
    forget_all()
    status_changed()
