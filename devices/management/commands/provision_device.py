from django.core.management.base import BaseCommand, CommandError

from devices.services import ProvisioningError, device_provision
from workers.models import Worker


class Command(BaseCommand):
    help = "Provision a wearable and print its token (the last line of output; it is not stored)."

    def add_arguments(self, parser):
        parser.add_argument("serial")
        parser.add_argument("--worker", metavar="EMPLOYEE_NUMBER", help="assign the device to this worker")
        parser.add_argument("--model", default="", help="device model")

    def handle(self, *args, serial: str, worker: str | None, model: str, **options):
        assigned = None
        if worker:
            assigned = Worker.objects.filter(employee_number=worker).first()
            if assigned is None:
                raise CommandError(f"no worker with employee number {worker!r}")
        try:
            device, token = device_provision(serial=serial, model=model, worker=assigned)
        except ProvisioningError as exc:
            raise CommandError(str(exc)) from None
        target = f" for worker {assigned.employee_number}" if assigned else " (not assigned to a worker)"
        self.stdout.write(f"Provisioned device {device.serial}{target}. Token (shown once):")
        self.stdout.write(token)
