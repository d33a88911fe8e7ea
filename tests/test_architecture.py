"""Apps depend one way: organizations <- scim <- mappings. A lower app announces
what happened (organizations.signals, scim.signals) and a higher one subscribes in
its AppConfig.ready; it never imports the app above it, not even inside a function."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["organizations", "scim", "mappings"]  # each may import only those before it


def imported_modules(path: Path) -> set[str]:
    """Every absolute module an import statement in the file names, at any depth."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def upward_imports(app: str) -> list[str]:
    higher = set(LAYERS[LAYERS.index(app) + 1 :])
    found = []
    for path in sorted((ROOT / app).rglob("*.py")):
        for name in sorted(imported_modules(path)):
            if name.split(".")[0] in higher:
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


@pytest.mark.parametrize("app", LAYERS[:-1])
def test_lower_apps_never_import_higher_ones(app):
    assert upward_imports(app) == []


def test_the_scan_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from mappings.services import x\n    import scim.models\n")
    assert imported_modules(module) >= {"mappings.services", "scim.models"}


@pytest.mark.django_db
def test_the_models_and_their_migrations_agree():
    """A model change always ships with its migration (makemigrations --check)."""
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
