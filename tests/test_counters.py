import threading

import pytest
from django.db import connection

from certctl import counters


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
