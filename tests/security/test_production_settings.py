"""Production fails closed (issue 8): no silent demo key, one HTTPS switch,
and ``manage.py check --deploy`` clean under the environment documented in
docs/hardening.md. Settings are read once per process, so each case runs in
a fresh interpreter with exactly the environment under test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent
PROBE = """
import json
from healthhub import settings as s
print(json.dumps({
    "secret_key": s.SECRET_KEY,
    "ssl_redirect": s.SECURE_SSL_REDIRECT,
    "hsts": s.SECURE_HSTS_SECONDS,
    "session_secure": s.SESSION_COOKIE_SECURE,
    "csrf_secure": s.CSRF_COOKIE_SECURE,
    "proxy_header": getattr(s, "SECURE_PROXY_SSL_HEADER", None),
}))
"""
# The production environment of docs/hardening.md (a real key comes from a
# secret file there; any long random value does here).
PRODUCTION = {
    "SECRET_KEY": "k3y-" + "9f2c1b7e" * 8,
    "HTTPS": "true",
    "ALLOWED_HOSTS": "healthhub.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://healthhub.example.com",
}


def run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"), **env}
    return subprocess.run(args, cwd=BASE_DIR, env=clean, capture_output=True, text=True, timeout=120)


def probe(**env: str) -> dict:
    result = run([sys.executable, "-c", PROBE], **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_without_a_secret_key_production_refuses_to_start():
    result = run([sys.executable, "-c", PROBE])
    assert result.returncode != 0
    assert "SECRET_KEY (or SECRET_KEY_FILE) must be set" in result.stderr


def test_the_demo_and_debug_may_use_the_embedded_key():
    assert probe(HEALTHHUB_DEMO="true")["secret_key"] == probe(DEBUG="true")["secret_key"] != ""


def test_https_switch_turns_on_hsts_redirect_secure_cookies_and_the_proxy_header():
    on = probe(**PRODUCTION)
    assert on == {
        "secret_key": PRODUCTION["SECRET_KEY"],
        "ssl_redirect": True,
        "hsts": 365 * 24 * 3600,
        "session_secure": True,
        "csrf_secure": True,
        "proxy_header": ["HTTP_X_FORWARDED_PROTO", "https"],
    }
    off = probe(HEALTHHUB_DEMO="true")
    assert (off["ssl_redirect"], off["hsts"], off["session_secure"], off["proxy_header"]) == (False, 0, False, None)


def test_check_deploy_has_no_warning_in_the_documented_production_environment():
    result = run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_without_the_https_switch_names_what_is_missing():
    env = {**PRODUCTION, "HTTPS": "false"}
    result = run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], **env)
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr + result.stdout
