"""Each pytest-xdist worker process on services of its own (`make test
PYTEST_WORKERS=2` runs the suite in two processes).

pytest-django already gives every worker a test database of its own
(test_<name>_gw0, _gw1, ...). The cache and the Celery queue are named by the
environment (CACHE_KEY_PREFIX, CELERY_QUEUE), so this module renames them per
worker: one worker's cache keys and its real Celery worker's tasks are never
another's, though both share the Redis databases of REDIS_URL and
CELERY_BROKER_URL. The real Celery workers the tests start inherit the
adjusted environment (tests/workers.py).

It runs at import time because it has to run before Django reads its
settings, which pytest-django does before any conftest.py is imported; the
pytest configuration loads it with `-p tests.parallel`, which imports a plugin
before that. Outside a worker (a serial run) it changes nothing."""
from __future__ import annotations

import os


def isolate(environ: dict[str, str] | os._Environ) -> None:
    """Suffix the cache prefix and the Celery queue with the xdist worker's id."""
    worker = environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    prefix = environ.get("CACHE_KEY_PREFIX", "")
    environ["CACHE_KEY_PREFIX"] = f"{prefix}-{worker}" if prefix else worker
    environ["CELERY_QUEUE"] = f"{environ.get('CELERY_QUEUE') or 'orgdesk'}-{worker}"


isolate(os.environ)
