"""The one settings module and its environment helpers: embedded defaults
with a clean environment, PostgreSQL and Redis when their URLs are set,
secrets from ``*_FILE``, and a clear error for a malformed value.

Settings are read once per process, so each case imports them in a fresh
interpreter with exactly the environment under test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from healthhub.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

PROBE = """
import json
from healthhub import settings as s
from healthhub.celery import app
db = s.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"],
    "name": str(db["NAME"]),
    "host": db.get("HOST"),
    "port": db.get("PORT"),
    "options": db.get("OPTIONS", {}),
    "conn_max_age": db.get("CONN_MAX_AGE"),
    "conn_health_checks": db.get("CONN_HEALTH_CHECKS"),
    "layer": s.CHANNEL_LAYERS["default"]["BACKEND"],
    "layer_hosts": s.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("hosts"),
    "broker": s.CELERY_BROKER_URL,
    "eager": s.CELERY_TASK_ALWAYS_EAGER,
    "celery_broker": app.conf.broker_url,
    "celery_eager": app.conf.task_always_eager,
    "secret_key": s.SECRET_KEY,
    "debug": s.DEBUG,
    "allowed_hosts": s.ALLOWED_HOSTS,
}))
"""


def run_settings(**env: str) -> subprocess.CompletedProcess:
    # As `make demo` runs: without a key, the embedded demo key is allowed
    # only with HEALTHHUB_DEMO=true (tests/security/test_production_settings.py).
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HEALTHHUB_DEMO": "true", **env}
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=BASE_DIR, env=clean, capture_output=True, text=True, timeout=60
    )


def settings_with(**env: str) -> dict:
    result = run_settings(**env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_clean_environment_gives_sqlite_in_memory_channels_and_eager_celery():
    s = settings_with()
    assert s["engine"] == "django.db.backends.sqlite3"
    assert s["name"] == str(BASE_DIR / "var" / "healthhub.sqlite3")
    assert "journal_mode=WAL" in s["options"]["init_command"]
    assert s["options"]["transaction_mode"] == "IMMEDIATE"
    assert s["layer"] == "channels.layers.InMemoryChannelLayer"
    assert (s["broker"], s["eager"]) == ("memory://", True)
    assert (s["celery_broker"], s["celery_eager"]) == ("memory://", True)
    assert s["debug"] is False
    assert s["secret_key"]  # the embedded demo key


def test_database_and_redis_urls_switch_to_postgresql_and_redis():
    s = settings_with(
        DATABASE_URL="postgres://hh:pw@db.example:5433/healthhub", REDIS_URL="redis://cache.example:6379/2"
    )
    assert s["engine"] == "django.db.backends.postgresql"
    assert (s["name"], s["host"], s["port"]) == ("healthhub", "db.example", 5433)
    assert s["options"]["pool"] == {"min_size": 2, "max_size": 20, "timeout": 30}
    assert s["conn_max_age"] == 0  # the pool, not persistent connections
    assert s["conn_health_checks"] is True  # a connection broken by a restart is not handed out
    assert s["layer"] == "healthhub.layers.ResilientRedisChannelLayer"
    assert s["layer_hosts"] == [
        {
            "address": "redis://cache.example:6379/2",
            "socket_timeout": 15,
            "socket_connect_timeout": 2,
            "health_check_interval": 10,
        }
    ]
    assert (s["broker"], s["eager"]) == ("redis://cache.example:6379/2", False)
    assert (s["celery_broker"], s["celery_eager"]) == ("redis://cache.example:6379/2", False)


def test_the_pool_can_be_sized_or_turned_off():
    sized = settings_with(DATABASE_URL="postgres://db/hh", DATABASE_POOL_MIN="1", DATABASE_POOL_MAX="50")
    assert sized["options"]["pool"]["min_size"] == 1
    assert sized["options"]["pool"]["max_size"] == 50
    off = settings_with(DATABASE_URL="postgres://db/hh", DATABASE_POOL="false")
    assert "pool" not in off["options"]


def test_postgresql_without_redis_keeps_in_process_channels_and_celery():
    s = settings_with(DATABASE_URL="postgres://db/hh")
    assert s["engine"] == "django.db.backends.postgresql"
    assert (s["layer"], s["eager"]) == ("channels.layers.InMemoryChannelLayer", True)


def test_secret_key_file_is_read_and_wins_over_the_variable(tmp_path):
    secret = tmp_path / "secret_key"
    secret.write_text("from-a-file\n")
    assert settings_with(SECRET_KEY_FILE=str(secret))["secret_key"] == "from-a-file"
    assert settings_with(SECRET_KEY_FILE=str(secret), SECRET_KEY="from-env")["secret_key"] == "from-a-file"
    assert settings_with(SECRET_KEY="from-env")["secret_key"] == "from-env"


def test_any_setting_may_come_from_a_file(tmp_path):
    url = tmp_path / "database_url"
    url.write_text("postgres://hh:pw@db.example/hh\n")
    assert settings_with(DATABASE_URL_FILE=str(url))["engine"] == "django.db.backends.postgresql"


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("TRUE", True), ("yes", True), ("off", False)])
def test_debug_is_read_as_a_boolean(raw, expected):
    assert settings_with(DEBUG=raw)["debug"] is expected


def test_a_bad_boolean_stops_startup_with_a_clear_error():
    result = run_settings(DEBUG="maybe")
    assert result.returncode != 0
    assert "DEBUG must be a boolean (true/false), got 'maybe'" in result.stderr


def test_a_bad_integer_stops_startup_with_a_clear_error():
    result = run_settings(DATABASE_URL="postgres://db/hh", DATABASE_POOL_MAX="lots")
    assert result.returncode != 0
    assert "DATABASE_POOL_MAX must be an integer, got 'lots'" in result.stderr


def test_allowed_hosts_is_a_comma_separated_list():
    assert settings_with(ALLOWED_HOSTS=" a.example, b.example,,")["allowed_hosts"] == ["a.example", "b.example"]


# --- healthhub.env, in this process ------------------------------------------------


def test_env_helpers_fall_back_to_their_defaults(monkeypatch):
    for name in ("HH_TEST_X", "HH_TEST_X_FILE"):
        monkeypatch.delenv(name, raising=False)
    assert env_str("HH_TEST_X", "d") == "d"
    assert env_bool("HH_TEST_X", True) is True
    assert env_int("HH_TEST_X", 7) == 7
    assert env_list("HH_TEST_X", ["a"]) == ["a"]
    monkeypatch.setenv("HH_TEST_X", "")
    assert env_bool("HH_TEST_X", True) is True  # empty is unset, not false
    assert env_int("HH_TEST_X", 7) == 7


def test_env_file_content_is_stripped_and_typed(monkeypatch, tmp_path):
    (tmp_path / "n").write_text(" 42\n")
    monkeypatch.setenv("HH_TEST_N_FILE", str(tmp_path / "n"))
    assert env_int("HH_TEST_N", 0) == 42


def test_a_missing_secret_file_is_an_error_not_a_silent_default(monkeypatch, tmp_path):
    monkeypatch.setenv("HH_TEST_S_FILE", str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError):
        env_str("HH_TEST_S", "default")


@pytest.mark.parametrize("raw", ["maybe", "2", "tru"])
def test_env_bool_names_the_variable_and_the_value_it_refuses(monkeypatch, raw):
    monkeypatch.setenv("HH_TEST_B", raw)
    with pytest.raises(ValueError, match=f"HH_TEST_B must be a boolean \\(true/false\\), got '{raw}'"):
        env_bool("HH_TEST_B")
