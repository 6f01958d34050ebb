"""The installable portal: the web app manifest, the service worker (scope
/me/, the static shell only) and the icons."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.urls import reverse

from portal import icons as portal_icons
from portal import views as portal_views
from portal.views import SHELL_STATIC


def test_manifest_is_served_as_a_web_app_manifest(client, db):
    response = client.get("/me/manifest.webmanifest", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["start_url"] == "/me/" and manifest["scope"] == "/me/"
    assert manifest["display"] == "standalone"
    assert manifest["short_name"] == "healthhub"
    assert manifest["theme_color"].startswith("#")
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert sizes == {"192x192", "512x512"}
    for icon in manifest["icons"]:
        assert client.get(icon["src"]).status_code == 200


def test_manifest_speaks_korean_by_default(client, db):
    manifest = json.loads(client.get("/me/manifest.webmanifest").content)
    assert manifest["lang"] == "ko"


def test_service_worker_is_javascript_under_me_and_never_cached(client, db):
    response = client.get("/me/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    assert reverse("portal:service-worker") == "/me/sw.js"  # its default scope is /me/


def test_service_worker_keeps_only_the_static_shell_and_the_guidance(client, db):
    script = client.get("/me/sw.js").content.decode()
    config = json.loads(script.split("const CONFIG = ", 1)[1].split(";\n", 1)[0])
    assert config["offline"] == reverse("portal:offline")
    for url in config["shell"]:
        assert url == reverse("portal:offline") or url.startswith(settings.STATIC_URL)
        assert "/api/" not in url
    # The only pages ever put in the cache are the guidance pages (nothing
    # personal); every other navigation goes to the network.
    for url in config["guides"]:
        assert url.startswith(reverse("portal:guides"))
    assert script.count("cache.put") == 1
    guarded = script.index('request.mode === "navigate" && CONFIG.guides.includes(url.pathname)')
    assert guarded < script.index("cache.put") < script.index("return;", guarded)
    assert 'request.mode === "navigate"' in script


def test_every_shell_file_exists(db):
    for name in SHELL_STATIC:
        assert finders.find(name), name


def test_the_shell_version_changes_with_its_files(db, monkeypatch):

    portal_views._shell_version.cache_clear()
    first = portal_views._shell_version()
    monkeypatch.setattr(portal_views, "SHELL_STATIC", portal_views.SHELL_STATIC[:1])
    portal_views._shell_version.cache_clear()
    try:
        assert portal_views._shell_version() != first
    finally:
        portal_views._shell_version.cache_clear()


def test_offline_page_holds_nothing_personal(client, alice):
    client.force_login(alice.user)
    page = client.get(reverse("portal:offline"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "You are offline" in page
    assert alice.user.username not in page and alice.employee_number not in page
    assert alice.user.last_name not in page


def test_portal_pages_link_the_manifest_and_register_the_worker(client, alice):
    client.force_login(alice.user)
    page = client.get(reverse("portal:privacy")).content.decode()
    assert '<link rel="manifest" href="/me/manifest.webmanifest">' in page
    assert 'data-sw="/me/sw.js" data-scope="/me/"' in page


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("size", [192, 512])
def test_icons_are_committed_pngs_of_their_size(size):
    data = Path(finders.find(f"icons/portal-{size}.png")).read_bytes()
    assert _png_size(data) == (size, size)


def test_icon_writer_makes_a_valid_png():
    data = portal_icons.png(16)
    assert _png_size(data) == (16, 16)
    idat = data.index(b"IDAT")
    (length,) = struct.unpack(">I", data[idat - 4 : idat])
    pixels = zlib.decompress(data[idat + 4 : idat + 4 + length])
    assert len(pixels) == 16 * (1 + 16 * 3)
    assert pixels[1:4] == bytes(portal_icons.BLUE)  # a corner is the background
