import threading
import time

import pytest
from django.db import connection, transaction

from certctl.kernel import counters


@pytest.mark.django_db(transaction=True)
def test_concurrent_increments_from_many_threads_are_all_counted():
    def work():
        for _ in range(50):
            counters.increment("certctl_test_total", {"channel": "Slack"})
        connection.close()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counters.read("certctl_test_total") == {(("channel", "Slack"),): 200}


@pytest.mark.django_db
def test_the_same_series_twice_in_one_call_is_added_up():
    """One upsert may not touch a row twice (PostgreSQL refuses it): repeated series are summed first."""
    counters.increment_many(
        "certctl_test_total",
        [({"channel": "Slack"}, 2), ({"channel": "Email"}, 1), ({"channel": "Slack"}, 3)],
    )
    assert counters.read("certctl_test_total") == {(("channel", "Email"),): 1, (("channel", "Slack"),): 5}


@pytest.mark.django_db(transaction=True)
def test_workers_adding_to_the_same_series_in_opposite_orders_do_not_deadlock():
    """Several series per statement, each worker listing them in its own order, in transactions that hold their
    row locks a moment: without one lock order, two such upserts wait for each other (a CI run met that)."""
    series = [{"channel": name} for name in ("Email", "Slack", "Teams", "Webhook", "PagerDuty", "OpsGenie")]
    errors: list[Exception] = []
    start = threading.Barrier(4)

    def work(reverse: bool):
        try:
            start.wait()
            for _ in range(40):
                with transaction.atomic():
                    counters.increment_many(
                        "certctl_test_total", [(s, 1) for s in (series[::-1] if reverse else series)]
                    )
                    time.sleep(0.001)  # keep the row locks while the other workers queue up behind them
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(n % 2 == 1,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    totals = counters.read("certctl_test_total")
    assert totals == {tuple(s.items()): 160 for s in series}
