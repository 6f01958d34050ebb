import pytest
from django.core.management import call_command

from insights.models import ClusterSignal
from tests.factories import DepartmentFactory, SiteFactory, WorkerFactory
from workers.models import CheckIn, Shift

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_site():
    site = SiteFactory(code="gumi-1", name="Gumi 1")
    big = DepartmentFactory(site=site, name="Assembly")
    small = DepartmentFactory(site=site, name="Paint")
    for _ in range(12):
        WorkerFactory(department=big, shift_pattern="day")
    for _ in range(6):
        WorkerFactory(department=small, shift_pattern="night")
    return site


def test_history_fills_weeks_and_an_injected_outbreak_signals(demo_site, capsys):
    call_command("seed_history", "--weeks", "3", "--outbreak")
    assert Shift.objects.count() > 100 and CheckIn.objects.count() > 80
    signal = ClusterSignal.objects.get(site=demo_site, department__name="Assembly", kind="fever")
    assert signal.count == 6
    assert "Cluster signals" in capsys.readouterr().out
    # idempotent: the same history again, no duplicates
    shifts = Shift.objects.count()
    call_command("seed_history", "--weeks", "3", "--outbreak")
    assert Shift.objects.count() == shifts


def test_without_outbreak_no_fever_signal_today(demo_site):
    call_command("seed_history", "--weeks", "3")
    assert not ClusterSignal.objects.filter(kind="fever", department__name="Assembly").exists()
