"""NEWS2 bands (RCP 2017, chart 1) on each side of every boundary, and the
response thresholds (chart 2)."""

import pytest

from alerts.rules import news2
from alerts.rules.base import Severity, State
from alerts.rules.thresholds import DEFAULTS
from tests.alerts.windows import steady, window


@pytest.mark.parametrize(
    ("rate", "score"),
    [(3, 3), (8, 3), (9, 1), (11, 1), (12, 0), (20, 0), (21, 2), (24, 2), (25, 3), (40, 3)],
)
def test_respiration_bands(rate, score):
    assert news2.score_respiration(rate) == score


@pytest.mark.parametrize(("spo2", "score"), [(85, 3), (91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0)])
def test_spo2_scale_1_bands(spo2, score):
    assert news2.score_spo2_scale1(spo2) == score


@pytest.mark.parametrize(
    ("pulse", "score"),
    [(30, 3), (40, 3), (41, 1), (50, 1), (51, 0), (90, 0), (91, 1), (110, 1), (111, 2), (130, 2), (131, 3)],
)
def test_pulse_bands(pulse, score):
    assert news2.score_pulse(pulse) == score


@pytest.mark.parametrize(
    ("temp", "score"),
    [(34.0, 3), (35.0, 3), (35.1, 1), (36.0, 1), (36.1, 0), (38.0, 0), (38.1, 1), (39.0, 1), (39.1, 2), (41, 2)],
)
def test_temperature_bands(temp, score):
    assert news2.score_temperature(temp) == score


@pytest.mark.parametrize(
    ("scores", "severity"),
    [
        ({"a": 0, "b": 0}, None),
        ({"a": 2, "b": 2}, None),  # aggregate 4, no single 3: low
        ({"a": 3, "b": 0}, Severity.WARNING),  # any single parameter scoring 3
        ({"a": 2, "b": 2, "c": 1}, Severity.URGENT),  # aggregate 5
        ({"a": 3, "b": 3}, Severity.URGENT),  # aggregate 6
        ({"a": 3, "b": 2, "c": 2}, Severity.CRITICAL),  # aggregate 7
        ({"a": 3, "b": 3, "c": 3, "d": 2}, Severity.CRITICAL),
    ],
)
def test_response_thresholds(scores, severity):
    assert news2.response(scores) == severity


def resting(**metrics):
    return window(steps=steady(0, 15, every_s=60), **metrics)


def test_high_score_at_rest_is_critical():
    # pulse 135 (3) + SpO2 90 (3) + resp 26 (3) = 9
    result = news2.evaluate(resting(heart_rate=steady(135, 6), spo2=steady(90, 6), resp_rate=steady(26, 6)), DEFAULTS)
    assert (result.state, result.severity) == (State.ACTIVE, Severity.CRITICAL)
    assert result.evidence["total"] == 9
    assert result.evidence["scores"] == {"heart_rate": 3, "spo2": 3, "resp_rate": 3}


def test_working_worker_is_not_scored():
    working = window(steps=steady(40, 15, every_s=60), heart_rate=steady(135, 6), spo2=steady(97, 6))
    assert news2.evaluate(working, DEFAULTS).state is State.HOLD


def test_normal_values_at_rest_clear():
    result = news2.evaluate(resting(heart_rate=steady(66, 6), spo2=steady(98, 6), resp_rate=steady(14, 6)), DEFAULTS)
    assert result.state is State.CLEAR


def test_score_of_four_holds_rather_than_clears():
    # pulse 115 (2) + SpO2 93 (2) = 4: below every trigger, but not clear by the margin
    result = news2.evaluate(resting(heart_rate=steady(115, 6), spo2=steady(93, 6)), DEFAULTS)
    assert result.state is State.HOLD


@pytest.mark.parametrize(
    # RCP NEWS2 chart 1, SpO2 scale 2, on air (a worker at work breathes air)
    ("spo2", "score"),
    [(83, 3), (84, 2), (85, 2), (86, 1), (87, 1), (88, 0), (92, 0), (93, 0), (99, 0)],
)
def test_spo2_scale_2(spo2, score):
    assert news2.score_spo2_scale2(spo2) == score


def test_a_hypercapnic_worker_at_target_scores_no_spo2_points():
    metrics = {"heart_rate": steady(70, 6), "spo2": steady(89, 6), "resp_rate": steady(16, 6)}
    scale1 = news2.evaluate(resting(**metrics), DEFAULTS)
    assert scale1.state is State.ACTIVE and scale1.evidence["scores"]["spo2"] == 3
    scale2 = news2.evaluate(resting(**metrics), DEFAULTS, scale2=True)
    assert scale2.state is State.CLEAR
    assert scale2.evidence["scores"]["spo2"] == 0 and scale2.evidence["spo2_scale"] == 2
