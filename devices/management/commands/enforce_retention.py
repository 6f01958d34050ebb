from django.core.management.base import BaseCommand

from devices.retention import readings_enforce_retention


class Command(BaseCommand):
    help = "Roll up raw readings past the retention period into per-minute summaries and delete them."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument("--max-seconds", type=float, default=None)

    def handle(self, *args, batch_size, max_seconds, **options):
        report = readings_enforce_retention(batch_size=batch_size, max_seconds=max_seconds)
        times = sorted(report.batch_seconds)
        median = times[len(times) // 2] if times else 0.0
        self.stdout.write(
            f"readings removed: {report.readings_removed} in {report.batches} batches "
            f"(median {median * 1000:.0f} ms, slowest {report.slowest_batch * 1000:.0f} ms per batch); "
            f"minute summaries written: {report.minutes_written}; expired summaries removed: {report.summaries_removed}"
        )
