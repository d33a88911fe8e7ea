"""docs/ARCHITECTURE.md tells the truth about the files: every module it names
exists (and every attribute it names after a module is defined there), its
module tables name every module of the directories they describe, and every
long module is there because the doc says why."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "ARCHITECTURE.md"
APPS = ("organizations", "scim", "mappings", "config")
# Directories whose module table must name every module in them (and in the
# subdirectories the table itself names, such as scim/api/views/).
COMPLETE_TABLES = ("scim/api/", "organizations/settings_pages/", "organizations/", "organizations/signin/")
LONG_MODULE_LINES = 400
LONG_MODULES_HEADING = "## Long modules"

BACKTICKED = re.compile(r"`([^`\n]+)`")
PATH = re.compile(r"^(?:organizations|scim|mappings|config|templates|tests|benchmarks|docs)/[\w./-]*$")
DOTTED = re.compile(r"^(?:organizations|scim|mappings|config)(?:\.[A-Za-z_]\w*)+$")


# --- reading the doc ---------------------------------------------------------------------------


def named_paths(text: str) -> set[str]:
    """Backticked repository paths (`organizations/signin/throttle.py`, `scim/api/`)."""
    return {token for token in BACKTICKED.findall(text) if PATH.match(token)}


def named_dotted(text: str) -> set[str]:
    """Backticked dotted names that start with an app (`scim.tokens.check`)."""
    return {token for token in BACKTICKED.findall(text) if DOTTED.match(token)}


def module_tables(text: str) -> list[tuple[str, list[str]]]:
    """(base directory, the first cells of its rows) for every table whose first
    column is "module"; the base is the last backticked directory of the heading
    above the table."""
    tables, heading, lines = [], "", text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if cells and cells[0].lower() == "module":
            bases = [t for t in BACKTICKED.findall(heading) if t.endswith("/")]
            assert bases, f"the module table under {heading!r} has no `directory/` in its heading"
            rows = []
            i += 2  # the header and its --- row
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(lines[i].strip().strip("|").split("|")[0])
                i += 1
            tables.append((bases[-1], rows))
            continue
        i += 1
    return tables


def section(text: str, heading: str) -> str:
    start = text.index(heading + "\n")
    end = text.find("\n## ", start + len(heading))
    return text[start: end if end != -1 else len(text)]


# --- what is on disk ---------------------------------------------------------------------------


def module_file(dotted: str) -> tuple[Path, list[str]] | None:
    """The longest prefix of a dotted name that is a module, and the rest."""
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:n])
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate, parts[n:]
    return None


def top_level_names(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def missing_dotted(names: set[str]) -> list[str]:
    missing = []
    for name in sorted(names):
        found = module_file(name)
        if found is None:
            missing.append(f"{name}: no such module")
            continue
        path, rest = found
        if rest and rest[0] not in top_level_names(path):
            missing.append(f"{name}: {path.relative_to(ROOT)} defines no {rest[0]}")
    return missing


def modules_under(base: str, subdirs: set[str]) -> set[str]:
    """The .py files of a directory, and of the subdirectories named, relative to it."""
    root = ROOT / base
    found = {p.name for p in root.glob("*.py") if p.name != "__init__.py"}
    for sub in subdirs:
        found |= {f"{sub}/{p.name}" for p in (root / sub).glob("*.py") if p.name != "__init__.py"}
    return found


def table_gaps(base: str, rows: list[str]) -> tuple[list[str], list[str]]:
    """(named modules that do not exist, modules of the directory not named)."""
    named = {t for row in rows for t in BACKTICKED.findall(row) if t.endswith(".py")}
    absent = sorted(n for n in named if not (ROOT / base / n).is_file())
    subdirs = {n.rsplit("/", 1)[0] for n in named if "/" in n}
    unnamed = sorted(modules_under(base, subdirs) - named) if base in COMPLETE_TABLES else []
    return absent, unnamed


def long_modules(limit: int = LONG_MODULE_LINES) -> set[str]:
    return {
        str(p.relative_to(ROOT))
        for app in APPS
        for p in (ROOT / app).rglob("*.py")
        if "migrations" not in p.parts and len(p.read_text(encoding="utf-8").splitlines()) > limit
    }


def long_modules_explained(text: str) -> dict[str, str]:
    """The doc's list of long modules: a table of (`path`, why)."""
    explained = {}
    for line in section(text, LONG_MODULES_HEADING).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        paths = BACKTICKED.findall(cells[0]) if cells else []
        if len(cells) >= 2 and paths:
            explained[paths[0]] = cells[-1]
    return explained


# --- the tests ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def test_every_path_the_doc_names_exists(doc):
    assert sorted(p for p in named_paths(doc) if not (ROOT / p).exists()) == []


def test_every_module_and_attribute_the_doc_names_exists(doc):
    assert missing_dotted(named_dotted(doc)) == []


def test_the_module_tables_match_the_files(doc):
    tables = module_tables(doc)
    assert {base for base, _ in tables} >= set(COMPLETE_TABLES)
    gaps = {base: table_gaps(base, rows) for base, rows in tables}
    assert {base: gap for base, gap in gaps.items() if gap != ([], [])} == {}


def test_every_module_over_400_lines_is_explained(doc):
    explained = long_modules_explained(doc)
    assert sorted(long_modules() - set(explained)) == [], "say why in ARCHITECTURE.md, " + LONG_MODULES_HEADING
    assert {path: why for path, why in explained.items() if len(why.split()) < 4} == {}, "a sentence, please"
    # The list stays short and true: a module that got shorter leaves it.
    assert sorted(set(explained) - long_modules()) == []


# --- the checks above can fail -----------------------------------------------------------------


def test_the_checks_catch_a_wrong_doc():
    wrong = (
        "Tokens are checked by `scim.tokens.authenticate_all` in `organizations.nowhere`; pages in "
        "`organizations/admin_views.py`.\n\n"
        "## The SCIM API (`scim/api/`)\n\n| module | holds |\n|---|---|\n| `urls.py`, `nothere.py` | routes |\n"
        "\n## Long modules\n\n| long module | why |\n|---|---|\n| `scim/urls.py` | short |\n"
    )
    assert named_paths(wrong) == {"organizations/admin_views.py", "scim/api/", "scim/urls.py"}
    assert not (ROOT / "organizations/admin_views.py").exists()
    assert missing_dotted(named_dotted(wrong)) == [
        "organizations.nowhere: organizations/__init__.py defines no nowhere",
        "scim.tokens.authenticate_all: scim/tokens.py defines no authenticate_all",
    ]
    [(base, rows)] = module_tables(wrong)
    absent, unnamed = table_gaps(base, rows)
    assert absent == ["nothere.py"] and "middleware.py" in unnamed and "urls.py" not in unnamed
    assert long_modules_explained(wrong) == {"scim/urls.py": "short"}
    assert long_modules(limit=10) - {"scim/urls.py"}, "the scan sees long modules"
