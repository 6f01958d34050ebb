"""The simulated wearables: the physiology model (pure), the client's delivery
semantics (against a scripted in-process WebSocket server), and the whole
thing against a real server (``@pytest.mark.live``)."""

from __future__ import annotations

import asyncio
import json
import random
import statistics
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from django.core.management import CommandError, call_command
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from devices.models import Reading
from devices.protocol import METRICS
from devices.services import device_provision
from simulation.physiology import DEFAULT_TZ, Episode, Phase, Physiology, Sample, Scenario, WorkerProfile, phase_at
from simulation.simulator import DevicesFileError, DeviceSpec, SentReading, Simulator, load_device_specs, scenario_for
from tests.conftest import consented
from tests.factories import WorkerFactory
from tests.live import AsgiServer

MONDAY = datetime(2026, 11, 23, tzinfo=DEFAULT_TZ)  # a Monday


def simulate(
    profile: WorkerProfile,
    start: datetime,
    hours: float,
    step: timedelta = timedelta(minutes=1),
    *,
    seed: int = 1,
    episode: Episode | None = None,
) -> list[Sample]:
    model = Physiology(profile, random.Random(seed), episode=episode)
    samples, at = [], start
    while at < start + timedelta(hours=hours):
        samples.append(model.sample(at))
        at += step
    return samples


def values(samples: list[Sample], metric: str) -> list[float]:
    return [s.values[metric] for s in samples if metric in s.values]


def worker(age: int = 40, **traits: Any) -> WorkerProfile:
    return WorkerProfile(age=age, resting_hr=65, **{"shift_pattern": "day", **traits})


# --- The physiology model ----------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    start_hour=st.integers(0, 24 * 7),
    scenario=st.sampled_from([None, *Scenario]),
    pattern=st.sampled_from(["day", "night", "two_shift", "three_shift"]),
)
def test_every_value_is_valid_for_the_protocol(seed, start_hour, scenario, pattern):
    rng = random.Random(seed)
    profile = WorkerProfile.random(rng, shift_pattern=pattern)
    start = MONDAY + timedelta(hours=start_hour)
    episode = Episode(scenario, start + timedelta(minutes=20), timedelta(minutes=5)) if scenario else None
    model = Physiology(profile, rng, episode=episode)
    for minute in range(0, 240, 2):
        sample = model.sample(start + timedelta(minutes=minute))
        for metric, value in sample.values.items():
            spec = METRICS[metric]
            assert isinstance(value, int | float) and not isinstance(value, bool)
            assert spec.low <= value <= spec.high, (metric, value)


def test_a_sample_carries_the_vital_signs_and_periodically_the_slow_metrics():
    samples = simulate(worker(), MONDAY + timedelta(hours=9), 0.05, timedelta(seconds=2))
    fast = {"heart_rate", "spo2", "skin_temp", "core_temp", "resp_rate", "steps"}
    assert all(fast <= s.values.keys() for s in samples)
    slow = [s for s in samples if "battery" in s.values]
    assert set(slow[0].values) == fast | {"hrv_rmssd", "ambient_temp", "ambient_humidity", "battery"}
    assert 2 <= len(slow) <= 8  # every 30 s, not every sample


def test_the_same_seed_gives_the_same_values():
    profile = WorkerProfile.random(random.Random(7))
    first = simulate(profile, MONDAY, 3, seed=42)
    again = simulate(profile, MONDAY, 3, seed=42)
    other = simulate(profile, MONDAY, 3, seed=43)
    assert [s.values for s in first] == [s.values for s in again]
    assert [s.values for s in first] != [s.values for s in other]


@pytest.mark.parametrize(
    ("pattern", "crew", "local", "phase"),
    [
        ("day", 0, MONDAY.replace(hour=9), Phase.WORK),
        ("day", 0, MONDAY.replace(hour=9, minute=55), Phase.BREAK),  # 10 minutes each hour
        ("day", 0, MONDAY.replace(hour=12, minute=30), Phase.BREAK),  # the meal hour
        ("day", 0, MONDAY.replace(hour=3), Phase.SLEEP),
        ("day", 0, MONDAY.replace(hour=19), Phase.OFF),
        ("day", 0, (MONDAY + timedelta(days=5)).replace(hour=10), Phase.OFF),  # Saturday
        ("night", 0, MONDAY.replace(hour=23), Phase.WORK),
        ("night", 0, MONDAY.replace(hour=13), Phase.SLEEP),
        # ISO week 48: crew 0 works 06-14, crew 1 14-22, crew 2 22-06; a week later each moves on.
        ("three_shift", 1, MONDAY.replace(hour=14, minute=20), Phase.WORK),
        ("three_shift", 0, MONDAY.replace(hour=14, minute=20), Phase.OFF),
        ("three_shift", 2, MONDAY.replace(hour=23), Phase.WORK),
        ("three_shift", 1, (MONDAY + timedelta(days=7)).replace(hour=14, minute=20), Phase.SLEEP),
    ],
)
def test_the_shift_schedule(pattern, crew, local, phase):
    assert phase_at(pattern, crew, local) == phase


