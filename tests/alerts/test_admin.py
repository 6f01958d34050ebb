"""The rota and the chains in the Django admin, as a site administrator
sees them: their own sites and their own clinicians only."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from alerts.models import EscalationStep, OnCall

pytestmark = pytest.mark.django_db


@pytest.fixture
def adam_admin(adam):
    codenames = [f"{action}_{model}" for action in ("add", "change", "view") for model in ("oncall", "escalationstep")]
    adam.user_permissions.add(*Permission.objects.filter(content_type__app_label="alerts", codename__in=codenames))
    client = Client()
    client.force_login(adam)
    return client


def test_a_site_administrator_adds_a_step_to_their_sites_chain(adam_admin, site_a):
    response = adam_admin.post(
        "/admin/alerts/escalationstep/add/",
        {"site": site_a.pk, "severity": "warning", "after_s": 600, "targets": ["primary", "safety_officers"]},
    )
    assert response.status_code == 302
    step = EscalationStep.objects.get()
    assert (step.site, step.severity, step.after_s, step.targets) == (
        site_a,
        "warning",
        600,
        ["primary", "safety_officers"],
    )


def test_no_step_for_another_site_and_no_unknown_target(adam_admin, site_b, site_a):
    assert (
        adam_admin.post(
            "/admin/alerts/escalationstep/add/",
            {"site": site_b.pk, "severity": "warning", "after_s": 0, "targets": ["desk"]},
        ).status_code
        == 200
    )
    assert (
        adam_admin.post(
            "/admin/alerts/escalationstep/add/",
            {"site": site_a.pk, "severity": "warning", "after_s": 0, "targets": ["ceo"]},
        ).status_code
        == 200
    )
    assert not EscalationStep.objects.exists()


def test_the_rota_offers_only_the_sites_clinicians(adam_admin, clara, carl, site_a):
    page = adam_admin.get("/admin/alerts/oncall/add/").content.decode()
    assert f'value="{clara.pk}"' in page and f'value="{carl.pk}"' not in page
    response = adam_admin.post(
        "/admin/alerts/oncall/add/",
        {"site": site_a.pk, "shift": "night", "starts_at_0": "2026-11-24", "starts_at_1": "20:00:00",
         "ends_at_0": "2026-11-25", "ends_at_1": "08:00:00", "primary": clara.pk},
    )  # fmt: skip
    assert response.status_code == 302
    assert OnCall.objects.get().primary == clara
