from datetime import datetime
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand

from simulation.replay import (
    WARNING_OR_WORSE,
    FalseAlertReport,
    measure_detection,
    measure_normal_shifts,
    measure_sensitivity,
)


class Command(BaseCommand):
    help = (
        "Replay normal simulated day shifts (the normal population, with the wearable artefact model) "
        "through the risk engine and report the false alerts per worker-shift; with --sensitivity, the "
        "same with each artefact parameter doubled in turn; with --detection, the delay from onset to "
        "alert of each true scenario."
    )

    def add_arguments(self, parser):
        parser.add_argument("--shifts", type=int, default=500, help="normal worker-shifts to replay")
        parser.add_argument("--day", default="2026-07-29", help="a weekday (YYYY-MM-DD); July is the heat season")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--sensitivity", type=int, default=0, metavar="SHIFTS", help="shifts per doubled parameter")
        parser.add_argument("--detection", type=int, default=0, metavar="RUNS", help="runs per true scenario")
        parser.add_argument("--by-stratum", action="store_true", help="false warnings per stratum of the population")

    def handle(self, *args, shifts: int, day: str, seed: int, sensitivity: int, detection: int, **options):
        when = datetime.fromisoformat(day).replace(hour=12, tzinfo=ZoneInfo("Asia/Seoul"))
        if shifts:
            report = measure_normal_shifts(shifts, when, seed=seed)
            self._report(report, by_stratum=options["by_stratum"])
        if sensitivity:
            self.stdout.write(f"\nsensitivity ({sensitivity} worker-shifts per row): false warnings per worker-shift")
            self.stdout.write(f"{'parameter doubled':<24} {'value':>8} {'warnings/shift':>15} {'info/shift':>11}")
            for name, value, row in measure_sensitivity(sensitivity, when, seed=seed):
                self.stdout.write(
                    f"{name:<24} {value:>8g} {row.per_worker_shift(WARNING_OR_WORSE):>15.3f} "
                    f"{row.per_worker_shift(('info',)):>11.3f}  {dict(_warnings(row))}"
                )
        if detection:
            self.stdout.write(f"\ndetection ({detection} workers per scenario): minutes from onset to alert")
            self.stdout.write(f"{'scenario':<32} {'detected':>9} {'median':>7} {'worst':>7}")
            for row in measure_detection(detection, when, seed=seed):
                median = f"{row.median:.1f}" if row.median is not None else "-"
                worst = f"{row.worst:.1f}" if row.worst is not None else "-"
                self.stdout.write(f"{row.name:<32} {row.detected:>4}/{row.runs:<4} {median:>7} {worst:>7}")

    def _report(self, report: FalseAlertReport, *, by_stratum: bool) -> None:
        self.stdout.write(f"worker-shifts: {report.worker_shifts}")
        for (kind, severity), count in sorted(report.opened.items()):
            self.stdout.write(f"  {kind} ({severity}): {count}")
        warnings = report.per_worker_shift(WARNING_OR_WORSE)
        self.stdout.write(f"false warnings (warning or worse) per worker-shift: {warnings:.4f}")
        self.stdout.write(f"info alerts per worker-shift: {report.per_worker_shift(('info',)):.3f}")
        if by_stratum:
            for stratum, shifts in sorted(report.shifts_by_stratum.items()):
                self.stdout.write(f"  {stratum}: {report.by_stratum[stratum]}/{shifts}")


def _warnings(report: FalseAlertReport):
    return sorted((kind, n) for (kind, severity), n in report.opened.items() if severity in WARNING_OR_WORSE)
