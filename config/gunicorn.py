"""gunicorn settings for production (`gunicorn -c config/gunicorn.py config.wsgi`).

Workers: sync workers, GUNICORN_WORKERS of them (0 or unset: the default), 2 x CPU cores + 1
(gunicorn's own rule: one worker per core computing while another waits on
PostgreSQL or Redis). A SCIM request spends most of its time waiting on the
database, so the formula holds; size PostgreSQL's max_connections for
nodes x workers (+ Celery concurrency), each worker keeping one connection
(CONN_MAX_AGE). Cores are those this process may use (a container's CPU set).

Preloaded: the app is imported in the master before the workers fork (preload_app
below), so recycling a worker costs a fork, not an import. What a worker would
still redo, or undo, each time it is recycled (when_ready, pre_fork and
worker_exit below) is done once in the master, or skipped.

Metrics: with PROMETHEUS_MULTIPROC_DIR set, every worker writes its samples
there; the directory is emptied when the server starts and a dead worker's
gauges are dropped (config/metrics.py)."""
import atexit
import gc
import os
import shutil
import sys

from prometheus_client import multiprocess

cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS") or 0) or 2 * cores + 1
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))  # Okta gives up on a SCIM call after about 60 s
graceful_timeout = 30
keepalive = 5  # behind nginx's upstream keep-alive
max_requests = 2000  # recycle workers now and then (memory held by a large import)
max_requests_jitter = 200
# The app is imported once, in the master, and every worker is forked from it: a
# worker recycled by max_requests then starts in milliseconds instead of importing
# Django and the app again (0.8-1.8 s of CPU each time, over 2,000 requests
# 0.4-0.9 ms each: as much again as Django's own request cycle costs). Nothing
# connects at import time (tests/deploy/test_deployment_files.py): database and Redis
# connections, the activity writer's timer thread and the metrics files are all
# made in the worker on first use.
preload_app = True
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None  # the proxy logs requests (with the request id)
errorlog = "-"
# The proxy sets X-Forwarded-Proto; Django reads it (SECURE_PROXY_SSL_HEADER).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


# gunicorn's own lines (worker boots, timeouts) in the app's format: JSON in production.
if (os.environ.get("LOG_FORMAT") or ("text" if os.environ.get("DEBUG", "true").lower() in {"1", "true", "yes", "on"}
                                      else "json")) == "json":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from config.logging import logging_config

    logconfig_dict = logging_config(fmt="json", level=os.environ.get("LOG_LEVEL", "INFO"))
    logconfig_dict["loggers"]["gunicorn.error"] = {"level": "INFO", "handlers": ["console"], "propagate": False}


def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory, exist_ok=True)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)


# Recycling a worker (max_requests) cost about 0.5 s of CPU, 0.24 ms on each of
# its 2,000 requests, more than Django's whole cycle for the bare view
# (benchmarks/README.md, "What recycling a worker cost"). In the worker itself:
# its first request imported the URL conf and every view module (44 ms), and
# its exit ran the interpreter's finalization, which collected and freed the
# whole heap it shared with the master, copying each page it touched (230 ms).
# With the three hooks below a recycle costs about 20 ms (recycling every 300
# requests: 3,171 req/s of the bare view against 3,596 without recycling).


def when_ready(server):
    """In the master, after the app is loaded and before the first worker is
    forked: import the URL conf and build the resolver (each worker did both on
    its first request), then freeze what the master holds, so that no worker's
    garbage collector walks, and so copies, the pages it shares with the
    master. Nothing here connects (tests/deploy/test_deployment_files.py)."""
    from django.urls import get_resolver  # Django is set up only once the app is loaded

    get_resolver().reverse_dict  # reading it imports the URL conf and fills the resolver
    gc.freeze()


def pre_fork(server, worker):
    """Anything the master allocated since (a worker's bookkeeping) is frozen too."""
    gc.freeze()


def worker_exit(server, worker):
    """A worker leaving normally (recycled, or the server stopping) runs what
    the process registered to run at exit (the activity it still holds is
    written, logs flushed), closes its connections and ends there, skipping
    the interpreter's finalization: the heap it would tear down object by
    object is the master's, and goes with the process anyway. A worker
    leaving on an error exits as usual, with its status."""
    leaving = sys.exc_info()[1]
    if not isinstance(leaving, SystemExit) or leaving.code not in (0, None):
        return
    from django.db import connections  # loaded with the app

    atexit._run_exitfuncs()  # what sys.exit would run before finalizing
    connections.close_all()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
