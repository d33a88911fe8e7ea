"""Apps depend one way: organizations <- scim <- mappings. A lower app announces
what happened (organizations.signals, scim.signals) and a higher one subscribes in
its AppConfig.ready; it never imports the app above it, not even inside a function."""
from __future__ import annotations

import ast
import re
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


# --- no import circles between the files of one app ------------------------------------------
# A circle makes the import order matter and hides which module builds on which; every
# import counts, at any depth (one inside a function closes a circle all the same).

GRAPH_APPS = ["organizations", "scim", "mappings", "config"]


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(root: Path, path: Path, known: set[str]) -> set[str]:
    """The modules of `known` that the file imports (anywhere in it): `from pkg
    import mod` names pkg.mod when that is a module, relative imports resolved."""
    name = module_name(root, path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            candidates = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in known:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name:
                found.add(candidate)
    return found


def module_graph(root: Path, apps: list[str]) -> dict[str, set[str]]:
    """module -> the modules of the same app it imports."""
    paths = {module_name(root, p): p for app in apps for p in sorted((root / app).rglob("*.py"))}
    known = set(paths)
    return {
        name: {m for m in imports_of(root, path, known) if m.split(".")[0] == name.split(".")[0]}
        for name, path in paths.items()
    }


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle per strongly connected group of modules, as a path a -> b -> ... -> a."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    circles = []
    for group in groups:
        start = min(group)
        path, seen = [start], {start}
        while True:  # walk inside the group until a module repeats
            step = min(w for w in graph[path[-1]] if w in group)
            if step in seen:
                circles.append(path[path.index(step):] + [step])
                break
            path.append(step)
            seen.add(step)
    return circles


def test_no_import_circle_between_the_files_of_an_app():
    circles = import_circles(module_graph(ROOT, GRAPH_APPS))
    assert circles == [], "import circles:\n" + "\n".join(" -> ".join(c) for c in circles)


# --- imports inside functions say why ----------------------------------------------------------
# An import belongs at the top of its module. One inside a function is allowed when
# it must be there (Django's app registry not ready yet, a circle that cannot be
# cut, an optional heavy import), and a comment on the line above (above its group
# of imports) or on the same line says which.

NOQA = re.compile(r"#\s*noqa(:\s*[A-Z]+\d+(,\s*[A-Z]+\d+)*)?", re.I)


def _explained_on_line(line: str) -> bool:
    if "#" not in line:
        return False
    return bool(NOQA.sub("", line[line.index("#"):]).strip("# ").strip())


def unexplained_function_imports(root: Path, apps: list[str]) -> list[str]:
    found = []
    for app in apps:
        for path in sorted((root / app).rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            lines = source.splitlines()
            tree = ast.parse(source, filename=str(path))
            inner: dict[int, ast.stmt] = {}
            for func in ast.walk(tree):
                if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    for node in ast.walk(func):
                        if isinstance(node, (ast.Import, ast.ImportFrom)):
                            inner[node.lineno] = node
            import_lines = {n for node in inner.values() for n in range(node.lineno, node.end_lineno + 1)}
            for lineno, node in sorted(inner.items()):
                if any(_explained_on_line(lines[n - 1]) for n in range(node.lineno, node.end_lineno + 1)):
                    continue
                above = lineno - 1
                while above >= 1 and (not lines[above - 1].strip() or above in import_lines):
                    above -= 1
                if above >= 1 and lines[above - 1].strip().startswith("#"):
                    continue
                found.append(f"{path.relative_to(root)}:{lineno}: {lines[lineno - 1].strip()}")
    return found


def test_every_import_inside_a_function_says_why():
    assert unexplained_function_imports(ROOT, GRAPH_APPS) == []


# --- the checks above can fail ---------------------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_circle_check_finds_a_circle_closed_inside_a_function(tmp_path):
    _write(tmp_path, {
        "app/__init__.py": "",
        "app/a.py": "from app import b\n",
        "app/sub/__init__.py": "",
        "app/sub/b2.py": "def f():\n    from .. import a\n",
        "app/b.py": "from .sub.b2 import f\n",
        "app/c.py": "from app.a import x\n",
        "other/__init__.py": "",
        "other/d.py": "import app.c\n",
    })
    graph = module_graph(tmp_path, ["app", "other"])
    # `from .. import a` names the module app.a; the other app's import is not this app's edge
    assert graph["app.sub.b2"] == {"app.a"} and graph["app.b"] == {"app.sub.b2"} and graph["other.d"] == set()
    assert graph["app.a"] == {"app.b"} and graph["app.c"] == {"app.a"}
    circles = import_circles(graph)
    assert len(circles) == 1 and circles[0][0] == circles[0][-1]
    assert set(circles[0]) >= {"app.a", "app.b", "app.sub.b2"}


def test_the_circle_check_passes_a_one_way_app(tmp_path):
    _write(tmp_path, {"app/__init__.py": "", "app/a.py": "from . import b\n", "app/b.py": "import os\n"})
    assert import_circles(module_graph(tmp_path, ["app"])) == []


def test_the_function_import_check_wants_a_reason(tmp_path):
    _write(tmp_path, {"app/m.py": (
        "import os\n"
        "\n"
        "def bare():\n"
        "    from json import dumps\n"
        "\n"
        "def noqa_only():\n"
        "    from json import loads  # noqa: F401\n"
        "\n"
        "def explained():\n"
        "    # the registry is not ready when this module loads\n"
        "    from json import dumps\n"
        "\n"
        "    from json import loads\n"
        "\n"
        "def same_line():\n"
        "    import csv  # optional, heavy\n"
    )})
    assert unexplained_function_imports(tmp_path, ["app"]) == [
        "app/m.py:4: from json import dumps",
        "app/m.py:7: from json import loads  # noqa: F401",
    ]
