"""What a first demo run shows: the real port, the logins once, an episode
that happens within a short run, a demo worker whose check-in agrees with
their wearable, and weeks of readings behind the week and month charts."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from devices.models import Reading
from simulation.management.commands.seed_demo import WORKER_LOGIN
from simulation.management.commands.simulate_wearables import scenario_start
from workers.models import CheckIn, Worker

pytestmark = pytest.mark.django_db


def test_seed_demo_prints_the_port_in_use_and_can_leave_the_logins_out(tmp_path, monkeypatch):
    monkeypatch.setenv("PORT", "8123")
    out = io.StringIO()
    call_command("seed_demo", workers=6, devices_file=tmp_path / "d.json", stdout=out)
    assert "http://127.0.0.1:8123/" in out.getvalue() and ":8000" not in out.getvalue()
    quiet = io.StringIO()
    call_command("seed_demo", workers=6, devices_file=tmp_path / "d.json", no_logins=True, stdout=quiet)
    assert "Demo logins at" in out.getvalue() and "Demo logins at" not in quiet.getvalue()


@pytest.mark.parametrize(
    ("after", "duration", "start"), [(None, 30.0, 10.0), (None, None, 60.0), (None, 600.0, 60.0), (5.0, 30.0, 5.0)]
)
def test_a_short_run_still_plays_its_episode(after, duration, start):
    assert scenario_start(after, duration) == start
    assert duration is None or scenario_start(after, duration) < duration


def test_the_demo_worker_is_not_in_the_fever_cluster_and_has_weeks_of_readings(tmp_path):
    call_command("seed_demo", workers=12, devices_file=tmp_path / "d.json", stdout=io.StringIO())
    call_command("seed_history", weeks=2, outbreak=True, readings_workers=2, stdout=io.StringIO())
    me = Worker.objects.get(user__username=WORKER_LOGIN.username)
    cluster = CheckIn.objects.filter(temperature=38.2, fever=True, cough=True)
    assert cluster.exists() and not cluster.filter(worker=me).exists()
    readings = Reading.objects.filter(worker=me, metric="heart_rate")
    # Every 30 minutes over two weeks, up to an hour ago.
    assert readings.count() >= 2 * 7 * 48 - 4
    # Every metric, for the two workers asked for (the shift history gives
    # everyone heart rates only).
    assert Reading.objects.filter(metric="spo2").values("worker").distinct().count() == 2
