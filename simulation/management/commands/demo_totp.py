"""``manage.py demo_totp USERNAME``: the current authenticator-app code of a
demo staff login, so that a person trying the demo can pass the second factor
without a phone.

Demo only: it answers only for the demo logins of ``seed_demo`` whose app
still has the fixed demo secret, never for a real account.
"""

from __future__ import annotations

import time
from typing import Any

from allauth.mfa import app_settings as mfa_settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.policy import authenticator_app_secret, totp_code
from simulation.management.commands.seed_demo import DEMO_TOTP_SECRETS


class Command(BaseCommand):
    help = "Print the current authenticator-app code of a demo staff login (clinician, hr, siteadmin). Demo only."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", choices=sorted(DEMO_TOTP_SECRETS), help="a demo staff login")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None or authenticator_app_secret(user) != DEMO_TOTP_SECRETS[username]:
            raise CommandError(f"{username} is not a seeded demo login with the demo secret: run seed_demo first.")
        now = time.time()
        self.stdout.write(totp_code(DEMO_TOTP_SECRETS[username], now))
        left = mfa_settings.TOTP_PERIOD - int(now) % mfa_settings.TOTP_PERIOD
        self.stderr.write(f"(demo only) valid for {left} more seconds; each code works once.")
