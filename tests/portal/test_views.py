"""The worker portal's pages (/me/): only the worker themself; everyone else
is sent away and sees nothing of anyone's health data."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from alerts.rules.base import Evaluation, Severity
from alerts.services import alert_annotate, alert_apply
from devices.models import Reading
from workers.models import AccessLog, CheckIn
from workers.services import access_log_record, consent_withdraw

PAGES = ["portal:today", "portal:checkin", "portal:privacy", "portal:data"]


def reading(device, metric: str, value: float, minutes_ago: float = 0) -> Reading:
    at = timezone.now() - timedelta(minutes=minutes_ago)
    return Reading.objects.create(
        device=device, worker=device.worker, metric=metric, value=value, measured_at=at, received_at=at
    )


@pytest.fixture
def alice_vitals(alice_device):
    device, _ = alice_device
    reading(device, "heart_rate", 87, minutes_ago=1)
    reading(device, "spo2", 97, minutes_ago=1)
    reading(device, "steps", 40, minutes_ago=2)
    reading(device, "steps", 25, minutes_ago=1)
    return device


@pytest.fixture
def alice_heat_alert(alice):
    return alert_apply(
        worker_id=alice.pk,
        evaluation=Evaluation.active(
            "heat_strain", Severity.URGENT, "Heat strain: stop work and rest in the shade with water"
        ),
        now=timezone.now(),
    )


# --- who gets in ---------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_portal_pages_open_for_the_worker(client, alice, page):
    client.force_login(alice.user)
    assert client.get(reverse(page)).status_code == 200


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("who", ["clara", "hana", "adam"])
def test_users_without_a_worker_record_are_sent_home(client, alice, clara, hana, adam, page, who):
    client.force_login({"clara": clara, "hana": hana, "adam": adam}[who])
    response = client.get(reverse(page))
    assert response.status_code == 302
    assert response["Location"] == reverse("desk:home")


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_is_sent_to_login(client, db, page):
    response = client.get(reverse(page))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_worker_is_sent_from_home_to_the_portal(client, alice):
    client.force_login(alice.user)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:today")


def test_hr_home_is_the_insights_not_the_portal(client, hana):
    client.force_login(hana)
    assert client.get("/")["Location"] == "/insights/"


def test_a_colleague_sees_only_their_own_today(client, alice_vitals, alice_heat_alert, bob):
    client.force_login(bob.user)
    page = client.get(reverse("portal:today"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    # alice's heart rate as a value of its own (not inside a longer number,
    # a hash or a time)
    assert not re.search(r"(?<![\w.#:/-])87(?![\w.])", page)
    assert f'data-id="{alice_heat_alert.pk}"' not in page
    assert "All normal" in page


def test_the_portal_writes_no_access_log_for_ones_own_data(client, alice_vitals, alice_heat_alert, alice):
    client.force_login(alice.user)
    for page in PAGES:
        client.get(reverse(page))
    assert AccessLog.objects.count() == 0


# --- Today -------------------------------------------------------------------


def test_today_shows_vitals_steps_and_all_normal(client, alice_vitals, alice):
    client.force_login(alice.user)
    page = client.get(reverse("portal:today"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "All normal" in page
    assert 'data-metric="heart_rate"' in page and ">87<" in page
    assert 'data-total="65"' in page  # steps today: 40 + 25
    assert "tone-ok" in page


def test_today_speaks_plain_words_and_advice_from_open_alerts(client, alice_heat_alert, alice):
    client.force_login(alice.user)
    page = client.get(reverse("portal:today"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Stop work and rest in the shade with water" in page  # the status
    assert "Heat strain: stop work and rest in the shade with water" in page  # the alert's advice
    assert "tone-danger" in page
    assert f'data-id="{alice_heat_alert.pk}"' in page


def test_today_in_korean_translates_the_alert_advice(client, alice_heat_alert, alice):
    client.force_login(alice.user)
    page = client.get(reverse("portal:today"), HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "온열 부담: 작업을 멈추고 그늘에서 물을 마시며 쉬세요" in page  # in locale/ko django.po


def test_today_gives_the_script_its_live_sources(client, alice):
    client.force_login(alice.user)
    page = client.get(reverse("portal:today")).content.decode()
    assert f"/api/v1/workers/{alice.pk}/readings/" in page
    assert "/ws/alerts/" in page
    assert "portal_today.js" in page and "portal_shell.js" in page
    assert reverse("portal:manifest") in page


def test_today_without_consent_says_monitoring_is_off(client, alice, alice_heat_alert):
    consent_withdraw(worker=alice)
    client.force_login(alice.user)
    page = client.get(reverse("portal:today"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Monitoring is off" in page
    assert "tone-off" in page
    assert '"poll": false' in page


def test_today_links_the_workers_consultations(client, alice):
    client.force_login(alice.user)
    page = client.get(reverse("portal:today")).content.decode()
    assert f'href="{reverse("consultations:list")}"' in page


# --- Check-in ----------------------------------------------------------------


def test_checkin_form_offers_the_six_symptoms_as_tap_targets(client, alice):
    client.force_login(alice.user)
    page = client.get(reverse("portal:checkin"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert page.count('class="tap"') == 6
    for name in CheckIn.SYMPTOMS:
        assert f'value="{name}"' in page
    assert 'name="temperature"' in page


def test_checkin_post_saves_confirms_and_shows_todays_checkin(client, alice):
    client.force_login(alice.user)
    response = client.post(
        reverse("portal:checkin"), {"temperature": "36.6", "symptoms": ["cough", "fatigue"]}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 302 and response["Location"] == reverse("portal:checkin")
    checkin = CheckIn.objects.get(worker=alice)
    assert checkin.temperature == 36.6 and checkin.symptoms == ["cough", "fatigue"]
    page = client.get(reverse("portal:checkin"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "check-in is saved" in page
    assert 'id="todays-checkin"' in page and "36.6 °C" in page and "Cough, fatigue" in page
    assert "Please see the clinic before starting work." in page  # symptoms


def test_checkin_again_the_same_day_replaces_it(client, alice):
    client.force_login(alice.user)
    client.post(reverse("portal:checkin"), {"temperature": "38.2", "symptoms": ["fever"]})
    client.post(reverse("portal:checkin"), {"temperature": "", "symptoms": []})
    checkin = CheckIn.objects.get(worker=alice)
    assert checkin.temperature is None and checkin.symptoms == []


def test_checkin_with_no_symptoms_is_one_tap(client, alice):
    client.force_login(alice.user)
    assert client.post(reverse("portal:checkin"), {}).status_code == 302
    assert CheckIn.objects.get(worker=alice).symptoms == []


@pytest.mark.parametrize(("temperature", "symptom"), [("51", "cough"), ("abc", "cough"), ("36.5", "headache")])
def test_checkin_with_bad_input_is_refused_with_the_form(client, alice, temperature, symptom):
    client.force_login(alice.user)
    response = client.post(reverse("portal:checkin"), {"temperature": temperature, "symptoms": [symptom]})
    assert response.status_code == 200
    assert CheckIn.objects.count() == 0


def test_checkin_is_prefilled_with_todays_answers(client, alice):
    client.force_login(alice.user)
    client.post(reverse("portal:checkin"), {"temperature": "37.9", "symptoms": ["sore_throat"]})
    page = client.get(reverse("portal:checkin")).content.decode()
    assert 'value="37.9"' in page
    assert 'value="sore_throat" id="id_symptoms_2" checked' in page


def test_checkin_without_consent_is_not_kept(client, alice):
    consent_withdraw(worker=alice)
    client.force_login(alice.user)
    response = client.post(reverse("portal:checkin"), {"temperature": "36.5"})
    assert response.status_code == 403
    assert CheckIn.objects.count() == 0


@pytest.mark.parametrize("who", ["hana", "clara"])
def test_checkin_post_by_staff_stores_nothing(client, alice, hana, clara, who):
    client.force_login({"hana": hana, "clara": clara}[who])
    response = client.post(reverse("portal:checkin"), {"temperature": "36.5"})
    assert response.status_code == 302
    assert CheckIn.objects.count() == 0


# --- Privacy -----------------------------------------------------------------


def test_privacy_lists_who_viewed_my_data_with_role_what_and_reason(client, alice, clara):
    access_log_record(accessor=clara, worker=alice, what="readings", reason="heat alert follow-up")
    client.force_login(alice.user)
    page = client.get(reverse("portal:privacy"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    log = page[page.index('id="access-log"') :]
    assert "your readings" in log
    assert "heat alert follow-up" in log
    assert "Clinician" in log
    from workers.names import person_name

    assert person_name(clara) in log


def test_privacy_shows_only_my_own_access_log(client, alice, bob, clara):
    access_log_record(accessor=clara, worker=alice, what="readings", reason="only about alice")
    client.force_login(bob.user)
    page = client.get(reverse("portal:privacy"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "only about alice" not in page
    assert "Nobody but you has looked at your data." in page


def test_privacy_names_the_clinicians_who_may_see_me(client, alice, clara, carl):
    from workers.names import person_name

    client.force_login(alice.user)
    page = client.get(reverse("portal:privacy"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert person_name(clara) in page
    assert person_name(carl) not in page


def test_privacy_shows_the_consent_text_in_the_chosen_language(client, alice, consent_text):
    client.force_login(alice.user)
    english = client.get(reverse("portal:privacy"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    korean = client.get(reverse("portal:privacy"), HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    vietnamese = client.get(reverse("portal:privacy"), HTTP_ACCEPT_LANGUAGE="vi").content.decode()
    assert consent_text.texts["en"].splitlines()[0] in english
    assert consent_text.texts["ko"].splitlines()[0] in korean
    assert consent_text.texts["vi"].splitlines()[0] in vietnamese


def test_privacy_offers_withdrawal_while_consented_and_agreement_after(client, alice):
    client.force_login(alice.user)
    page = client.get(reverse("portal:privacy")).content.decode()
    assert 'value="withdraw"' in page and 'value="grant"' not in page
    client.post(reverse("portal:consent"), {"decision": "withdraw"})
    page = client.get(reverse("portal:privacy")).content.decode()
    assert 'value="grant"' in page and 'value="withdraw"' not in page


def test_access_log_pages_hold_fifty_entries(client, alice, clara):
    for index in range(55):
        access_log_record(accessor=clara, worker=alice, what="readings", reason=f"r{index:02d}")
    client.force_login(alice.user)
    first = client.get(reverse("portal:privacy")).content.decode()
    second = client.get(reverse("portal:privacy") + "?page=2").content.decode()
    assert "r54" in first and "r00" not in first
    assert "r00" in second and "r54" not in second


def test_clinician_notes_never_reach_the_portal(client, alice, alice_heat_alert, clara):
    alert_annotate(alert_id=alice_heat_alert.pk, by=clara, note="private clinical note")
    client.force_login(alice.user)
    for page in PAGES:
        assert "private clinical note" not in client.get(reverse(page)).content.decode()


# --- My data -------------------------------------------------------------------


def test_data_page_offers_both_downloads_for_the_last_30_days(client, alice):
    client.force_login(alice.user)
    page = client.get(reverse("portal:data")).content.decode()
    assert reverse("portal:export-json") in page and reverse("portal:export-fhir") in page
    today = timezone.localdate()
    assert (today - timedelta(days=29)).isoformat() in page
