"""Heat index against the NWS table, the Kalman core-temperature model
against hand-worked steps, the PSI formula, and the heat-strain and rest rules."""

from datetime import timedelta

import pytest

from alerts.rules import heat
from alerts.rules.base import Severity, State
from alerts.rules.thresholds import DEFAULTS
from tests.alerts.windows import NOW, series, steady, window


def f_to_c(f):
    return (f - 32) * 5 / 9


@pytest.mark.parametrize(
    # (°F, RH %, heat index °F from the NWS heat index chart)
    ("temp_f", "rh", "expected_f"),
    [(80, 40, 80), (90, 70, 106), (100, 40, 109), (86, 90, 105), (96, 50, 108), (84, 60, 88), (104, 20, 104)],
)
def test_heat_index_matches_nws_chart(temp_f, rh, expected_f):
    assert heat.heat_index_c(f_to_c(temp_f), rh) == pytest.approx(f_to_c(expected_f), abs=0.7)


def test_heat_index_switches_on_the_simple_formula_not_its_average_with_the_air():
    # 26.1 °C (78.98 °F) at 94 %: the simple formula gives 0.5·(78.98 + 61 +
    # 10.98·1.2 + 94·0.094) = 81.0 °F, over 80, so the NWS calculator uses the
    # Rothfusz regression: 83.2 °F = 28.5 °C (no adjustment: below 80 °F).
    # Averaging 81.0 with the air once more gives 79.99, under 80: the old
    # code kept the simple value, 27.2 °C, 1.25 °C low.
    assert heat.heat_index_c(26.1, 94) == pytest.approx(28.47, abs=0.01)
    # Below the switch the simple formula stands: 75 °F at 50 % ->
    # 0.5·(75 + 61 + 7·1.2 + 50·0.094) = 74.55 °F.
    assert heat.heat_index_c(f_to_c(75), 50) == pytest.approx(f_to_c(74.55), abs=0.01)


@pytest.mark.parametrize(
    # The 27 °C caution gate for air of 25.6-26.6 °C: humid air there is over
    # the gate by the NWS calculator.
    ("temp_c", "rh", "at_least_caution"),
    [(26.1, 94, True), (26.6, 80, True), (25.6, 50, False), (26.0, 40, False)],
)
def test_caution_gate_in_air_near_80_f(temp_c, rh, at_least_caution):
    assert (heat.heat_index_c(temp_c, rh) >= DEFAULTS.heat_index_caution) is at_least_caution


def test_stull_wet_bulb_matches_the_paper():
    # Stull (2011): 20 °C at 50 % gives a wet-bulb temperature of 13.7 °C.
    assert heat.stull_wet_bulb_c(20, 50) == pytest.approx(13.7, abs=0.05)


@pytest.mark.parametrize(
    # (air °C, RH %, KMA apparent temperature °C), the first from the KMA
    # example quoted in issue 9 (31 °C / 70 % -> about 32.3), the others
    # worked from the KMA formula with the Stull wet bulb.
    ("temp_c", "rh", "apparent"),
    [(31, 70, 32.3), (33, 50, 32.5), (35, 60, 35.5), (28, 60, 28.5), (33, 70, 34.3)],
)
def test_kma_apparent_temperature(temp_c, rh, apparent):
    assert heat.kma_apparent_temperature_c(temp_c, rh) == pytest.approx(apparent, abs=0.06)


def test_heat_index_and_apparent_temperature_differ_in_humid_heat():
    # The US heat index reads 37.6 at 31 °C / 70 %, the KMA index 32.3: only
    # the second is under the Korean rest rule's 33 °C level.
    assert heat.heat_index_c(31, 70) == pytest.approx(37.6, abs=0.1)
    assert heat.kma_apparent_temperature_c(31, 70) < DEFAULTS.apparent_temp_rest


