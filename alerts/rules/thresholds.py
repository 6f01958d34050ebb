"""Rule thresholds: defaults with their sources, overridable per site by an
administrator (alerts.models.SiteThresholds)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Thresholds:
    # Heat strain: ACGIH TLV for heat stress, physiological monitoring guidance.
    heat_hr_minutes: int = 5  # "sustained (several minutes) heart rate above 180 - age"
    heat_core_acclimatized: float = 38.5  # °C, medically selected and acclimatized workers
    heat_core_unacclimatized: float = 38.0  # °C, unacclimatized workers
    heat_recovery_hr: float = 120.0  # bpm, one minute after peak work effort
    heat_clear_margin_hr: float = 10.0  # bpm below the limit before heat strain clears
    heat_clear_margin_core: float = 0.3  # °C below the limit before heat strain clears
    heat_index_caution: float = 27.0  # °C (80 °F, NWS "caution"): below it a high core temperature is fever
    # Hypoxemia: sustained low SpO2; single samples never alert.
    spo2_warning: float = 91.0
    spo2_urgent: float = 88.0
    spo2_minutes: int = 3
    spo2_clear_margin: float = 2.0
    # NEWS2 (Royal College of Physicians 2017): only at rest.
    rest_minutes: int = 10  # no steps for this long counts as at rest
    news2_minutes: int = 5  # values are the median of this window
    # Personal baseline (Mishra et al. 2020): resting HR well above the 14-day baseline.
    illness_minutes: int = 120
    illness_min_excess: float = 10.0  # bpm above baseline, at least ...
    illness_spread_factor: float = 3.0  # ... and at least this many robust SDs
    illness_clear_margin: float = 5.0
    fever_temperature: float = 37.5  # °C, core_temp or check-in thermometer
    fever_clear_margin: float = 0.3
    # Rest in a heat wave, at the KMA apparent temperature (체감온도): heat-wave
    # work from 31 °C; 20 minutes every 2 hours from 33 °C (Occupational
    # Safety and Health Standards Rules, 2025 amendment); 15 minutes every
    # hour from 35 °C (KOSHA heat guidance at the heat-wave warning level).
    apparent_temp_heat_work: float = 31.0
    apparent_temp_rest: float = 33.0
    rest_break_minutes: int = 20
    rest_every_minutes: int = 120
    apparent_temp_rest_more: float = 35.0
    rest_more_break_minutes: int = 15
    rest_more_every_minutes: int = 60
    # Falls.
    fall_still_seconds: int = 60  # no movement this long after a fall (settling time included)
    # Devices.
    # Bluetooth dropouts of 1-5 minutes are normal (the device re-sends what it
    # missed after reconnecting): silence beyond them is a lost signal.
    signal_lost_minutes: int = 10
    low_battery: float = 15.0
    off_body_minutes: int = 5
    no_heart_rate_minutes: int = 5  # no heart rate while other body metrics arrive

    def with_overrides(self, overrides: dict[str, Any]) -> Thresholds:
        """A copy with ``overrides`` applied; ValueError for an unknown name or
        a value of the wrong type, so a bad site setting is refused, not ignored."""
        known = {f.name: f for f in fields(self)}
        clean: dict[str, Any] = {}
        for name, value in overrides.items():
            if name not in known:
                raise ValueError(f"unknown threshold {name!r}")
            default = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"threshold {name!r} must be a number")
            if value < 0:
                raise ValueError(f"threshold {name!r} must not be negative")
            clean[name] = int(value) if isinstance(default, int) else float(value)
        return replace(self, **clean)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


DEFAULTS = Thresholds()
