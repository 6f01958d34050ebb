"""What each rule tells people, in English. gettext_noop only marks the
texts for translation (it returns its argument): the rules stay pure, and
whoever shows a message translates it into the reader's language."""

from django.utils.translation import gettext_noop

OFF_BODY = gettext_noop("The wearable seems to be off or loose")
SIGNAL_LOST = gettext_noop("No signal from the wearable")
NO_HEART_RATE = gettext_noop("No heart rate from the wearable: check that it sits snugly")
LOW_BATTERY = gettext_noop("Wearable battery is low: charge it")
SOS = gettext_noop("SOS pressed")
FALL_STILL = gettext_noop("Fall with no movement")
FALL = gettext_noop("Fall detected")
# An SOS or a fall the device delivered late (buffered while offline); the
# alert's evidence has when it happened and when it arrived.
SOS_DELAYED = gettext_noop("SOS pressed earlier, received late: check the time it was pressed")
FALL_DELAYED = gettext_noop("Fall detected earlier, received late: check the time it happened")
FALL_STILL_DELAYED = gettext_noop("Fall with no movement, received late: check the time it happened")
HEAT_STRAIN = gettext_noop("Heat strain: stop work and rest in the shade with water")
HEAT_STRAIN_ESTIMATED = gettext_noop(
    "Heat strain (core temperature estimated from heart rate): stop work and rest in the shade with water"
)
REST_OVERDUE = gettext_noop("Heat index is high: take a 20-minute break in the shade")
HYPOXEMIA_URGENT = gettext_noop("Blood oxygen is very low")
HYPOXEMIA = gettext_noop("Blood oxygen is low")
FEVER = gettext_noop("Fever: see the clinic before going on")
ILLNESS = gettext_noop("Resting heart rate is well above your usual: possible illness")
EARLY_WARNING = gettext_noop("Early-warning score is high at rest: see the clinic")

ALL = [
    OFF_BODY, SIGNAL_LOST, NO_HEART_RATE, LOW_BATTERY, SOS, FALL_STILL, FALL, HEAT_STRAIN,
    HEAT_STRAIN_ESTIMATED, REST_OVERDUE,
    HYPOXEMIA_URGENT, HYPOXEMIA, FEVER, ILLNESS, EARLY_WARNING,
    SOS_DELAYED, FALL_DELAYED, FALL_STILL_DELAYED,
]  # fmt: skip
