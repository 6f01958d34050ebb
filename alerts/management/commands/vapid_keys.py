"""Print a new VAPID key pair for Web Push, as environment lines."""

from django.core.management.base import BaseCommand

from alerts.notify.push import vapid_keys_generate


class Command(BaseCommand):
    help = "Generate a VAPID key pair for Web Push (set both in the environment of web and worker processes)."

    def handle(self, *args, **options) -> None:
        private, public = vapid_keys_generate()
        self.stdout.write(f"VAPID_PRIVATE_KEY={private}\nVAPID_PUBLIC_KEY={public}\n")
