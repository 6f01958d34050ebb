"""All reading-driven rules over one window, in one call."""

from __future__ import annotations

from alerts.rules import device, events, heat, news2, vitals
from alerts.rules.base import Evaluation, Profile, State, Window
from alerts.rules.thresholds import Thresholds

# Assumed resting heart rate for the PSI when no personal baseline exists yet.
DEFAULT_REST_HR = 70.0

CLINICAL_KINDS = {
    heat.HEAT_STRAIN,
    vitals.HYPOXEMIA,
    news2.KIND,
    vitals.ILLNESS,
}


def _checkin_fever(profile: Profile, thresholds: Thresholds) -> bool:
    return profile.checkin_temperature is not None and profile.checkin_temperature >= thresholds.fever_temperature


def evaluate_window(window: Window, profile: Profile, thresholds: Thresholds) -> list[Evaluation]:
    """Every rule's verdict for this worker now.

    Two rules defer to others: when the device looks off the body the
    physiological rules hold (a removed wearable is a device problem, never a
    clinical alert), and while heat strain is active a core temperature over
    the fever line is hyperthermia, reported once, as heat strain (a
    check-in thermometer fever still counts).
    """
    off_body = device.evaluate_off_body(window, thresholds)
    rest_hr = profile.rest_hr_baseline or DEFAULT_REST_HR
    heat_strain = heat.evaluate_heat_strain(window, profile.age, profile.acclimatized, rest_hr, thresholds)
    clinical = [
        heat_strain,
        vitals.evaluate_hypoxemia(window, thresholds, scale2=profile.spo2_scale2),
        news2.evaluate(window, thresholds, scale2=profile.spo2_scale2),
        vitals.evaluate_illness(window, profile, thresholds),
    ]
    if off_body.state is State.ACTIVE:
        clinical = [Evaluation.hold(e.kind) for e in clinical]
    # A band with its heart-rate sensor off the skin but still on the wrist
    # is a device problem of its own; a band off the wrist is off-body.
    heart_rate_missing = device.evaluate_heart_rate_missing(window, profile.on_shift, thresholds)
    if off_body.state is State.ACTIVE and heart_rate_missing.state is State.ACTIVE:
        heart_rate_missing = Evaluation.hold(heart_rate_missing.kind)
    fever = vitals.evaluate_fever(window, profile, thresholds)
    if fever.state is State.ACTIVE and clinical[0].state is State.ACTIVE and not _checkin_fever(profile, thresholds):
        fever = Evaluation.hold(fever.kind)
    results = [
        events.evaluate_sos(window),
        events.evaluate_fall(window, thresholds),
        off_body,
        heart_rate_missing,
        device.evaluate_battery(window, profile.on_shift, thresholds),
        fever,
        *clinical,
    ]
    if profile.on_shift:
        results.append(heat.evaluate_rest(window, thresholds))
    return results
