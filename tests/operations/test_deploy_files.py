"""The deployment files say what docs/operations.md promises: a health
check on every compose service, Redis persistent and with a password,
PostgreSQL with a password, monitoring behind a profile, a dashboard that
plots only metrics healthhub exports, and an image without development
code or packages."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import yaml

BASE_DIR = Path(__file__).resolve().parents[2]
compose = yaml.safe_load((BASE_DIR / "compose.yaml").read_text())
services = compose["services"]


def test_every_service_has_a_health_check_and_the_one_shot_job_says_why_not():
    for name, service in services.items():
        assert "healthcheck" in service, name
    assert services["migrate"]["healthcheck"] == {"disable": True}
    assert [s for s, v in services.items() if v["healthcheck"].get("disable")] == ["migrate"]


def test_redis_persists_and_needs_a_password():
    command = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in command and "--requirepass" in command
    assert "REDISCLI_AUTH" in " ".join(services["redis"]["healthcheck"]["test"])
    assert "redisdata:/data" in services["redis"]["volumes"]


def test_postgresql_has_a_password_and_the_apps_read_urls_from_secrets():
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert "POSTGRES_HOST_AUTH_METHOD" not in services["postgres"]["environment"]
    for name in ("web", "worker", "worker-urgent", "beat", "migrate"):
        env = services[name]["environment"]
        assert env["DATABASE_URL_FILE"] == "/run/secrets/database_url", name
        assert env["REDIS_URL_FILE"] == "/run/secrets/redis_url", name


def test_prometheus_and_grafana_only_with_the_monitoring_profile():
    assert {n for n, s in services.items() if "monitoring" in s.get("profiles", [])} == {"prometheus", "grafana"}


def test_the_dashboard_plots_only_exported_metrics():
    dashboard = json.loads((BASE_DIR / "deploy/grafana/dashboards/healthhub.json").read_text())
    used = {
        re.sub(r"_(bucket|total|count|sum)$", "", name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"healthhub_[a-z_]+", target["expr"])
    }
    exported = set(re.findall(r'"(healthhub_[a-z_]+)"', (BASE_DIR / "healthhub/metrics.py").read_text()))
    exported.add("healthhub_celery_queue_depth")  # read at scrape time (healthhub.health)
    assert used == exported


def test_the_image_leaves_out_development_code_and_installs_the_runtime_lock_only():
    ignored = set((BASE_DIR / ".dockerignore").read_text().split())
    assert {"simulation", "tests", "bench"} <= ignored
    dockerfile = (BASE_DIR / "Dockerfile").read_text()
    assert "--require-hashes --no-deps -r requirements/runtime.txt" in dockerfile
    assert "USER healthhub" in dockerfile and "HEALTHCHECK" in dockerfile


def test_the_runtime_lock_holds_no_development_package_and_matches_pyproject():
    lock = (BASE_DIR / "requirements/runtime.txt").read_text().lower()
    pinned = set(re.findall(r"^([a-z0-9._-]+)==", lock, flags=re.M))
    for package in ("playwright", "twisted", "faker", "ruff", "daphne", "pytest", "django-filter"):
        assert package not in pinned, package
    declared = tomllib.loads((BASE_DIR / "pyproject.toml").read_text())["project"]["dependencies"]
    for requirement in declared:
        name = re.split(r"[\[<>=~ ]", requirement, maxsplit=1)[0].lower().replace("_", "-").replace(".", "-")
        assert name in {p.replace(".", "-").replace("_", "-") for p in pinned}, name
    assert "--hash=sha256:" in lock
