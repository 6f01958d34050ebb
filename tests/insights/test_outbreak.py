"""EARS C2 against hand-worked values, a synthetic series with an injected
cluster (found within 2 days) and clean series (no signal in 90 days)."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from insights.outbreak import ears_c2, poisson_critical_count

START = date(2026, 6, 1)


def days(n):
    return [START + timedelta(days=i) for i in range(n)]


def test_worked_example():
    # baseline (days 0-6): 1 2 1 0 2 1 0 -> mean 1.0, sample sd 0.8165; guard days 7-8
    counts = [1, 2, 1, 0, 2, 1, 0, 1, 1, 6]
    day9 = ears_c2(days(10), counts)[9]
    assert day9.expected == 1.0
    assert day9.c2 == pytest.approx((6 - 1.0) / 0.8165, abs=0.01)  # 6.12 > 3
    assert day9.signal  # and 6 >= 6, the Poisson critical count at a mean of 1.0
    # 5 cases: C2 = 4.90 > 3, but P(X >= 5 | 1.0) = 0.0037 is not improbable enough
    assert not ears_c2(days(10), [*counts[:9], 5])[9].signal


def test_no_verdict_before_nine_days_of_history():
    assert all(r.c2 is None and not r.signal for r in ears_c2(days(9), [9] * 9))


def test_a_couple_of_cases_on_a_quiet_baseline_are_not_a_cluster():
    # C2 = 3 / 0.5 = 6 > 3, but 3 cases are not improbable at a floored mean of 0.5 a day
    assert not ears_c2(days(10), [0] * 9 + [3])[9].signal
    # 5 cases are (P(X >= 5 | 0.5) = 0.00017)
    assert ears_c2(days(10), [0] * 9 + [5])[9].signal


@pytest.mark.parametrize(("mean", "critical"), [(0.5, 5), (0.8, 6), (2.0, 9), (5.0, 14)])
def test_poisson_critical_count(mean, critical):
    # P(X >= critical) < 0.001 <= P(X >= critical - 1), from the Poisson tail
    assert poisson_critical_count(mean) == critical


def poisson(rng, lam):
    # Knuth's method; small lambda
    limit, k, p = pow(2.718281828459045, -lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


BACKGROUND = 0.8  # fever cases a day in a department of a few hundred workers
CLUSTER = [3, 6, 9, 9, 6]  # extra cases a day from the onset


@pytest.mark.parametrize("seed", range(20))
def test_an_injected_cluster_is_detected_within_two_days(seed):
    rng = random.Random(seed)
    counts = [poisson(rng, BACKGROUND) for _ in range(60)]
    onset = 45
    for i, extra in enumerate(CLUSTER):
        counts[onset + i] += extra
    results = ears_c2(days(60), counts)
    first = next(r for r in results[onset:] if r.signal)
    assert (first.day - results[onset].day).days <= 2


def test_a_clean_series_raises_no_signal_in_90_days():
    rng = random.Random(2026)
    counts = [poisson(rng, BACKGROUND) for _ in range(90)]
    assert [r.day for r in ears_c2(days(90), counts) if r.signal] == []


def test_false_signals_stay_under_one_in_a_thousand_days():
    # 300 clean 90-day series: the measured rate is about 0.0007 a day at this background
    signals = checked = 0
    for seed in range(300):
        rng = random.Random(10_000 + seed)
        results = ears_c2(days(90), [poisson(rng, BACKGROUND) for _ in range(90)])
        signals += sum(r.signal for r in results)
        checked += sum(r.c2 is not None for r in results)
    assert signals / checked < 0.001
