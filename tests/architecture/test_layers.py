"""The apps depend in one direction (../shared/DESIGN.md): an app imports only
apps below it, and production code never imports the simulation package.
Every import in every module counts, including those inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)

# Lowest first. Apps on one level may not import each other either.
LAYERS: list[set[str]] = [
    {"healthhub"},  # leaf helpers only (env, live group names, dispatch)
    {"workers"},
    {"accounts"},
    {"devices"},
    {"alerts"},
    {"consultations"},
    {"appointments"},
    {"insights"},
    {"portal", "desk"},
]
LEVEL = {app: level for level, apps in enumerate(LAYERS) for app in apps}
# The composition root may import every app: it wires them together.
COMPOSITION_ROOT = {"healthhub/settings.py", "healthhub/urls.py", "healthhub/asgi.py", "healthhub/celery.py"}
SIMULATION = "simulation"


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def production_modules() -> list[Path]:
    return sorted(
        path
        for app in LEVEL
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts and path.relative_to(ROOT).as_posix() not in COMPOSITION_ROOT
    )


def violations(path: Path) -> list[str]:
    app = path.relative_to(ROOT).parts[0]
    found = []
    for lineno, module in imported_modules(path):
        top = module.split(".")[0]
        where = f"{path.relative_to(ROOT)}:{lineno} imports {module}"
        if top == SIMULATION:
            found.append(f"{where} (simulation is development-only)")
        elif top in LEVEL and top != app and LEVEL[top] >= LEVEL[app]:
            found.append(f"{where} ({top} is not below {app})")
    return found


def test_every_app_is_placed_in_a_layer():
    project_apps = {a.split(".")[0] for a in settings.INSTALLED_APPS if (ROOT / a.split(".")[0]).is_dir()}
    assert project_apps - {SIMULATION} <= set(LEVEL), "a new app needs its place in LAYERS"


def test_no_app_imports_an_app_above_it_or_the_simulation():
    found = [v for path in production_modules() for v in violations(path)]
    assert found == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from alerts.services import evaluation_request\n", ["(alerts is not below devices)"]),
        ("def f():\n    import consultations.models\n", ["(consultations is not below devices)"]),
        ("from simulation.physiology import Profile\n", ["(simulation is development-only)"]),
        ("from workers.models import Worker\nfrom healthhub.live import device_group\n", []),
    ],
)
def test_the_check_sees_upward_and_hidden_imports(tmp_path, monkeypatch, source, expected):
    fake_root = tmp_path
    (fake_root / "devices").mkdir()
    module = fake_root / "devices" / "example.py"
    module.write_text(source)
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", fake_root)
    found = violations(module)
    assert [v.split(" ", 3)[-1] for v in found] == expected
