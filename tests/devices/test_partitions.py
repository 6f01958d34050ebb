"""Readings partitioned by day on PostgreSQL (migration 0004,
devices.partitions): where readings land, partitions created ahead, days
rolled up into minute summaries, and retention by dropping whole days while
ingestion goes on. SQLite keeps one table."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import close_old_connections, connection

from devices import partitions
from devices.models import LateHour, Reading, ReadingHour, ReadingMinute
from devices.protocol import ValidReading
from devices.retention import readings_enforce_retention
from devices.selectors import readings_buckets
from devices.services import device_provision, readings_store

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="readings are partitioned on PostgreSQL only"
)


def store(device, readings, received_at=None):
    readings_store(
        device_id=device.pk,
        worker_id=device.worker_id,
        readings=[ValidReading(i, m, float(v), at) for i, (m, v, at) in enumerate(readings)],
        received_at=received_at or datetime.now(UTC),
    )


def where(device) -> dict[str, int]:
    """Readings of the device per table (partition) that holds them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text, count(*) FROM devices_reading WHERE device_id = %s GROUP BY 1",
            [device.pk],
        )
        return dict(cursor.fetchall())


def table_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        return cursor.fetchone()[0]


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor == "postgresql", reason="the SQLite case")
def test_sqlite_keeps_one_table_and_maintenance_does_nothing(alice_device):
    assert not partitions.is_partitioned()
    report = partitions.partitions_maintain()
    assert (report.created, report.dropped) == ([], [])
    assert partitions.summaries_roll_up() == partitions.RollUpReport()
    # A late reading marks nothing: SQLite keeps no summaries, charts read raw readings.
    yesterday = datetime.now(UTC) - timedelta(days=1)
    store(alice_device[0], [("heart_rate", 70, yesterday)])
    assert not LateHour.objects.exists()


@postgresql_only
@pytest.mark.django_db
def test_a_reading_lands_in_the_partition_of_its_utc_day(alice_device):
    device, _ = alice_device
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    store(device, [("heart_rate", 70, today + timedelta(seconds=1)), ("heart_rate", 71, today - timedelta(seconds=1))])
    yesterday = today.date() - timedelta(days=1)
    assert where(device) == {partitions.partition_name(today.date()): 1, partitions.partition_name(yesterday): 1}


@postgresql_only
@pytest.mark.django_db
def test_maintenance_keeps_a_week_ahead_and_the_backfill_window(alice_device, settings):
    now = datetime.now(UTC) + timedelta(days=10)  # ten days on, nothing ran meanwhile
    report = partitions.partitions_maintain(now=now)
    days = set(partitions.partition_days())
    today = now.date()
    backfill = settings.DEVICE_PROTOCOL["BACKFILL_DAYS"]
    wanted = {today + timedelta(days=d) for d in range(-backfill - 1, partitions.AHEAD_DAYS + 1)}
    assert wanted <= days
    assert set(report.created) == wanted - {d for d in days if d not in report.created}
    assert partitions.partitions_maintain(now=now).created == []  # idempotent


@postgresql_only
@pytest.mark.django_db
def test_a_day_without_partition_goes_to_the_default_and_moves_when_its_partition_comes(alice_device):
    device, _ = alice_device
    day = (datetime.now(UTC) - timedelta(days=40)).replace(hour=12, minute=0, second=0, microsecond=0)
    store(device, [("spo2", 97, day), ("spo2", 96, day + timedelta(minutes=1))])
    assert where(device) == {partitions.DEFAULT: 2}
    assert partitions.partition_create(day.date()) == 2
    assert where(device) == {partitions.partition_name(day.date()): 2}
    store(device, [("spo2", 97, day)])  # resent: still stored once
    assert Reading.objects.filter(device=device).count() == 2


