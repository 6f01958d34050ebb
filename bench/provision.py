"""Provision the bench's devices, each worn by its own worker.

Run as ``python -m bench.provision --count N --out FILE`` with DATABASE_URL
naming the (freshly migrated) bench database. The first device goes through
``devices.services.device_provision``, the service an administrator uses; the
thousands after it are bulk-created the same way (a token from
``devices.tokens``, only its hash stored), which takes seconds instead of
minutes. The tokens are written to FILE for the load generator.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def provision(count: int) -> list[dict]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healthhub.settings")
    django.setup()

    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from devices.models import Device
    from devices.services import device_provision
    from devices.tokens import token_hash, token_new
    from workers.models import Department, Site, Worker

    user_model = get_user_model()
    with transaction.atomic():
        site = Site.objects.create(code="bench", name="Bench plant")
        department = Department.objects.create(site=site, name="Bench line")
        users = user_model.objects.bulk_create(
            [user_model(username=f"bench{i:05d}", password="!") for i in range(count)], batch_size=1000
        )
        workers = Worker.objects.bulk_create(
            [
                Worker(user=user, employee_number=f"B{i:05d}", site=site, department=department, birth_year=1985)
                for i, user in enumerate(users)
            ],
            batch_size=1000,
        )
        first, first_token = device_provision(serial="BENCH-00000", model="bench", worker=workers[0])
        now = timezone.now()
        tokens = [first_token, *(token_new() for _ in range(count - 1))]
        rest = Device.objects.bulk_create(
            [
                Device(
                    serial=f"BENCH-{i:05d}",
                    model="bench",
                    worker=workers[i],
                    token_hash=token_hash(tokens[i]),
                    token_issued_at=now,
                )
                for i in range(1, count)
            ],
            batch_size=1000,
        )
    devices = [first, *rest]
    _grant_consent(workers, now)
    return [{"id": d.pk, "serial": d.serial, "token": t} for d, t in zip(devices, tokens, strict=True)]


def _grant_consent(workers: list, now: object) -> None:
    """Every bench worker consents to monitoring (a device whose worker has
    not is refused with 4403): the first through the service, the rest in
    bulk with the same text version and decision."""
    try:
        from workers.models import Consent, ConsentDecision
        from workers.services import consent_grant, consent_text_ensure
    except ImportError:  # a tree from before consent was recorded
        return
    text = consent_text_ensure()
    consent_grant(worker=workers[0], text=text, now=now)
    Consent.objects.bulk_create(
        [Consent(worker=w, text=text, decision=ConsentDecision.GRANTED, at=now) for w in workers[1:]],
        batch_size=1000,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    devices = provision(args.count)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(devices))
    os.chmod(args.out, 0o600)
    print(f"provisioned {len(devices)} devices", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
