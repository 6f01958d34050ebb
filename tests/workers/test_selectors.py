"""Who may see whose health data (workers.selectors), and the role helpers it
is built on (workers.roles)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404

from tests.factories import UserFactory, WorkerFactory, staff
from workers.models import AccessLog, StaffRole
from workers.roles import has_staff_role, sites_for_role, staff_profile, worker_of
from workers.selectors import worker_health_for, workers_health_visible_to

pytestmark = pytest.mark.django_db


@pytest.fixture
def cast(alice, bob, charlie, clara, carl, hana, adam, site_a, site_b):
    """Everyone, by name, plus a few who are not in the healthchecks cast but
    whose place in the rule is worth pinning down."""
    people = {
        "alice": alice.user,
        "bob": bob.user,
        "charlie": charlie.user,
        "clara": clara,
        "carl": carl,
        "hana": hana,
        "adam": adam,
        "anonymous": AnonymousUser(),
        "root": UserFactory(username="root", is_superuser=True, is_staff=True),
        # a clinician covering both plants
        "cleo": staff("cleo", "clinician", site_a, site_b),
        # a clinician with no site yet
        "cody": staff("cody", "clinician"),
        # HR covering both plants
        "hugo": staff("hugo", "hr", site_a, site_b),
    }
    # A clinician is never also a monitored worker (a worker's sign-in is
    # never a staff account: tests/workers/test_enrolment.py), so a clinician
    # who works at plant A is monitored under a sign-in of their own.
    people["dana"] = staff("dana", "clinician", site_b)
    people["dana-worker"] = WorkerFactory(user__username="dana-worker", department=alice.department).user
    return people


VISIBLE = [
    # viewer, whose health data they see
    ("alice", {"alice"}),
    ("bob", {"bob"}),
    ("charlie", {"charlie"}),
    ("clara", {"alice", "bob", "dana-worker"}),
    ("carl", {"charlie"}),
    ("hana", set()),
    ("adam", set()),
    ("anonymous", set()),
    ("root", set()),
    ("cleo", {"alice", "bob", "charlie", "dana-worker"}),
    ("cody", set()),
    ("hugo", set()),
    ("dana", {"charlie"}),
    ("dana-worker", {"dana-worker"}),
]


@pytest.mark.parametrize(("viewer", "expected"), VISIBLE)
def test_workers_health_visible_to(cast, viewer, expected):
    visible = workers_health_visible_to(cast[viewer])
    assert {w.user.username for w in visible} == expected
    assert visible.count() == len(expected)  # no duplicates from the joins


@pytest.mark.parametrize(("viewer", "expected"), VISIBLE)
def test_worker_health_for_opens_exactly_the_visible_workers(cast, viewer, expected):
    for name in ("alice", "bob", "charlie", "dana-worker"):
        worker = cast[name].worker
        if name in expected:
            assert worker_health_for(cast[viewer], worker.pk, what="test") == worker
        else:
            with pytest.raises(Http404):
                worker_health_for(cast[viewer], worker.pk, what="test")


def test_a_clinicians_read_is_logged_and_a_workers_own_read_is_not(alice, clara):
    worker_health_for(alice.user, alice.pk, what="readings")
    assert not AccessLog.objects.exists()
    worker_health_for(clara, alice.pk, what="readings", reason="triage")
    entry = AccessLog.objects.get()
    assert (entry.accessor, entry.worker, entry.what, entry.reason) == (clara, alice, "readings", "triage")


def test_a_refused_read_is_not_logged(alice, bob, hana):
    for user in (bob.user, hana):
        with pytest.raises(Http404):
            worker_health_for(user, alice.pk, what="readings")
    assert not AccessLog.objects.exists()


def test_an_unknown_worker_is_404(clara):
    with pytest.raises(Http404):
        worker_health_for(clara, 999_999, what="readings")


def test_moving_a_worker_to_another_site_moves_who_sees_them(alice, clara, carl, site_b):
    alice.site = site_b
    alice.save()
    assert not workers_health_visible_to(clara).filter(pk=alice.pk).exists()
    assert workers_health_visible_to(carl).filter(pk=alice.pk).exists()


# --- workers.roles -------------------------------------------------------------


def test_staff_profile_is_the_users_profile_or_none(alice, clara):
    assert staff_profile(clara).role == StaffRole.CLINICIAN
    assert staff_profile(alice.user) is None
    assert staff_profile(AnonymousUser()) is None


def test_worker_of_is_the_users_worker_record_or_none(alice, clara):
    assert worker_of(alice.user) == alice
    assert worker_of(clara) is None
    assert worker_of(AnonymousUser()) is None


@pytest.mark.parametrize(
    ("who", "role", "expected"),
    [
        ("clara", StaffRole.CLINICIAN, True),
        ("clara", StaffRole.HR, False),
        ("clara", StaffRole.SITE_ADMIN, False),
        ("hana", StaffRole.HR, True),
        ("hana", StaffRole.CLINICIAN, False),
        ("adam", StaffRole.SITE_ADMIN, True),
        ("adam", StaffRole.CLINICIAN, False),
        ("alice", StaffRole.CLINICIAN, False),
    ],
)
def test_has_staff_role(request, who, role, expected):
    user = request.getfixturevalue(who)
    assert has_staff_role(getattr(user, "user", user), role) is expected


def test_has_staff_role_is_false_for_anonymous(db):
    assert not has_staff_role(AnonymousUser(), StaffRole.CLINICIAN)


def test_sites_for_role_are_the_sites_of_that_role_only(alice, clara, carl, hana, adam, site_a, site_b):
    assert list(sites_for_role(clara, StaffRole.CLINICIAN)) == [site_a]
    assert list(sites_for_role(carl, StaffRole.CLINICIAN)) == [site_b]
    assert list(sites_for_role(adam, StaffRole.SITE_ADMIN)) == [site_a]
    # holding one role on a site gives none of the others there
    assert not sites_for_role(hana, StaffRole.CLINICIAN).exists()
    assert not sites_for_role(adam, StaffRole.CLINICIAN).exists()
    assert not sites_for_role(clara, StaffRole.SITE_ADMIN).exists()
    assert not sites_for_role(alice.user, StaffRole.CLINICIAN).exists()
    assert not sites_for_role(AnonymousUser(), StaffRole.CLINICIAN).exists()


@pytest.mark.parametrize(
    ("pattern", "local", "on"),
    [
        ("day", "2026-11-25T07:59", False),  # a Wednesday
        ("day", "2026-11-25T08:00", True),
        ("day", "2026-11-25T16:59", True),
        ("day", "2026-11-25T17:00", False),
        ("day", "2026-11-28T10:00", False),  # Saturday
        ("night", "2026-11-25T19:59", False),
        ("night", "2026-11-25T23:00", True),
        ("night", "2026-11-26T04:59", True),
        ("night", "2026-11-26T05:00", False),
        ("three_shift", "2026-11-25T10:00", False),  # a rotation needs a schedule
    ],
)
def test_on_shift_by_pattern_without_a_schedule(alice, pattern, local, on):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from workers.selectors import worker_on_shift

    alice.shift_pattern = pattern
    at = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo("Asia/Seoul"))
    assert worker_on_shift(alice, at) is on


def test_a_schedule_overrides_the_pattern(alice):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from workers.models import Shift
    from workers.selectors import worker_on_shift

    start = datetime(2026, 11, 28, 9, 0, tzinfo=ZoneInfo("Asia/Seoul"))  # a Saturday overtime shift
    Shift.objects.create(worker=alice, starts_at=start, ends_at=start + timedelta(hours=4))
    assert worker_on_shift(alice, start + timedelta(hours=1)) is True
    assert worker_on_shift(alice, start + timedelta(hours=5)) is False
    # and on the Wednesday, with no shift scheduled that day, the day pattern applies again
    assert worker_on_shift(alice, datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Seoul"))) is True