def test_kalman_first_step_worked_by_hand():
    # From CT0 = 37.1, v0 = 0: v_pred = 0.022² = 0.000484; slope c = 2(−4.5714)(37.1) + 384.4286
    # = 45.23072; expected HR = −4.5714·37.1² + 384.4286·37.1 − 7887.1 = 83.0798 (to 4 d.p.);
    # gain k = 0.000484·45.23072 / (45.23072²·0.000484 + 18.88²) = 6.1057e-5.
    # With HR 150: CT = 37.1 + k·(150 − 83.0798) = 37.10409; v = (1 − k·c)·v_pred = 0.00048266.
    step = heat.core_temp_step(heat.CoreEstimate(37.1, 0.0), 150)
    assert step.celsius == pytest.approx(37.10409, abs=1e-5)
    assert step.variance == pytest.approx(0.00048266, rel=1e-4)


def test_kalman_holds_at_the_heart_rate_the_model_expects():
    estimate = heat.CoreEstimate(37.1, 0.0)
    for _ in range(60):
        estimate = heat.core_temp_step(estimate, 83.0798)
    assert estimate.celsius == pytest.approx(37.1, abs=1e-3)


def test_kalman_rises_under_sustained_high_heart_rate():
    hr = steady(165, 120, every_s=60)
    core = heat.core_temp_estimate(hr)
    assert 38.0 < core < 39.5
    lower = heat.core_temp_estimate(steady(120, 120, every_s=60))
    assert 37.1 < lower < core


@pytest.mark.parametrize(
    ("core", "hr", "core0", "hr0", "psi"),
    [
        (37.0, 70, 37.0, 70, 0.0),
        (39.5, 180, 37.0, 70, 10.0),
        (38.25, 125, 37.0, 70, 5.0),  # halfway on both scales
        (38.0, 120, 37.0, 60, 4.5),  # 5·1/2.5 + 5·60/120 = 2.0 + 2.5
        (36.5, 50, 37.0, 70, 0.0),  # clamped at 0
        (41.0, 200, 37.0, 70, 10.0),  # clamped at 10
    ],
)
def test_physiological_strain_index(core, hr, core0, hr0, psi):
    assert heat.physiological_strain_index(core, hr, core0, hr0) == pytest.approx(psi, abs=0.05)


def strain(hr_value, minutes=8, core=None, age=40, acclimatized=True):
    metrics = {"heart_rate": steady(hr_value, minutes)}
    if core is not None:
        metrics["core_temp"] = steady(core, 5)
    return heat.evaluate_heat_strain(window(**metrics), age, acclimatized, 70, DEFAULTS)


@pytest.mark.parametrize(
    ("hr", "state"),
    [(141, State.ACTIVE), (140, State.HOLD), (131, State.HOLD), (129, State.CLEAR)],
)
def test_sustained_heart_rate_above_180_minus_age(hr, state):
    # age 40: the limit is 140 bpm; clearing needs 10 bpm below it
    result = strain(hr, core=37.2)
    assert result.state is state


def test_brief_heart_rate_spike_is_not_heat_strain():
    samples = series([100] * 20 + [150] * 3)
    result = heat.evaluate_heat_strain(window(heart_rate=samples, core_temp=steady(37.2, 5)), 40, True, 70, DEFAULTS)
    assert result.state is not State.ACTIVE


@pytest.mark.parametrize(
    ("core", "acclimatized", "state"),
    [
        (38.6, True, State.ACTIVE),
        (38.5, True, State.HOLD),
        (38.1, False, State.ACTIVE),
        (38.0, False, State.HOLD),
        (37.6, False, State.CLEAR),
    ],
)
def test_core_temperature_limits_depend_on_acclimatization(core, acclimatized, state):
    result = strain(100, core=core, acclimatized=acclimatized)
    assert result.state is state
    if state is State.ACTIVE:
        assert result.severity is Severity.URGENT
        assert result.evidence["core_temp_source"] == "device"
        assert 0 <= result.evidence["psi"] <= 10


