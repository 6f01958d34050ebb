"""Who a user is to the platform, in one place.

The worker role is having a ``workers.Worker`` record; the staff roles come
from ``workers.StaffProfile``. Views, APIs and consumers ask these helpers and
never look at the profiles themselves.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from workers.models import Site, StaffProfile, StaffRole, Worker


def staff_profile(user: AbstractBaseUser | AnonymousUser) -> StaffProfile | None:
    if not user.is_authenticated:
        return None
    try:
        return user.staff_profile
    except StaffProfile.DoesNotExist:
        return None


def worker_of(user: AbstractBaseUser | AnonymousUser) -> Worker | None:
    if not user.is_authenticated:
        return None
    try:
        return user.worker
    except Worker.DoesNotExist:
        return None


def has_staff_role(user: AbstractBaseUser | AnonymousUser, role: StaffRole) -> bool:
    profile = staff_profile(user)
    return profile is not None and profile.role == role


def sites_for_role(user: AbstractBaseUser | AnonymousUser, role: StaffRole) -> QuerySet[Site]:
    """The sites where ``user`` holds ``role``; empty for anyone else."""
    profile = staff_profile(user)
    if profile is None or profile.role != role:
        return Site.objects.none()
    return profile.sites.all()


def administered_sites(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Site]:
    """The sites ``user`` administers: every site for a superuser, their own
    for a site administrator, none for anyone else."""
    if user.is_authenticated and user.is_superuser:
        return Site.objects.all()
    return sites_for_role(user, StaffRole.SITE_ADMIN)