@pytest.mark.parametrize("seed", range(5))
def test_heart_rate_is_higher_at_work_than_at_rest(seed):
    profile = WorkerProfile.random(random.Random(seed), shift_pattern="day")
    samples = simulate(profile, MONDAY, 24, seed=seed)
    by_phase = {
        phase: statistics.mean(s.values["heart_rate"] for s in samples if s.phase is phase)
        for phase in (Phase.WORK, Phase.BREAK, Phase.OFF, Phase.SLEEP)
    }
    assert by_phase[Phase.WORK] > by_phase[Phase.OFF] + 10
    assert by_phase[Phase.WORK] > by_phase[Phase.SLEEP] + 15
    assert by_phase[Phase.SLEEP] < by_phase[Phase.OFF]
    steps = {phase: sum(s.values["steps"] for s in samples if s.phase is phase) for phase in Phase}
    assert steps[Phase.SLEEP] == 0 and steps[Phase.WORK] > steps[Phase.OFF]


def test_core_temperature_follows_the_circadian_rhythm():
    samples = simulate(worker(shift_pattern="night"), MONDAY, 24)
    asleep_at = {s.at.hour: s.values["core_temp"] for s in samples if s.at.minute == 0}
    # Lowest in the early morning, highest late in the afternoon.
    assert asleep_at[17] - asleep_at[5] > 0.2


@pytest.mark.parametrize("seed", range(8))
def test_a_normal_day_shows_no_episode_signature(seed):
    rng = random.Random(seed)
    profile = WorkerProfile.random(rng, shift_pattern=rng.choice(["day", "three_shift"]))
    samples = simulate(profile, MONDAY, 24, timedelta(seconds=30), seed=seed)
    assert not any("fall" in s.values or "sos" in s.values for s in samples)
    assert all(s.transmitting for s in samples)
    assert min(values(samples, "spo2")) >= 95
    assert max(values(samples, "core_temp")) < 37.5  # the fever line of the alert rules
    hr = values(samples, "heart_rate")
    assert sum(v > 180 - profile.age for v in hr) / len(hr) < 0.01


def run_episode(scenario: Scenario, *, age: int = 40, minutes: int = 30) -> tuple[list[Sample], list[Sample], datetime]:
    """Samples every 10 s through a work block, without and with the episode
    (same seed): the episode starts 5 minutes in and ramps over 2 minutes."""
    profile = worker(age=age)
    start = MONDAY.replace(hour=8)
    onset = start + timedelta(minutes=5)
    episode = Episode(scenario, onset, timedelta(minutes=2))
    step = timedelta(seconds=10)
    normal = simulate(profile, start, minutes / 60, step, seed=3)
    with_episode = simulate(profile, start, minutes / 60, step, seed=3, episode=episode)
    return normal, with_episode, onset


def after(samples: list[Sample], at: datetime) -> list[Sample]:
    return [s for s in samples if s.at >= at]


def test_heat_strain_drives_heart_rate_above_180_minus_age_and_core_temp_over_38_5():
    normal, strained, onset = run_episode(Scenario.HEAT_STRAIN, age=45)
    sustained = after(strained, onset + timedelta(minutes=5))
    assert all(v > 180 - 45 for v in values(sustained, "heart_rate"))
    core = values(after(strained, onset), "core_temp")
    assert core[0] < 38 < 38.5 < min(core[-30:])  # rising, then over 38.5
    assert max(values(normal, "heart_rate")) < 180 - 45
    assert max(values(normal, "core_temp")) < 38
    assert values(sustained, "ambient_temp")[-1] > 34  # the bay heats up


def test_hypoxemia_holds_spo2_at_86_to_90():
    normal, low, onset = run_episode(Scenario.HYPOXEMIA)
    sustained = values(after(low, onset + timedelta(minutes=2)), "spo2")
    assert len(sustained) > 100 and all(86 <= v <= 90 for v in sustained)
    assert min(values(normal, "spo2")) >= 95


