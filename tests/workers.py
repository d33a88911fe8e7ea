"""Real Celery worker processes for the tests marked celery_worker: the
session's shared worker (tests/conftest.py) and the crash tests' own worker,
whose pool process a test kills mid-task."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def worker_env(**extra: str) -> dict[str, str]:
    """This process's environment with DATABASE_URL naming the test database."""
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    env["DATABASE_URL"] = (
        f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        if db["ENGINE"] == "django.db.backends.postgresql"
        else f"sqlite:///{db['NAME']}"
    )
    env.update(extra)
    return env


def start(args: list[str], env: dict[str, str], log_name: str) -> tuple[subprocess.Popen, IO[str]]:
    """`celery -A config worker` with `args`, its output in var/`log_name`
    (var/celery-test-worker-gw0.log under pytest-xdist: one log per test process)."""
    (ROOT / "var").mkdir(exist_ok=True)
    test_process = os.environ.get("PYTEST_XDIST_WORKER")
    if test_process:
        stem, dot, extension = log_name.rpartition(".")
        log_name = f"{stem}-{test_process}{dot}{extension}" if dot else f"{log_name}-{test_process}"
    log = open(ROOT / "var" / log_name, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", *args, "--loglevel", "INFO"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    return proc, log


def stop(proc: subprocess.Popen, log: IO[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def pool_processes(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def kill_pool(proc: subprocess.Popen) -> int:
    """SIGKILL the worker's pool processes, as an out-of-memory kill would; how many."""
    children = pool_processes(proc.pid)
    for child in children:
        os.kill(child, signal.SIGKILL)
    return len(children)


@contextmanager
def crash_test_worker(name: str, **extra_env: str) -> Iterator[subprocess.Popen]:
    """A worker of our own (one prefork pool process) on a queue of our own, so
    killing its pool process cannot disturb the session's shared worker; tasks
    sent meanwhile go to that queue."""
    # The Celery app only once a worker is wanted, as the session worker does.
    from config.celery import app

    queue = f"orgdesk_{name}_{os.getpid()}"
    proc, log = start(
        ["-Q", queue, "-c", "1", "-P", "prefork", "-n", f"{name}-{os.getpid()}@%h"],
        worker_env(CELERY_QUEUE=queue, **extra_env), f"celery-{name}-worker.log",
    )
    previous_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    deadline = time.monotonic() + 60
    while not pool_processes(proc.pid):
        if proc.poll() is not None or time.monotonic() > deadline:
            app.conf.task_default_queue = previous_queue
            stop(proc, log)
            pytest.fail(f"the crash-test worker did not start; see {log.name}")
        time.sleep(0.1)
    try:
        yield proc
    finally:
        app.conf.task_default_queue = previous_queue
        stop(proc, log)
