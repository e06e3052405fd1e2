"""The per-client API rate (CERTCTL_RATE_LIMIT): a sliding window from two fixed windows' counts in the shared cache,
exact within a window, refused requests not counted, the last window fading out, Redis or any other cache."""

from __future__ import annotations

import secrets
from types import SimpleNamespace

import pytest

from certctl.api.principal import Principal
from certctl.api.throttling import ClientRateThrottle, _seconds_until_under
from certctl.kernel.shared_counts import redis_client

MINUTE = 60.0


class Clock:
    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


def throttle_for(rate: str, clock: Clock, name: str):
    throttle = ClientRateThrottle()
    throttle.rate = rate
    throttle.num_requests, throttle.duration = throttle.parse_rate(rate)
    throttle.timer = clock
    request = SimpleNamespace(user=Principal(name=name, kind="api_key"), META={})
    return lambda: throttle.allow_request(request, None), throttle


@pytest.fixture(params=["redis", "locmem"])
def cache_kind(request, settings):
    if request.param == "redis":
        if redis_client() is None:
            pytest.skip("needs the Redis cache backend (REDIS_URL)")
    else:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
        assert redis_client() is None
    return request.param


def test_exactly_the_limit_in_a_window_and_refusals_are_not_counted(cache_kind):
    clock = Clock(1_000 * MINUTE)  # the start of a window
    allow, throttle = throttle_for("5/min", clock, f"k-{secrets.token_hex(4)}")
    assert [allow() for _ in range(8)] == [True] * 5 + [False] * 3
    assert throttle.wait() == pytest.approx(72.0)  # the next window, once these 5 weigh 4
    # Two windows later nothing of these counts: all 5 again (the 3 refused did not count either way).
    clock.at += 2 * MINUTE
    assert [allow() for _ in range(6)] == [True] * 5 + [False]


def test_the_last_window_fades_out_across_this_one(cache_kind):
    clock = Clock(2_000 * MINUTE + MINUTE - 1)  # the last second of a window
    allow, _ = throttle_for("10/min", clock, f"k-{secrets.token_hex(4)}")
    assert sum(allow() for _ in range(10)) == 10
    clock.at += 1 + MINUTE / 2  # half-way through the next window: the 10 weigh 5
    assert [allow() for _ in range(6)] == [True] * 5 + [False]
    clock.at += MINUTE / 4  # three quarters through: they weigh 2.5, with 5 of this window: 7.5
    assert [allow() for _ in range(3)] == [True, True, False]


def test_clients_are_counted_apart(cache_kind):
    clock = Clock(3_000 * MINUTE)
    first, _ = throttle_for("2/min", clock, f"a-{secrets.token_hex(4)}")
    second, _ = throttle_for("2/min", clock, f"b-{secrets.token_hex(4)}")
    assert [first(), first(), first(), second(), second(), second()] == [True, True, False, True, True, False]


def test_two_processes_share_one_count():
    if redis_client() is None:
        pytest.skip("needs the Redis cache backend (REDIS_URL)")
    clock, name = Clock(4_000 * MINUTE), f"k-{secrets.token_hex(4)}"
    (one, _), (other, _) = throttle_for("4/min", clock, name), throttle_for("4/min", clock, name)
    assert [one(), other(), one(), other(), one(), other()] == [True, True, True, True, False, False]


# (limit, requests counted in this window, in the last one, how far into this one, seconds until one more fits)
WAITS = [
    (10, 10, 0, 0.0, 66.0),  # full: the next window, until this one's 10 weigh 9
    (10, 10, 0, 0.5, 36.0),
    (10, 10, 20, 0.25, 51.0),  # the last window's 20 are gone by then; this one's 10 decide
    (10, 5, 10, 0.25, 21.0),  # 10 x (1 - t) + 5 + 1 <= 10 from t = 0.6 of this window
    (10, 20, 0, 0.0, 93.0),  # twice over: until the 20 weigh 9, 55 % into the next window
    (1, 1, 0, 0.0, 120.0),  # 1/min: the one request must fade out completely
]


@pytest.mark.parametrize(("limit", "current", "previous", "elapsed", "expected"), WAITS)
def test_the_wait_is_until_one_more_request_fits(limit, current, previous, elapsed, expected):
    assert _seconds_until_under(limit, current, previous, elapsed, MINUTE) == pytest.approx(expected)


def test_the_api_answers_429_with_retry_after_over_the_rate(client_with_key, monkeypatch):
    monkeypatch.setattr(ClientRateThrottle, "rate", "3/min", raising=False)
    statuses = [client_with_key.get("/api/v1/teams").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    response = client_with_key.get("/api/v1/teams")
    # Until the next window, and a third into it (when this window's 3 weigh 2).
    assert response.json()["error"] == "rate_limited" and 20 <= int(response["Retry-After"]) <= 81
