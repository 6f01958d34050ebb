from datetime import datetime
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand

from simulation.replay import measure_normal_shifts


class Command(BaseCommand):
    help = (
        "Replay normal simulated day shifts (with wearable artefacts) through the risk engine and "
        "report the false alerts per worker-shift."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=int, default=200)
        parser.add_argument("--day", default="2026-07-29", help="a weekday (YYYY-MM-DD); July is the heat season")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, workers: int, day: str, seed: int, **options):
        when = datetime.fromisoformat(day).replace(hour=12, tzinfo=ZoneInfo("Asia/Seoul"))
        report = measure_normal_shifts(workers, when, seed=seed)
        warnings = report.per_worker_shift(("warning", "urgent", "critical"))
        infos = report.per_worker_shift(("info",))
        self.stdout.write(f"worker-shifts: {report.worker_shifts}")
        for (kind, severity), count in sorted(report.opened.items()):
            self.stdout.write(f"  {kind} ({severity}): {count}")
        self.stdout.write(f"false warnings (warning or worse) per worker-shift: {warnings:.3f}")
        self.stdout.write(f"info alerts per worker-shift: {infos:.3f}")
