"""`pipelined()`: send a block's statements to PostgreSQL without waiting for each answer.

psycopg 3's pipeline mode queues each statement and reads the answers when a result is needed or the block
ends, so a transaction of five writes costs one round trip instead of six. Inside the block `rowcount` is -1:
use it only for writes whose count the code does not check (no conditional `update()` guards). An error
surfaces when the block ends, as the usual Django exception. Elsewhere than PostgreSQL it does nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import connection


@contextlib.contextmanager
def pipelined() -> Iterator[None]:
    if connection.vendor != "postgresql":
        yield
        return
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.pipeline():
        yield
