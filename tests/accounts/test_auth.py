"""Sign-in and safety (accounts/policy.py): the second factor for staff on
pages, API and sockets, enrolment, lockout after repeated failures, session
limits, and the demo's codes.

The rest of the suite signs the cast in with force_login and the second
factor switched off (tests/settings.py); these tests switch it on."""

from __future__ import annotations

import base64
import re
import time
from datetime import timedelta
from io import StringIO

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import generate_totp_secret
from asgiref.sync import sync_to_async
from axes.models import AccessAttempt
from channels.testing import WebsocketCommunicator
from django.contrib.auth import SESSION_KEY
from django.core.cache import cache
from django.core.management import call_command
from django.db.models import F
from django.test import Client
from django.utils import timezone

from accounts import policy as security
from healthhub.asgi import application
from tests.factories import UserFactory

ENROL_URL = "/accounts/2fa/totp/activate/"
CODE_STEP_URL = "/accounts/2fa/authenticate/"


@pytest.fixture(autouse=True)
def _fresh_cache():
    # allauth remembers used codes and rate limits in the cache, which
    # outlives a test (Redis, or this process's memory).
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def require_mfa(settings):
    settings.HEALTHHUB_REQUIRE_MFA = True


@pytest.fixture
def root(db):
    return UserFactory(username="root", is_superuser=True, is_staff=True)


def enrol(user) -> str:
    """Give ``user`` an authenticator app with a fresh secret (a random one,
    so that codes never collide with another test's); returns the secret."""
    secret = generate_totp_secret()
    security.authenticator_app_enrol(user=user, secret=secret)
    return secret


def post_login(client: Client, username: str, password: str = "pw", **extra):
    return client.post("/accounts/login/", {"username": username, "password": password}, **extra)


def sign_in_with_code(client: Client, username: str, secret: str) -> None:
    response = post_login(client, username)
    assert response.status_code == 302 and response["Location"] == CODE_STEP_URL
    response = client.post(CODE_STEP_URL, {"code": security.totp_code(secret)})
    assert response.status_code == 302, response.content.decode()


def signed_in_user_id(client: Client) -> str | None:
    return client.session.get(SESSION_KEY)


def shows_home(client: Client) -> bool:
    """Whether "/" ends, after the role's own redirects, on a page of the app
    rather than on the login or enrolment pages."""
    response = client.get("/", follow=True)
    final = response.redirect_chain[-1][0] if response.redirect_chain else "/"
    return response.status_code == 200 and not final.startswith("/accounts/")


# -- pages and API: staff without an authenticator app --------------------------------


@pytest.mark.parametrize("who", ["clara", "hana", "adam", "root"])
def test_staff_without_an_app_are_sent_to_enrol_from_every_page(
    client, require_mfa, alice, clara, hana, adam, root, who
):
    client.force_login({"clara": clara, "hana": hana, "adam": adam, "root": root}[who])
    for path in ["/", f"/workers/{alice.pk}/", "/desk/", "/admin/"]:
        response = client.get(path)
        assert (response.status_code, response["Location"]) == (302, ENROL_URL), path


def test_staff_without_an_app_get_403_from_the_api(client, require_mfa, alice, clara):
    client.force_login(clara)
    response = client.get("/api/v1/alerts/")
    assert response.status_code == 403
    assert response.json()["code"] == "mfa_enrolment_required"
    assert client.get(f"/api/v1/workers/{alice.pk}/readings/").status_code == 403
    assert client.get("/api/docs/").status_code == 403