def test_an_estimated_core_temperature_alone_raises_nothing():
    # An hour of ordinary heavy work at HR 120-135 in a warm plant, no device
    # core: the Buller estimate climbs to about 38.3 °C, over the 38.0 °C
    # unacclimatized limit, but it is an estimate of that same heart rate and
    # the heart rate is under 180 - 35 = 145.
    values = [120 + (i * 7) % 16 for i in range(61)]
    climate = {"ambient_temp": steady(30, 15), "ambient_humidity": steady(60, 15)}
    for acclimatized in (None, False, True):
        result = heat.evaluate_heat_strain(
            window(heart_rate=series(values, every_s=60), **climate), 35, acclimatized, 70, DEFAULTS
        )
        assert result.state is not State.ACTIVE
        assert result.evidence["core_temp_source"] == "estimated"
        assert result.evidence["core_temp"] > 38.0
        assert result.evidence["acclimatized"] == {None: "unknown", False: "no", True: "yes"}[acclimatized]


def test_an_estimated_core_temperature_makes_a_heart_rate_finding_urgent_and_says_so():
    result = heat.evaluate_heat_strain(window(heart_rate=steady(170, 150, every_s=60)), 30, None, 70, DEFAULTS)
    assert result.evidence["core_temp_source"] == "estimated"
    assert result.evidence["core_temp"] > 38.0 + heat.ESTIMATE_MARGIN
    assert result.state is State.ACTIVE and result.severity is Severity.URGENT
    assert result.evidence["reasons"] == ["heart_rate", "estimated_core_temp"]
    assert "estimated" in result.message


def test_an_estimate_within_its_margin_leaves_a_heart_rate_finding_a_warning():
    # Age 30, limit 150: 10 minutes at 152 after two hours at 110 bring the
    # estimate to 38.1, within 0.3 of the 38.0 limit.
    hr = series([110] * 120 + [152] * 10, every_s=60)
    result = heat.evaluate_heat_strain(window(heart_rate=hr), 30, False, 70, DEFAULTS)
    assert result.state is State.ACTIVE and result.severity is Severity.WARNING
    assert result.evidence["reasons"] == ["heart_rate"]
    assert result.evidence["core_temp"] <= 38.0 + heat.ESTIMATE_MARGIN
    assert "estimated" not in result.message


def test_psi_starts_at_zero_for_a_resting_worker():
    # Resting at the worker's own resting heart rate: the estimate stays at
    # (or under) the resting core temperature the PSI counts from.
    result = heat.evaluate_heat_strain(window(heart_rate=steady(62, 60, every_s=60)), 40, None, 62, DEFAULTS)
    assert result.evidence["psi"] == 0.0
    assert heat.REST_CORE == heat.KALMAN_CT0


# --- Recovery heart rate -------------------------------------------------------


def effort_then_rest(hr_values, work_minutes=8, rest_minutes=4, every_s=15):
    """Steps every 15 s: working (10 a sample, 40/min), then resting (0)."""
    per_minute = 60 // every_s
    steps = [10] * (work_minutes * per_minute) + [0] * (rest_minutes * per_minute)
    end = NOW
    return window(
        heart_rate=series(hr_values, every_s=every_s, end=end),
        steps=series(steps, every_s=every_s, end=end),
        core_temp=steady(37.3, 5),
    )


def recovery_curve(peak, one_minute, rest_minutes=4, work_minutes=8):
    """Heart rate at ``peak`` through the work, falling to ``one_minute``
    a minute into the rest and on down (samples 15 s apart)."""
    work = [peak] * (work_minutes * 4)
    fall = [peak - (peak - one_minute) * k / 4 for k in range(1, 5)]  # 4 samples to one_minute
    rest = [one_minute - 3 * k for k in range(1, rest_minutes * 4 - 4 + 1)]
    return work + fall + rest