@postgresql_only
@pytest.mark.django_db
def test_a_closed_day_rolls_up_into_minutes_and_again_without_double_counting(alice_device):
    device, _ = alice_device
    day = (datetime.now(UTC) - timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
    store(device, [("heart_rate", 60 + i % 12, day + timedelta(seconds=5 * i)) for i in range(24)])
    assert partitions.day_roll_up(day.date()) == 2
    store(device, [("heart_rate", 100, day + timedelta(minutes=1, seconds=59))])  # late, within backfill
    assert partitions.day_roll_up(day.date()) == 2
    summaries = list(ReadingMinute.objects.order_by("minute").values_list("count", "mean", "min", "max"))
    assert summaries == [(12, 65.5, 60.0, 71.0), (13, (786 + 100) / 13, 60.0, 100.0)]


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_retention_drops_whole_expired_days_while_ingestion_goes_on(alice_device, bob, settings):
    old_device, _ = alice_device
    live_device, _ = device_provision(serial="B-1", worker=bob)
    old_day = (datetime.now(UTC) - timedelta(days=40)).date()
    partitions.partition_create(old_day)
    start = datetime(old_day.year, old_day.month, old_day.day, 9, tzinfo=UTC)
    store(old_device, [("heart_rate", 70 + i % 3, start + timedelta(seconds=i)) for i in range(3000)])
    settings.RETENTION = {**settings.RETENTION, "RAW_DAYS": 30}

    stop = threading.Event()
    stored = []

    def ingest() -> None:
        try:
            while not stop.is_set():
                at = datetime.now(UTC).replace(microsecond=len(stored))
                store(live_device, [("heart_rate", 80, at)])
                stored.append(at)
        finally:
            close_old_connections()

    writer = threading.Thread(target=ingest)
    writer.start()
    try:
        time.sleep(0.2)
        report = readings_enforce_retention()
    finally:
        stop.set()
        writer.join()
    assert report.partitions_dropped >= 1
    assert not table_exists(partitions.partition_name(old_day))
    assert max(report.drop_seconds) < 1.0
    assert report.readings_removed == 0  # nothing was left for row-by-row deletes
    minutes = ReadingMinute.objects.filter(worker=old_device.worker)
    assert sum(minutes.values_list("count", flat=True)) == 3000
    assert minutes.count() == 50
    assert Reading.objects.filter(device=live_device).count() == len(stored) > 0


@pytest.fixture(autouse=True)
def _no_partition_outlives_its_test():
    """A partition a test made for an old day goes with the test, attached
    or not (the flush between tests empties tables, it does not drop them)."""
    yield
    if connection.vendor == "postgresql":
        for day in partitions.detached_days() + partitions.partition_days():
            if day < (datetime.now(UTC) - timedelta(days=20)).date():
                with connection.cursor() as cursor:
                    cursor.execute(f"DROP TABLE IF EXISTS {partitions.partition_name(day)}")


def _hold_lock(table: str, held: threading.Event, release: threading.Event) -> None:
    """Another session that holds a lock ingestion would hold (a row lock on
    a device: the foreign-key check's lock) until told to let go."""
    from django.db import connections

    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute(f"LOCK TABLE {table} IN ROW SHARE MODE")
            held.set()
            release.wait(10)
            cursor.execute("COMMIT")
    finally:
        close_old_connections()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_drop_that_meets_ingestions_locks_gives_way_and_the_next_run_finishes_it(alice_device, monkeypatch, settings):
    """The drop takes an exclusive lock on the tables its foreign keys point
    at; while a session holds a lock there it waits LOCK_TIMEOUT_S, tries
    again, and in the end leaves the detached day for the next run instead of
    failing the task (CI once saw the drop deadlock with a writer)."""
    settings.RETENTION = {**settings.RETENTION, "RAW_DAYS": 30}
    device, _ = alice_device
    old_day = (datetime.now(UTC) - timedelta(days=40)).date()
    partitions.partition_create(old_day)
    store(device, [("heart_rate", 70, datetime(old_day.year, old_day.month, old_day.day, 9, tzinfo=UTC))])
    monkeypatch.setattr(partitions, "LOCK_TIMEOUT_S", 0.2)
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(device._meta.db_table, held, release))
    holder.start()
    try:
        assert held.wait(5)
        now = datetime.now(UTC)
        dropped, _ = partitions.partitions_drop_expired(now=now, existing=None)
    finally:
        release.set()
        holder.join()
    assert dropped == []
    assert table_exists(partitions.partition_name(old_day))  # still there, the task did not fail

    dropped, _ = partitions.partitions_drop_expired(now=now)
    assert dropped == [old_day]
    assert partitions.detached_days() == [] and old_day not in partitions.partition_days()
    assert not table_exists(partitions.partition_name(old_day))
    assert ReadingMinute.objects.filter(worker=device.worker).count() == 1


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_day_left_detached_by_an_earlier_run_is_dropped_by_the_next(alice_device, settings):
    settings.RETENTION = {**settings.RETENTION, "RAW_DAYS": 30}
    old_day = (datetime.now(UTC) - timedelta(days=40)).date()
    partitions.partition_create(old_day)
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {partitions.TABLE} DETACH PARTITION {partitions.partition_name(old_day)}")
    assert partitions.detached_days() == [old_day]
    dropped, _ = partitions.partitions_drop_expired(now=datetime.now(UTC))
    assert dropped == [old_day]
    assert not table_exists(partitions.partition_name(old_day))


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_drop_waits_out_a_short_lock_and_succeeds_in_the_same_run(alice_device, monkeypatch, settings):
    settings.RETENTION = {**settings.RETENTION, "RAW_DAYS": 30}
    device, _ = alice_device
    old_day = (datetime.now(UTC) - timedelta(days=40)).date()
    partitions.partition_create(old_day)
    monkeypatch.setattr(partitions, "LOCK_TIMEOUT_S", 0.2)
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(device._meta.db_table, held, release))
    holder.start()
    assert held.wait(5)
    threading.Timer(0.5, release.set).start()  # let go while the drop is still trying
    try:
        dropped, _ = partitions.partitions_drop_expired(now=datetime.now(UTC))
    finally:
        release.set()
        holder.join()
    assert dropped == [old_day]
    assert not table_exists(partitions.partition_name(old_day))


