"""WEBRTC_ICE_SERVERS: none by default (a LAN needs none), a JSON list from
the environment or a file, and a clear error for anything else. Settings are
read once per process, so each case reads them in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent.parent
PROBE = "import json; from healthhub import settings as s; print(json.dumps(s.WEBRTC_ICE_SERVERS))"


def ice_servers(tmp_path, **env: str) -> subprocess.CompletedProcess:
    # HEALTHHUB_DEMO: the embedded key, as `make demo` runs (production needs SECRET_KEY).
    clean = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HEALTHHUB_DATA_DIR": str(tmp_path),
        "HEALTHHUB_DEMO": "true",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=BASE_DIR, env=clean, capture_output=True, text=True, timeout=60
    )


def test_no_ice_servers_by_default(tmp_path):
    result = ice_servers(tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_ice_servers_from_the_environment_and_from_a_file(tmp_path):
    servers = [{"urls": "stun:10.0.0.2:3478"}, {"urls": ["turn:10.0.0.2:3478"], "username": "u", "credential": "p"}]
    result = ice_servers(tmp_path, WEBRTC_ICE_SERVERS=json.dumps(servers))
    assert json.loads(result.stdout) == servers
    secret = tmp_path / "ice.json"
    secret.write_text(json.dumps(servers))
    result = ice_servers(tmp_path, WEBRTC_ICE_SERVERS_FILE=str(secret))
    assert json.loads(result.stdout) == servers


@pytest.mark.parametrize("raw", ['{"urls": "stun:x"}', '[{"url": "stun:x"}]', "stun:x"])
def test_a_malformed_value_stops_the_start(tmp_path, raw):
    result = ice_servers(tmp_path, WEBRTC_ICE_SERVERS=raw)
    assert result.returncode != 0
    assert "WEBRTC_ICE_SERVERS must be a JSON list" in result.stderr
