"""Backups (docs/operations.md): a pg_dump of the database, restored into an
empty database, serves the same worker's chart. PostgreSQL only, and only
where pg_dump and pg_restore are installed."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections

from devices.protocol import ValidReading
from devices.services import readings_store
from tests.conftest import api_as
from tests.live import database_url

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_dump backs up PostgreSQL"),
    pytest.mark.skipif(not shutil.which("pg_dump") or not shutil.which("pg_restore"), reason="no pg_dump"),
    pytest.mark.django_db(transaction=True),
]


def chart(user, worker_id: int, start: datetime, end: datetime, resolution: str | None = None) -> dict:
    params = {"metric": "heart_rate", "from": start.isoformat(), "to": end.isoformat()}
    if resolution:
        params["resolution"] = resolution
    response = api_as(user).get(f"/api/v1/workers/{worker_id}/readings/", params)
    assert response.status_code == 200, response.content
    return response.json()


def test_a_dump_restored_into_an_empty_database_serves_the_same_chart(alice_device, clara, tmp_path):
    device, _ = alice_device
    end = datetime.now(UTC).replace(microsecond=0)
    start = end - timedelta(days=3)
    # Three days of heart rate, one reading a minute: several day partitions.
    at = [start + timedelta(minutes=m) for m in range(0, 3 * 24 * 60, 1)]
    readings_store(
        device_id=device.pk,
        worker_id=device.worker_id,
        readings=[ValidReading(i, "heart_rate", 60.0 + i % 40, t) for i, t in enumerate(at)],
        received_at=end,
    )
    before = chart(clara, device.worker_id, start, end, "1h")
    raw_before = chart(clara, device.worker_id, end - timedelta(hours=2), end)
    assert sum(b["count"] for b in before["buckets"]) == len(at)

    source = connection.settings_dict.copy()
    url = database_url(source)
    dump = tmp_path / "healthhub.dump"
    subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", url], check=True, timeout=120)

    restored = f"{source['NAME']}_restored"
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    subprocess.run(["psql", admin_url, "-qc", f'DROP DATABASE IF EXISTS "{restored}"'], check=True, timeout=60)
    subprocess.run(["psql", admin_url, "-qc", f'CREATE DATABASE "{restored}"'], check=True, timeout=60)
    try:
        subprocess.run(
            [
                "pg_restore",
                "--no-owner",
                "--exit-on-error",
                "--single-transaction",
                f"--dbname={url.rsplit('/', 1)[0]}/{restored}",
                str(dump),
            ],
            check=True,
            timeout=300,
        )
        connections["default"].close()
        connections["default"].settings_dict["NAME"] = restored
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'devices_reading'::regclass")
            assert cursor.fetchone()[0] > 3  # restored partitioned, partitions and all
        assert chart(clara, device.worker_id, start, end, "1h") == before
        assert chart(clara, device.worker_id, end - timedelta(hours=2), end) == raw_before
    finally:
        connections["default"].close()
        connections["default"].settings_dict["NAME"] = source["NAME"]
        subprocess.run(
            ["psql", admin_url, "-qc", f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)'], check=True, timeout=60
        )