def test_enrolment_logout_language_and_static_stay_open_to_them(client, require_mfa, clara):
    post_login(client, "clara")
    page = client.get(ENROL_URL, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    html = page.content.decode()
    assert "data-totp-qr" in html and 'src="data:image/svg+xml;base64,' in html
    assert re.search(r"data-totp-secret[^>]*>[A-Z2-7]{32}<", html)
    assert client.get("/static/css/healthhub.css").status_code == 200
    assert client.post("/i18n/setlang/", {"language": "en", "next": "/"}).status_code == 302
    assert client.post("/accounts/logout/").status_code == 302
    assert signed_in_user_id(client) is None


# Transactional: allauth announces the new app after its transaction commits,
# inside the request, as it happens in production.
@pytest.mark.django_db(transaction=True)
def test_staff_enrol_with_a_code_from_their_app_and_then_see_their_pages(client, require_mfa, alice, clara):
    response = post_login(client, "clara")
    assert response["Location"] == "/"
    assert client.get("/")["Location"] == ENROL_URL
    html = client.get(ENROL_URL).content.decode()
    secret = re.search(r"data-totp-secret[^>]*>([A-Z2-7]+)<", html).group(1)

    wrong = client.post(ENROL_URL, {"code": "000000" if security.totp_code(secret) != "000000" else "111111"})
    assert wrong.status_code == 200 and 'role="alert"' in wrong.content.decode()
    response = client.post(ENROL_URL, {"code": security.totp_code(secret)})
    assert response.status_code == 302 and response["Location"] == "/accounts/2fa/recovery-codes/"

    codes_page = client.get("/accounts/2fa/recovery-codes/").content.decode()
    codes = re.search(r"<pre data-recovery-codes>(.*?)</pre>", codes_page, re.S).group(1).split()
    assert len(codes) == 10 and all(code.isdigit() for code in codes)
    assert security.authenticator_app_secret(clara) == secret

    assert shows_home(client)
    assert client.get(f"/workers/{alice.pk}/").status_code == 200
    assert client.get("/api/v1/alerts/").status_code == 200


# -- signing in with the second factor ------------------------------------------------------


def test_enrolled_staff_sign_in_with_password_then_code(client, require_mfa, clara):
    secret = enrol(clara)
    response = post_login(client, "clara")
    assert response["Location"] == CODE_STEP_URL
    assert signed_in_user_id(client) is None  # the password alone signs nobody in
    assert client.get("/")["Location"].startswith("/accounts/login/")

    page = client.get(CODE_STEP_URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'name="code"' in page and 'autocomplete="one-time-code"' in page
    response = client.post(CODE_STEP_URL, {"code": security.totp_code(secret)})
    assert response["Location"] == "/"
    assert shows_home(client)
    assert client.get("/api/v1/alerts/").status_code == 200


def test_a_wrong_code_signs_nobody_in(client, require_mfa, clara):
    secret = enrol(clara)
    post_login(client, "clara")
    wrong = f"{(int(security.totp_code(secret)) + 1) % 1_000_000:06d}"
    response = client.post(CODE_STEP_URL, {"code": wrong}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "Incorrect code." in response.content.decode()
    assert signed_in_user_id(client) is None


def test_a_code_is_accepted_once_only(client, require_mfa, clara):
    secret = enrol(clara)
    sign_in_with_code(client, "clara", secret)
    client.post("/accounts/logout/")
    post_login(client, "clara")
    response = client.post(CODE_STEP_URL, {"code": security.totp_code(secret)})
    assert response.status_code == 200 and signed_in_user_id(client) is None


def test_a_recovery_code_works_once_instead_of_the_app(client, require_mfa, clara):
    enrol(clara)
    codes = Authenticator.objects.get(user=clara, type=Authenticator.Type.RECOVERY_CODES).wrap().get_unused_codes()
    post_login(client, "clara")
    response = client.post(CODE_STEP_URL, {"code": codes[0]})
    assert response["Location"] == "/" and shows_home(client)
    client.post("/accounts/logout/")
    post_login(client, "clara")
    assert client.post(CODE_STEP_URL, {"code": codes[0]}).status_code == 200  # used up
    assert signed_in_user_id(client) is None


def test_staff_session_that_skipped_the_code_is_signed_out(client, require_mfa, clara):
    # A session made some other way than the login page (here force_login)
    # never passed the second factor.
    enrol(clara)
    client.force_login(clara)
    response = client.get("/desk/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/?next=%2Fdesk%2F"
    assert signed_in_user_id(client) is None
    client.force_login(clara)
    response = client.get("/api/v1/alerts/")
    assert (response.status_code, response.json()["code"]) == (403, "mfa_required")


def test_the_admin_signs_in_through_the_login_page(client, require_mfa, alice, adam):
    response = client.get("/admin/login/?next=/admin/workers/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2Fworkers%2F"
    client.force_login(alice.user)  # signed in, not admin staff
    assert client.get("/admin/login/").status_code == 403


def test_enrolled_site_admin_reaches_the_admin(client, require_mfa, adam):
    secret = enrol(adam)
    sign_in_with_code(client, "adam", secret)
    assert client.get("/admin/").status_code == 200


def test_staff_cannot_turn_their_app_off(client, require_mfa, clara):
    secret = enrol(clara)
    sign_in_with_code(client, "clara", secret)
    page = client.get("/accounts/2fa/totp/deactivate/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Staff accounts must keep two-factor authentication" in page
    client.post("/accounts/2fa/totp/deactivate/")
    assert Authenticator.objects.filter(user=clara, type=Authenticator.Type.TOTP).exists()


def test_staff_cannot_use_the_api_with_a_password_alone(require_mfa, alice, clara):
    staff_client = Client(HTTP_AUTHORIZATION=_basic("clara", "pw"))
    assert staff_client.get("/api/v1/alerts/").status_code in (401, 403)
    worker_client = Client(HTTP_AUTHORIZATION=_basic("alice", "pw"))
    assert worker_client.get(f"/api/v1/workers/{alice.pk}/checkins/").status_code == 200


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


# -- workers ------------------------------------------------------------------------------------


def test_a_worker_without_an_app_is_not_blocked(client, require_mfa, alice):
    response = post_login(client, "alice")
    assert response["Location"] == "/"
    assert client.get(f"/workers/{alice.pk}/").status_code == 200
    assert client.get(f"/api/v1/workers/{alice.pk}/checkins/").status_code == 200


def test_a_worker_may_enrol_and_then_signs_in_with_the_code(client, require_mfa, alice):
    post_login(client, "alice")
    assert "Set up" in client.get("/accounts/2fa/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert client.get(ENROL_URL).status_code == 200
    client.post("/accounts/logout/")
    secret = enrol(alice.user)
    sign_in_with_code(client, "alice", secret)
    assert client.get(f"/workers/{alice.pk}/").status_code == 200


def test_there_is_no_sign_up(client, db):
    assert client.get("/accounts/signup/").status_code == 404
    assert client.get("/accounts/password/reset/").status_code == 404


# -- browser sockets -------------------------------------------------------------------------------


def _session_cookie(user, **marks) -> bytes:
    client = Client()
    client.force_login(user)
    if marks:
        session = client.session
        session.update(marks)
        session.save()
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def _connect(cookie: bytes) -> tuple[bool, int | None]:
    comm = WebsocketCommunicator(
        application, "/ws/alerts/", headers=[(b"origin", b"http://localhost"), (b"cookie", cookie)]
    )
    connected, code = await comm.connect()
    await comm.disconnect()
    return connected, code


@pytest.mark.django_db(transaction=True)
async def test_socket_of_staff_without_an_app_is_closed_with_4403(require_mfa, clara):
    cookie = await sync_to_async(_session_cookie)(clara)
    assert await _connect(cookie) == (False, 4403)


@pytest.mark.django_db(transaction=True)
async def test_socket_of_staff_whose_session_skipped_the_code_is_closed(require_mfa, clara):
    await sync_to_async(enrol)(clara)
    cookie = await sync_to_async(_session_cookie)(clara)
    assert await _connect(cookie) == (False, 4403)


@pytest.mark.django_db(transaction=True)
async def test_socket_of_staff_who_passed_the_code_is_accepted(require_mfa, clara):
    await sync_to_async(enrol)(clara)
    cookie = await sync_to_async(_session_cookie)(clara, **{security.SESSION_SECOND_FACTOR_USER: str(clara.pk)})
    connected, _ = await _connect(cookie)
    assert connected


@pytest.mark.django_db(transaction=True)
async def test_socket_of_a_worker_without_an_app_is_accepted(require_mfa, alice):
    cookie = await sync_to_async(_session_cookie)(alice.user)
    connected, _ = await _connect(cookie)
    assert connected


@pytest.mark.django_db(transaction=True)
async def test_socket_of_an_idle_staff_session_is_closed(clara):
    idle = {security.SESSION_SEEN_AT: time.time() - 31 * 60}
    cookie = await sync_to_async(_session_cookie)(clara, **idle)
    assert await _connect(cookie) == (False, 4403)


@pytest.mark.django_db(transaction=True)
async def test_device_sockets_are_not_affected(require_mfa, alice_device):
    from tests.devices.wsclient import communicator

    _, token = alice_device
    comm = communicator(token)
    connected, _ = await comm.connect()
    assert connected
    await comm.disconnect()


# -- lockout -----------------------------------------------------------------------------------------


def fail(client: Client, username: str = "alice", times: int = 1, **extra):
    for _ in range(times):
        response = post_login(client, username, "wrong", HTTP_ACCEPT_LANGUAGE="en", **extra)
    return response


def test_five_failures_lock_the_username_out_from_that_address_with_a_message(client, alice):
    response = fail(client, times=4)
    assert response.status_code == 200 and "didn&#x27;t match" in response.content.decode()
    response = fail(client)
    assert response.status_code == 429
    page = response.content.decode()
    assert 'data-locked-out="1"' in page and "blocked for 15 minutes" in page
    # The right password does not help while locked out.
    response = post_login(client, "alice", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 429 and signed_in_user_id(client) is None


def test_a_lockout_is_per_username_and_address(client, alice, bob):
    fail(client, times=5)
    assert post_login(client, "bob")["Location"] == "/"
    other = Client(REMOTE_ADDR="10.1.2.3")
    assert post_login(other, "alice")["Location"] == "/"


def test_the_lockout_ends_after_fifteen_minutes(client, alice):
    fail(client, times=5)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=14))
    assert post_login(client, "alice").status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert post_login(client, "alice")["Location"] == "/"


def test_attempts_during_a_lockout_do_not_prolong_it(client, alice):
    fail(client, times=5)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=10))
    assert fail(client).status_code == 429
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=6))  # 16 minutes on
    assert post_login(client, "alice")["Location"] == "/"


def test_a_successful_sign_in_clears_the_count(client, alice):
    fail(client, times=4)
    assert post_login(client, "alice")["Location"] == "/"
    client.post("/accounts/logout/")
    assert fail(client, times=4).status_code == 200
    assert post_login(client, "alice")["Location"] == "/"


def test_api_sign_in_attempts_count_too(alice):
    api = Client(HTTP_AUTHORIZATION=_basic("alice", "wrong"))
    for _ in range(5):
        api.get("/api/v1/alerts/")
    good = Client(HTTP_AUTHORIZATION=_basic("alice", "pw"))
    assert good.get(f"/api/v1/workers/{alice.pk}/checkins/").status_code in (401, 403, 429)


# -- session limits ----------------------------------------------------------------------------------


def backdate(client: Client, **marks: float) -> None:
    session = client.session
    session.update({key: time.time() - seconds for key, seconds in marks.items()})
    session.save()


def test_staff_idle_longer_than_the_limit_are_signed_out(client, clara):
    client.force_login(clara)
    assert shows_home(client)
    backdate(client, **{security.SESSION_SEEN_AT: 31 * 60})
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert signed_in_user_id(client) is None
    page = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "your session expired" in page


def test_staff_active_within_the_limit_stay_signed_in(client, clara):
    client.force_login(clara)
    backdate(client, **{security.SESSION_SEEN_AT: 29 * 60})
    assert shows_home(client)
    # That request counted as activity: the idle clock started again.
    assert time.time() - client.session[security.SESSION_SEEN_AT] < 5
    assert client.get("/api/v1/alerts/").status_code == 200


def test_workers_have_no_idle_limit(client, alice):
    client.force_login(alice.user)
    backdate(client, **{security.SESSION_SEEN_AT: 3 * 3600})
    assert client.get(f"/workers/{alice.pk}/").status_code == 200


@pytest.mark.parametrize("who", ["alice", "clara"])
def test_everyone_is_signed_out_eight_hours_after_signing_in(client, alice, clara, who):
    client.force_login({"alice": alice.user, "clara": clara}[who])
    backdate(client, **{security.SESSION_SIGNED_IN_AT: 8 * 3600 + 60, security.SESSION_SEEN_AT: 0})
    assert client.get("/")["Location"].startswith("/accounts/login/")
    assert signed_in_user_id(client) is None
    response = client.get("/api/v1/alerts/")
    assert response.status_code == 403


def test_signing_in_starts_the_clocks(client, alice):
    post_login(client, "alice")
    session = client.session
    assert time.time() - session[security.SESSION_SIGNED_IN_AT] < 5
    assert time.time() - session[security.SESSION_SEEN_AT] < 5


# -- the demo ------------------------------------------------------------------------------------------


def test_demo_staff_sign_in_with_the_code_demo_totp_prints(client, db, require_mfa, tmp_path):
    call_command("seed_demo", workers=1, devices_file=tmp_path / "devices.json", stdout=StringIO())
    out = StringIO()
    call_command("demo_totp", "clinician", stdout=out, stderr=StringIO())
    code = out.getvalue().strip()
    assert re.fullmatch(r"\d{6}", code)
    assert post_login(client, "clinician", "demo-clinician-2026")["Location"] == CODE_STEP_URL
    assert client.post(CODE_STEP_URL, {"code": code})["Location"] == "/"
    assert shows_home(client)


def test_demo_totp_refuses_an_account_without_the_demo_secret(db, clara):
    from django.core.management.base import CommandError

    clara.username = "clinician"
    clara.save()
    enrol(clara)
    with pytest.raises(CommandError):
        call_command("demo_totp", "clinician", stdout=StringIO(), stderr=StringIO())
