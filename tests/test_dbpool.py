"""healthhub.dbpool: the pool retries a lost database every half second."""

from psycopg_pool.base import AttemptWithBackoff

from healthhub.dbpool import RETRY_EVERY_S, reconnect_promptly


def test_the_pool_retries_a_lost_database_at_a_steady_half_second():
    reconnect_promptly()
    attempt = AttemptWithBackoff(timeout=300)
    delays = []
    for now in range(0, 40, 1):
        attempt.update_delay(float(now))
        delays.append(attempt.delay)
    # psycopg_pool's default doubles it: 1, 2, 4, ... 32 s by the sixth try.
    assert max(delays) <= RETRY_EVERY_S * 1.1
