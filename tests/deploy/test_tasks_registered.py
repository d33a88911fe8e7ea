"""A worker knows every task the code hands it. A task module that Celery's
autodiscovery does not find (a sub-package that is not an installed app) and
that no AppConfig.ready imports is registered in the web process, where the
module was imported, but not on the worker, which rejects its messages as
unregistered. So the worker's registry is read in a fresh process, started as
`celery -A config worker` starts: django.setup(), then autodiscovery."""
from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

from celery import Task

ROOT = Path(__file__).resolve().parents[2]
APPS = ("organizations", "scim", "mappings", "config")
HANDING_OVER = {"enqueue", "enqueue_after_response"}  # organizations.background: first argument is the task
SENDING = {"delay", "apply_async", "apply"}

WORKER_REGISTRY = """
import json, django
django.setup()
from config.celery import app
app.loader.import_default_modules()
print(json.dumps(sorted(app.tasks)))
"""


def source_files():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def tasks_handed_over() -> set[str]:
    """Names of the functions the code sends to a worker: `x.delay(...)`,
    `x.apply_async(...)`, `enqueue(x, ...)`."""
    names = set()
    for path in source_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            if isinstance(node.func, ast.Attribute) and node.func.attr in SENDING:
                name = _name(node.func.value)
            elif _name(node.func) in HANDING_OVER and node.args:
                name = _name(node.args[0])
            else:
                continue
            if name and name not in {"task", "self"}:  # the helpers' own parameters
                names.add(name)
    return names


def defined_tasks() -> dict[str, str]:
    """Function name -> Celery task name, for every task defined in the apps."""
    found = {}
    for path in source_files():
        if "shared_task" not in path.read_text(encoding="utf-8"):
            continue
        module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
        for attribute, value in vars(module).items():
            if isinstance(value, Task) and value.name.startswith(module.__name__ + "."):
                assert attribute not in found, f"two tasks named {attribute}: {found[attribute]}, {value.name}"
                found[attribute] = value.name
    return found


def worker_registry() -> set[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    result = subprocess.run(
        [sys.executable, "-c", WORKER_REGISTRY], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_every_task_the_code_hands_over_is_registered_on_a_worker():
    handed_over, defined = tasks_handed_over(), defined_tasks()
    assert handed_over, "the scan found no task being sent"
    unknown = handed_over - set(defined)
    assert not unknown, f"sent but not a task defined in the apps: {sorted(unknown)}"
    registry = worker_registry()
    missing = sorted(defined[name] for name in handed_over & set(defined) if defined[name] not in registry)
    assert missing == []


def test_every_task_defined_is_registered_on_a_worker():
    assert sorted(set(defined_tasks().values()) - worker_registry()) == []