def stream(device, readings, delay=timedelta(seconds=1)):
    """Store each reading as if it arrived ``delay`` after it was measured."""
    for metric, value, at in readings:
        store(device, [(metric, value, at)], received_at=at + delay)


@postgresql_only
@pytest.mark.django_db
def test_beat_rolls_up_each_closed_hour_once_it_has_settled(alice_device):
    device, _ = alice_device
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    at = {
        name: day + timedelta(hours=h, minutes=m)
        for name, (h, m) in {"early": (6, 50), "a": (8, 10), "b": (9, 20), "c": (9, 59), "now": (10, 1)}.items()
    }
    stream(device, [("heart_rate", 60 + i, t) for i, t in enumerate(at.values())])
    cache.set(partitions.HOURS_DONE_KEY, day + timedelta(hours=8))  # an earlier run rolled up to 08:00
    # At 10:03 the 09:00 hour has not settled (a reading of 09:59 may still be on its way).
    assert partitions.summaries_roll_up(now=day + timedelta(hours=10, minutes=3)).days == [day.date()]
    assert sorted(ReadingHour.objects.values_list("hour", flat=True)) == [day + timedelta(hours=8)]
    report = partitions.summaries_roll_up(now=day + timedelta(hours=10, minutes=30))
    assert report.days == [day.date()]
    # 06:50 was the earlier run's, 10:01 is in the hour still open; nothing was late.
    assert sorted(ReadingMinute.objects.values_list("minute", "mean")) == [
        (at["a"], 61.0),
        (at["b"], 62.0),
        (at["c"], 63.0),
    ]
    assert sorted(ReadingHour.objects.values_list("hour", "count", "mean", "min", "max")) == [
        (day + timedelta(hours=8), 1, 61.0, 61.0, 61.0),
        (day + timedelta(hours=9), 2, 62.5, 62.0, 63.0),
    ]
    assert not LateHour.objects.exists() and report.late_hours == 0
    assert cache.get(partitions.HOURS_DONE_KEY) == day + timedelta(hours=10)


