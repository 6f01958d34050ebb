"""How soon the PostgreSQL connection pool reconnects after an outage.

psycopg_pool retries a failed connection attempt after 1 s, then doubles the
wait each time (1, 2, 4, 8, 16, 32 s ...), so after a 37 s outage its next
try came about 21 s after the database was back, and ingestion (every batch
needs a connection) waited that long. Retrying every half second with a
little jitter costs a refused TCP connection per half second while the
database is down, and gets ingestion going again within a second of its
return. The pool exposes the backoff only as class attributes.
"""

from __future__ import annotations

RETRY_EVERY_S = 0.5


def reconnect_promptly() -> None:
    from psycopg_pool.base import AttemptWithBackoff

    AttemptWithBackoff.INITIAL_DELAY = RETRY_EVERY_S
    AttemptWithBackoff.DELAY_BACKOFF = 1.0