def test_fall_with_no_movement_sends_one_fall_event_then_no_steps():
    _, fallen, onset = run_episode(Scenario.FALL_NO_MOVEMENT)
    events = [s for s in fallen if "fall" in s.values]
    assert len(events) == 1 and events[0].values["fall"] == 1
    assert events[0].at == min(s.at for s in fallen if s.at >= onset)
    assert sum(values(after(fallen, onset), "steps")) == 0
    assert sum(values([s for s in fallen if s.at < onset], "steps")) > 0


def test_fall_then_getting_up_sends_one_fall_event_then_steps_again():
    _, fallen, onset = run_episode(Scenario.FALL)
    events = [s for s in fallen if "fall" in s.values]
    assert len(events) == 1 and events[0].values["fall"] == 1
    down = [s for s in fallen if onset <= s.at < onset + timedelta(seconds=15)]
    assert sum(values(down, "steps")) == 0
    assert sum(values(after(fallen, onset + timedelta(minutes=1)), "steps")) > 0


def test_sos_sends_one_sos_event():
    _, pressed, onset = run_episode(Scenario.SOS)
    events = [s for s in pressed if "sos" in s.values]
    assert len(events) == 1 and events[0].values["sos"] == 1 and events[0].at >= onset


def test_fever_raises_core_and_skin_temperature_and_heart_rate():
    normal, fever, onset = run_episode(Scenario.FEVER)
    later = onset + timedelta(minutes=3)
    assert all(v >= 37.5 for v in values(after(fever, later), "core_temp"))
    assert max(values(normal, "core_temp")) < 37.5

    def mean_after(samples: list[Sample], metric: str) -> float:
        return statistics.mean(values(after(samples, later), metric))

    assert mean_after(fever, "skin_temp") > mean_after(normal, "skin_temp") + 0.7
    assert mean_after(fever, "heart_rate") > mean_after(normal, "heart_rate") + 8


def test_signal_loss_stops_transmitting_for_good():
    _, lost, onset = run_episode(Scenario.SIGNAL_LOSS)
    assert all(s.transmitting for s in lost if s.at < onset)
    assert not any(s.transmitting or s.values for s in lost if s.at >= onset)


def test_scenarios_go_to_the_first_k_workers():
    assert [scenario_for(i, "fall", 2) for i in range(3)] == [Scenario.FALL, Scenario.FALL, None]
    kinds = len(Scenario)
    assert [scenario_for(i, "mixed", kinds + 1) for i in range(kinds + 1)] == [*Scenario, Scenario.HEAT_STRAIN]
    assert scenario_for(0, None, 5) is None


def test_scripted_episodes_go_to_workers_on_shift_when_they_start():
    """The demo's signal loss raised nothing because its worker was off
    shift: episodes go to workers at work at the episode's start."""
    from zoneinfo import ZoneInfo

    from simulation.simulator import ON_SHIFT

    seoul = ZoneInfo("Asia/Seoul")
    at_3_am = datetime(2026, 7, 29, 18, 0, tzinfo=UTC)  # 03:00 in Seoul: day workers sleep, night workers work
    specs = [DeviceSpec(serial=f"D{i}", token=f"t{i}", shift_pattern="day") for i in range(3)]
    specs += [DeviceSpec(serial=f"N{i}", token=f"n{i}", shift_pattern="night") for i in range(2)]
    sim = Simulator(
        "ws://127.0.0.1:1/ws/devices/v1/",
        specs,
        scenario="signal_loss",
        scenario_workers=2,
        scenario_after=60,
        clock=lambda: at_3_am.timestamp(),
    )
    scripted = [d for d in sim.devices if d.stats.scenario]
    assert sorted(d.spec.serial for d in scripted) == ["N0", "N1"]
    for device in scripted:
        profile = device.model.profile
        assert (
            phase_at(profile.shift_pattern, profile.crew, (at_3_am + timedelta(seconds=60)).astimezone(seoul))
            in ON_SHIFT
        )


# --- The devices file -----------------------------------------------------------------


def test_devices_file_gives_the_first_n_devices(tmp_path):
    path = tmp_path / "devices.json"
    entries = [{"serial": f"S{i}", "token": f"t{i}", "employee_number": f"E{i}", "birth_year": 1980} for i in range(3)]
    path.write_text(json.dumps(entries))
    specs = load_device_specs(path, 2)
    assert specs == [
        DeviceSpec(serial="S0", token="t0", employee_number="E0", birth_year=1980),
        DeviceSpec(serial="S1", token="t1", employee_number="E1", birth_year=1980),
    ]
    with pytest.raises(DevicesFileError, match=r"lists 3 devices but 5 were asked for.*seed_demo --workers 5"):
        load_device_specs(path, 5)
    with pytest.raises(DevicesFileError, match=r"does not exist.*seed_demo"):
        load_device_specs(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"serial": 1}')
    with pytest.raises(DevicesFileError, match="not a list"):
        load_device_specs(tmp_path / "bad.json")


