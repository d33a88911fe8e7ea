"""The suite runs in several pytest-xdist processes (tests/parallel.py): each
names its own cache prefix and Celery queue, and emptying the cache between
tests empties only this process's keys."""
from __future__ import annotations

import os

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache

from tests.conftest import clear_cache
from tests.hardening import figures
from tests.parallel import isolate


def test_a_serial_run_keeps_the_environment():
    environ = {"CACHE_KEY_PREFIX": "site", "CELERY_QUEUE": "orgdesk_ci"}
    isolate(environ)
    assert environ == {"CACHE_KEY_PREFIX": "site", "CELERY_QUEUE": "orgdesk_ci"}


def test_each_worker_gets_a_prefix_and_queue_of_its_own():
    first, second = ({"PYTEST_XDIST_WORKER": w, "CELERY_QUEUE": "orgdesk_ci"} for w in ("gw0", "gw1"))
    isolate(first)
    isolate(second)
    assert (first["CACHE_KEY_PREFIX"], first["CELERY_QUEUE"]) == ("gw0", "orgdesk_ci-gw0")
    assert (second["CACHE_KEY_PREFIX"], second["CELERY_QUEUE"]) == ("gw1", "orgdesk_ci-gw1")


def test_a_configured_prefix_and_the_default_queue_are_kept_as_the_stem():
    environ = {"PYTEST_XDIST_WORKER": "gw3", "CACHE_KEY_PREFIX": "site"}
    isolate(environ)
    assert (environ["CACHE_KEY_PREFIX"], environ["CELERY_QUEUE"]) == ("site-gw3", "orgdesk-gw3")


def test_this_process_runs_on_the_queue_its_environment_names():
    """The settings were read after tests/parallel.py adjusted the environment."""
    queue = django_settings.CELERY_TASK_DEFAULT_QUEUE
    assert queue == os.environ.get("CELERY_QUEUE", "orgdesk")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        assert queue.endswith(f"-{worker}")


def test_clearing_the_local_cache_empties_it():
    cache.set("k", 1)
    clear_cache()
    assert cache.get("k") is None


@pytest.mark.redis
def test_clearing_a_prefixed_redis_cache_leaves_other_prefixes_alone(redis_cache):
    prefix = django_settings.CACHES["default"]["KEY_PREFIX"]
    others = [f"{prefix}-gw1:1:k", f"other-{prefix}:1:k"]  # a longer prefix, and one it ends
    for key in others:
        redis_cache.set(key, 1, ex=60)
    cache.set("k", 1)
    cache.set("j", 2)
    try:
        clear_cache()
        assert cache.get("k") is None and cache.get("j") is None
        assert [redis_cache.get(key) for key in others] == [b"1", b"1"]
    finally:
        redis_cache.delete(*others)


def test_the_hardening_figures_of_two_processes_are_summed():
    total = {}
    figures.add(total, {"fuzz": {"inputs": 3, "refused": 2, "accepted": 1, "server_errors": 0}})
    figures.add(total, {"fuzz": {"inputs": 4, "refused": 4, "accepted": 0, "server_errors": 0},
                        "crash": {"worker_kills": 1}})
    assert figures.lines(total) == [
        "hardening: 7 hostile SCIM inputs tried: 6 refused with 4xx SCIM errors, 1 accepted, 0 server errors",
        "hardening: 1 Celery pool process(es) SIGKILLed mid-recompute",
    ]
    assert figures.lines({}) == []