def test_recovery_heart_rate_above_120_after_the_end_of_effort():
    w = effort_then_rest(recovery_curve(160, 132))
    result = heat.evaluate_heat_strain(w, 25, True, 70, DEFAULTS)
    assert result.state is State.ACTIVE
    assert result.evidence["reasons"] == ["recovery_heart_rate"]
    recovery = result.evidence["recovery"]
    assert recovery["peak_heart_rate"] == 160
    assert 125 < recovery["recovery_heart_rate"] < 135
    # the first resting sample, 3 min 45 s ago
    assert recovery["effort_ended"] == (NOW - timedelta(minutes=3, seconds=45)).isoformat()


def test_recovery_below_120_is_not_strain():
    w = effort_then_rest(recovery_curve(160, 110))
    result = heat.evaluate_heat_strain(w, 25, True, 70, DEFAULTS)
    assert result.state is not State.ACTIVE
    assert result.evidence["recovery_heart_rate"] is not None and result.evidence["recovery_heart_rate"] < 120


def test_two_two_sample_spikes_a_minute_apart_raise_nothing():
    # Working steadily at 125 bpm (steps all along), two artefact runs of two
    # samples: 190, then a minute later 176 (the case the issue found raising
    # "recovery HR 174").
    values = [125] * 40
    values[30:32] = [190, 190]
    values[34:36] = [176, 176]
    steps = [10] * 40
    w = window(heart_rate=series(values, every_s=15), steps=series(steps, every_s=15), core_temp=steady(37.3, 5))
    result = heat.evaluate_heat_strain(w, 25, True, 70, DEFAULTS)
    assert result.state is not State.ACTIVE
    assert result.evidence["recovery"] is None


def test_spikes_around_a_real_end_of_effort_are_filtered_out():
    # The same spikes, now just before and one minute into a rest after work
    # at 125: the peak and the recovery are read from plausible samples only.
    values = recovery_curve(125, 105)
    end = 8 * 4
    values[end - 2 : end] = [190, 190]
    values[end + 2 : end + 4] = [176, 176]
    result = heat.evaluate_heat_strain(effort_then_rest(values), 25, True, 70, DEFAULTS)
    assert result.state is not State.ACTIVE
    recovery = result.evidence["recovery"]
    assert recovery["peak_heart_rate"] == 125
    assert recovery["recovery_heart_rate"] < 120
    assert recovery["rejected_samples"] == 4


def test_no_recovery_is_judged_while_still_working():
    # A drop from 160 to 130 while the steps go on is a change of pace, not rest.
    values = recovery_curve(160, 132)
    steps = [10] * len(values)
    w = window(heart_rate=series(values, every_s=15), steps=series(steps, every_s=15))
    assert heat.evaluate_heat_strain(w, 25, True, 70, DEFAULTS).evidence["recovery"] is None


def test_a_stray_pedometer_step_does_not_end_the_rest():
    values = recovery_curve(160, 132)
    steps = [10] * 32 + [0] * 16
    steps[40] = 2  # two counted steps in the second minute of rest: noise
    w = window(heart_rate=series(values, every_s=15), steps=series(steps, every_s=15))
    assert heat.evaluate_heat_strain(w, 25, True, 70, DEFAULTS).state is State.ACTIVE


def test_recovery_is_not_judged_before_three_minutes_of_rest():
    values = recovery_curve(160, 132, rest_minutes=2)
    w = effort_then_rest(values, rest_minutes=2)
    assert heat.evaluate_heat_strain(w, 25, True, 70, DEFAULTS).evidence["recovery"] is None


def hot_day(steps, temp=32.0, humidity=70.0):
    return window(ambient_temp=steady(temp, 10), ambient_humidity=steady(humidity, 10), steps=steps)