def test_simulate_wearables_explains_a_missing_or_short_devices_file(tmp_path):
    with pytest.raises(CommandError, match="seed_demo"):
        call_command("simulate_wearables", devices_file=tmp_path / "none.json", duration=0.1)
    short = tmp_path / "short.json"
    short.write_text(json.dumps([{"serial": "S1", "token": "t"}]))
    with pytest.raises(CommandError, match="lists 1 devices but 3 were asked for"):
        call_command("simulate_wearables", devices_file=short, workers=3, duration=0.1)


# --- Delivery semantics, against a scripted server ---------------------------------------


class ScriptedServer:
    """An in-process WebSocket server whose behaviour per connection is a
    coroutine: it records every frame each connection received."""

    def __init__(self, script: Callable[[ScriptedServer, ServerConnection, int], Awaitable[None]]) -> None:
        self.script = script
        self.connections: list[list[dict[str, Any]]] = []
        self.opened_at: list[float] = []
        self.url = ""

    async def __aenter__(self) -> ScriptedServer:
        async def handler(ws: ServerConnection) -> None:
            self.connections.append([])
            self.opened_at.append(asyncio.get_running_loop().time())
            await ws.send(orjson.dumps({"type": "welcome", "device": "S1", "server_time": "", "max_batch": 500}))
            try:
                await self.script(self, ws, len(self.connections) - 1)
            except ConnectionClosed:
                pass

        self._server = await serve(handler, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/ws/devices/v1/"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def frames(self, ws: ServerConnection, index: int):
        async for raw in ws:
            frame = orjson.loads(raw)
            self.connections[index].append(frame)
            yield frame

    @staticmethod
    def ack(frame: dict[str, Any]) -> bytes:
        n = len(frame["readings"])
        return orjson.dumps({"type": "ack", "seq": frame["seq"], "accepted": n, "duplicates": 0, "rejected": []})


def readings_of(frames: list[dict[str, Any]]) -> set[SentReading]:
    return {SentReading(r["metric"], r["at"], r["value"]) for f in frames for r in f["readings"]}


def quick(url: str, **options: Any) -> Simulator:
    defaults = {"interval": 0.05, "backoff_initial": 0.05, "backoff_max": 0.2, "drain_timeout": 2.0, "seed": 5}
    return Simulator(url, [("S1", "token-1")], **{**defaults, **options})


async def test_unacknowledged_batches_are_resent_after_reconnect():
    async def script(server: ScriptedServer, ws: ServerConnection, index: int) -> None:
        async for frame in server.frames(ws, index):
            if index == 0:
                if len(server.connections[0]) == 3:
                    await ws.close(1011)  # three batches taken, none acknowledged
                    return
            else:
                await ws.send(server.ack(frame))

    async with ScriptedServer(script) as server:
        sim = quick(server.url)
        await sim.run(duration=0.6)
    stats = sim.devices[0].stats
    first, second = server.connections[0], server.connections[1]
    assert len(first) == 3
    assert readings_of(first) <= readings_of(second)  # every unacknowledged reading came again
    # The backlog went up coalesced: the first frame after the reconnect carries all of it.
    assert readings_of(first) <= readings_of(second[:1])
    assert stats.reconnects == 1 and stats.close_codes[0] == 1011
    assert stats.acked == stats.sent and stats.readings_resent >= len(readings_of(first))
    assert not sim.devices[0].pending


async def test_close_4401_stops_the_device_and_reports_it():
    async def script(server: ScriptedServer, ws: ServerConnection, index: int) -> None:
        await ws.close(4401)

    async with ScriptedServer(script) as server:
        sim = quick(server.url)
        report = await sim.run(duration=0.4)
    assert len(server.connections) == 1  # no reconnecting with a revoked token
    assert "4401" in sim.devices[0].stats.stopped
    assert report.stopped == {"S1": sim.devices[0].stats.stopped}


async def test_close_4429_backs_off_before_reconnecting():
    async def script(server: ScriptedServer, ws: ServerConnection, index: int) -> None:
        if index == 0:
            await ws.close(4429)
            return
        async for frame in server.frames(ws, index):
            await ws.send(server.ack(frame))

    async with ScriptedServer(script) as server:
        sim = quick(server.url, rate_limited_backoff=0.4)
        await sim.run(duration=0.8)
    assert len(server.connections) == 2
    assert server.opened_at[1] - server.opened_at[0] >= 0.4
    assert sim.devices[0].stats.acked == sim.devices[0].stats.sent


async def test_rate_limited_batch_is_sent_again_and_unfixable_one_dropped():
    refused: list[dict[str, Any]] = []

    async def script(server: ScriptedServer, ws: ServerConnection, index: int) -> None:
        # The first frame is rate limited; the first frame with none of its
        # readings (so not its resend) is refused as malformed; the rest acked.
        async for frame in server.frames(ws, index):
            first = server.connections[index][0]
            if frame is first:
                error = {"type": "error", "code": "rate_limited", "detail": "slow down", "seq": frame["seq"]}
            elif not refused and not readings_of([frame]) & readings_of([first]):
                refused.append(frame)
                error = {"type": "error", "code": "bad_schema", "detail": "nope", "seq": frame["seq"]}
            else:
                await ws.send(server.ack(frame))
                continue
            await ws.send(orjson.dumps(error))

    async with ScriptedServer(script) as server:
        sim = quick(server.url)
        await sim.run(duration=0.6)
    stats = sim.devices[0].stats
    rate_limited = readings_of(server.connections[0][:1])
    assert rate_limited <= stats.acked  # sent again after the pause, and acknowledged
    assert not readings_of(refused) & stats.acked  # the refused batch was dropped ...
    assert stats.batches_dropped == 1 and stats.errors == {"rate_limited": 1, "bad_schema": 1}
    assert stats.acked == stats.sent - readings_of(refused)  # ... and everything else acknowledged
    assert len(server.connections) == 1  # errors do not close the connection


# --- Against the real server --------------------------------------------------------------


def stored_readings() -> dict[str, set[SentReading]]:
    stored: dict[str, set[SentReading]] = {}
    for serial, metric, at, value in Reading.objects.values_list("device__serial", "metric", "measured_at", "value"):
        stored.setdefault(serial, set()).add(SentReading(metric, round(at.timestamp() * 1000), value))
    return stored


def provisioned(count: int) -> list[DeviceSpec]:
    specs = []
    for i in range(count):
        w = consented(WorkerFactory(birth_year=1970 + i))  # monitoring needs consent
        _, token = device_provision(serial=f"SIM-{i}", worker=w)
        specs.append(DeviceSpec(serial=f"SIM-{i}", token=token, birth_year=w.birth_year))
    return specs


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_every_acknowledged_reading_is_stored_exactly_once(asgi_server: AsgiServer):
    specs = provisioned(5)
    sim = Simulator(asgi_server.ws_url(), specs, interval=0.1, batch_size=2, scenario="fall", seed=11)
    report = asyncio.run(sim.run(duration=2.0))

    stored = stored_readings()
    assert Reading.objects.count() == sum(len(rows) for rows in stored.values())
    for device in sim.devices:
        stats = device.stats
        assert stats.sent and stats.acked == stats.sent, device.spec.serial  # all delivered after the drain
        assert stored[device.spec.serial] == stats.acked
        assert not stats.rejected and stats.accepted == len(stats.acked)
    assert report.readings_acked == report.readings_sent == Reading.objects.count()
    assert report.duplicates == 0 and report.reconnects == 0 and report.ack_p95_ms is not None
    # The scripted episode (given to a worker on shift, whoever that is now) got through.
    (scripted,) = [d.spec.serial for d in sim.devices if d.stats.scenario]
    assert any(r.metric == "fall" for r in stored[scripted])


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_devices_deliver_everything_across_a_server_crash(asgi_server: AsgiServer):
    specs = provisioned(3)
    sim = Simulator(
        asgi_server.ws_url(), specs, interval=0.1, seed=12, backoff_initial=0.1, backoff_max=0.5, drain_timeout=8
    )

    async def crash_and_restart() -> None:
        await asyncio.sleep(1.0)
        asgi_server.kill()
        await asyncio.sleep(0.5)
        await asyncio.to_thread(asgi_server.start)  # same port, same database

    async def main() -> None:
        restart = asyncio.create_task(crash_and_restart())
        await sim.run(duration=3.0)
        await restart

    asyncio.run(main())
    stored = stored_readings()
    for device in sim.devices:
        stats = device.stats
        assert stats.reconnects >= 1
        assert stats.acked == stats.sent and stored[device.spec.serial] == stats.acked


def test_simulator_refuses_bad_settings():
    with pytest.raises(ValueError, match="WebSocket URL"):
        Simulator("http://example.com/", [("S", "t")])
    with pytest.raises(ValueError):
        Simulator("ws://127.0.0.1:1/", [("S", "t")], scenario="zombie")
    with pytest.raises(ValueError, match="unique"):
        Simulator("ws://127.0.0.1:1/", [("S", "t"), ("S", "u")])