@postgresql_only
@pytest.mark.django_db
def test_late_readings_mark_their_hour_and_reach_the_charts_at_the_next_roll_up(alice_device, bob):
    """A device that was offline sends an hour already summarised: the
    chart, which reads the summaries, must come to show them, and only that
    worker's hour is rolled up again."""
    device, _ = alice_device
    bob_device, _ = device_provision(serial="B-1", model="Band 3", worker=bob)
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    nine = day + timedelta(hours=9)
    stream(device, [("heart_rate", 60, nine + timedelta(minutes=20))])
    stream(bob_device, [("heart_rate", 100, nine + timedelta(minutes=5))])
    cache.set(partitions.HOURS_DONE_KEY, nine)
    partitions.summaries_roll_up(now=day + timedelta(hours=10, minutes=30))

    def chart():
        buckets = readings_buckets(
            device.worker, metric="heart_rate", start=day, end=day + timedelta(hours=12), seconds=3600
        )
        return [(b["start"], b["count"], b["mean"]) for b in buckets]

    assert chart() == [(nine, 1, 60.0)]
    # At 11:00 two readings of 09:40 and 09:41 arrive, one of them twice, and one of 10:59 that is not late.
    late = [("heart_rate", 80, nine + timedelta(minutes=40)), ("heart_rate", 82, nine + timedelta(minutes=41))]
    eleven = day + timedelta(hours=11)
    store(device, [*late, late[0], ("heart_rate", 70, eleven - timedelta(minutes=1))], received_at=eleven)
    assert list(LateHour.objects.values_list("worker_id", "hour")) == [(device.worker_id, nine)]
    assert chart() == [(nine, 1, 60.0), (day + timedelta(hours=10), 1, 70.0)]  # 09:00 from its stale summary
    report = partitions.summaries_roll_up(now=eleven + timedelta(minutes=6))
    assert report.late_hours == 1 and report.days == [day.date()]
    assert chart() == [(nine, 3, (60 + 80 + 82) / 3), (day + timedelta(hours=10), 1, 70.0)]
    assert not LateHour.objects.exists()
    # Bob's hour was not rolled up again; re-sending the late batch marks nothing (duplicates).
    assert ReadingHour.objects.get(worker=bob, hour=nine).count == 1
    store(device, late, received_at=eleven + timedelta(minutes=10))
    assert not LateHour.objects.exists()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_roll_up_running_elsewhere_makes_the_next_one_step_aside(alice_device):
    import psycopg
    from django.db import connections

    settings_dict = connections["default"].settings_dict
    other = psycopg.connect(
        dbname=settings_dict["NAME"],
        user=settings_dict["USER"],
        host=settings_dict["HOST"],
        port=settings_dict["PORT"] or 5432,
        password=settings_dict["PASSWORD"],
        autocommit=True,
    )
    try:
        other.execute("SELECT pg_advisory_lock(%s)", [partitions._ROLL_UP_LOCK])
        assert partitions.summaries_roll_up().skipped
        other.execute("SELECT pg_advisory_unlock(%s)", [partitions._ROLL_UP_LOCK])
        assert not partitions.summaries_roll_up().skipped
    finally:
        other.close()


@postgresql_only
@pytest.mark.django_db
def test_every_hour_of_the_backfill_window_is_rolled_up_when_the_last_run_is_not_known(alice_device, settings):
    """A new cache forgot where the last run stopped: charts read summaries
    up to the newest one, so no day of the window may stay without them."""
    device, _ = alice_device
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    three_days_ago = today - timedelta(days=3, hours=-9)
    stream(device, [("heart_rate", 70, three_days_ago), ("heart_rate", 80, three_days_ago + timedelta(seconds=20))])
    cache.delete(partitions.HOURS_DONE_KEY)
    report = partitions.summaries_roll_up(now=today + timedelta(hours=1))
    window = settings.DEVICE_PROTOCOL["BACKFILL_DAYS"]
    assert report.days == [today.date() - timedelta(days=n) for n in range(window, 0, -1)]
    assert list(ReadingMinute.objects.values_list("minute", "count", "mean")) == [(three_days_ago, 2, 75.0)]
    assert list(ReadingHour.objects.values_list("hour", "count")) == [(three_days_ago, 2)]
    assert partitions.summaries_roll_up(now=today + timedelta(hours=2)).days == [today.date()]


@postgresql_only
@pytest.mark.django_db
def test_hours_missed_while_beat_was_down_are_rolled_up_by_the_next_run(alice_device):
    device, _ = alice_device
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    stream(
        device,
        [("heart_rate", 60, day + timedelta(hours=3, minutes=10)), ("heart_rate", 90, day + timedelta(hours=9))],
    )
    cache.set(partitions.HOURS_DONE_KEY, day + timedelta(hours=2))  # then beat was down until 10:30
    partitions.summaries_roll_up(now=day + timedelta(hours=10, minutes=30))
    assert sorted(ReadingHour.objects.values_list("hour", "mean")) == [
        (day + timedelta(hours=3), 60.0),
        (day + timedelta(hours=9), 90.0),
    ]
    assert cache.get(partitions.HOURS_DONE_KEY) == day + timedelta(hours=10)