def test_two_hours_of_work_at_an_apparent_temperature_of_33_is_overdue_rest():
    result = heat.evaluate_rest(hot_day(steady(30, 125, every_s=60)), DEFAULTS)
    assert result.state is State.ACTIVE and result.severity is Severity.INFO
    assert result.evidence["apparent_temperature"] == pytest.approx(33.3, abs=0.1)
    assert result.evidence["rest_required"] == {"minutes": 20, "every_minutes": 120}
    assert result.evidence["heat_wave_work"] is True


def test_the_rest_rule_reads_the_kma_index_not_the_heat_index():
    # 31 °C / 70 %: heat index 37.6, apparent temperature 32.3: heat-wave
    # work (over 31), but under the 33 °C rest level.
    result = heat.evaluate_rest(hot_day(steady(30, 125, every_s=60), temp=31, humidity=70), DEFAULTS)
    assert result.state is not State.ACTIVE
    assert result.evidence["heat_index"] == pytest.approx(37.6, abs=0.1)
    assert result.evidence["apparent_temperature"] == pytest.approx(32.3, abs=0.1)
    assert result.evidence["heat_wave_work"] is True
    assert result.evidence["rest_required"] is None


def test_at_35_rest_is_due_every_hour():
    # 35 °C / 60 %: apparent temperature 35.5, the heat-wave warning level.
    steps = series([0] * 16 + [30] * 61, every_s=60)
    result = heat.evaluate_rest(hot_day(steps, temp=35, humidity=60), DEFAULTS)
    assert result.state is State.ACTIVE
    assert result.evidence["rest_required"] == {"minutes": 15, "every_minutes": 60}
    shorter = series([0] * 16 + [30] * 55, every_s=60)
    assert heat.evaluate_rest(hot_day(shorter, temp=35, humidity=60), DEFAULTS).state is not State.ACTIVE


def test_a_twenty_minute_break_resets_the_clock():
    steps = series([30] * 60 + [0] * 21 + [30] * 50, every_s=60)
    assert heat.evaluate_rest(hot_day(steps), DEFAULTS).state is not State.ACTIVE
    assert heat.minutes_since_break(steps, NOW, 20) == 49  # the last 50 samples, a minute apart


def test_a_short_break_does_not_count():
    steps = series([30] * 60 + [0] * 10 + [30] * 60, every_s=60)
    assert heat.evaluate_rest(hot_day(steps), DEFAULTS).state is State.ACTIVE


def test_a_cool_plant_needs_no_rest_reminder():
    result = heat.evaluate_rest(hot_day(steady(30, 125, every_s=60), temp=25, humidity=40), DEFAULTS)
    assert result.state is not State.ACTIVE
    assert result.evidence["rest_required"] is None


def test_minutes_since_break_when_resting_now():
    steps = series([30] * 100 + [0] * 25, every_s=60)
    assert heat.minutes_since_break(steps, NOW, 20) == 0.0
    assert heat.minutes_since_break(steps, NOW + timedelta(minutes=1), 20) == 0.0


def test_pedometer_noise_does_not_break_a_break():
    steps = series([30] * 60 + [0] * 8 + [2] + [0] * 12 + [30] * 50, every_s=60)
    assert heat.minutes_since_break(steps, NOW, 20) == 49


def test_a_short_break_in_a_cool_room_holds_the_reminder():
    # Two hours in a 33 °C bay, then 8 minutes in a 24 °C break room, or back
    # at work while the wrist's air sensor still reads the cool room: the
    # reminder neither clears (that is not the rest asked for) nor fires anew.
    steps = series([30] * 125 + [0] * 8, every_s=60)
    assert heat.evaluate_rest(hot_day(steps, temp=24, humidity=50), DEFAULTS).state is State.HOLD
    working = heat.evaluate_rest(hot_day(steady(30, 125, every_s=60), temp=24, humidity=50), DEFAULTS)
    assert working.state is State.HOLD
    rested = series([30] * 100 + [0] * 21, every_s=60)
    assert heat.evaluate_rest(hot_day(rested, temp=24, humidity=50), DEFAULTS).state is State.CLEAR
