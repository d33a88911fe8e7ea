"""Celery app. With no CELERY_BROKER_URL, tasks run eagerly in-process.

A task carries the id and client address of the request that enqueued it
(message headers), so its log lines and audit rows share the request's id and
address (a password-reset request audited by the task that decides it); a
task started by beat gets an id of its own. A worker with METRICS_PORT set serves its Prometheus
metrics (recompute job durations, scheduled runs) on that port."""
import os

from celery import Celery, signals
from prometheus_client import multiprocess

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("orgdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

REQUEST_ID_HEADER = "orgdesk_request_id"
CLIENT_ADDRESS_HEADER = "orgdesk_client_address"
_tokens: dict[str, tuple] = {}


@signals.before_task_publish.connect
def _carry_request_id(headers=None, **kwargs):
    # config/__init__ imports this module before Django's settings and apps are set up.
    from organizations.request_context import current_client_address, current_request_id

    request_id, address = current_request_id(), current_client_address()
    if headers is not None and request_id:
        headers[REQUEST_ID_HEADER] = request_id
    if headers is not None and address:
        headers[CLIENT_ADDRESS_HEADER] = address


def _header(task, name: str):
    return getattr(task.request, name, None) or (task.request.headers or {}).get(name)


@signals.task_prerun.connect
def _enter_request_id(task_id=None, task=None, **kwargs):
    # config/__init__ imports this module before Django's settings and apps are set up.
    from organizations.request_context import (
        client_address_var,
        current_client_address,
        current_request_id,
        request_id_var,
    )

    # Eager tasks (no broker) run inside the request and keep its id and address.
    request_id = _header(task, REQUEST_ID_HEADER) or current_request_id() or f"task-{task_id}"
    address = _header(task, CLIENT_ADDRESS_HEADER) or current_client_address()
    _tokens[task_id] = (request_id_var.set(str(request_id)[:64]), client_address_var.set(str(address)[:45]))


@signals.task_postrun.connect
def _leave_request_id(task_id=None, **kwargs):
    # config/__init__ imports this module before Django's settings and apps are set up.
    from organizations.request_context import client_address_var, request_id_var

    tokens = _tokens.pop(task_id, None)
    if tokens is not None:
        request_id_var.reset(tokens[0])
        client_address_var.reset(tokens[1])


@signals.worker_init.connect
def _fresh_metrics_directory(**kwargs):
    """Before the pool starts: samples of a previous run of this container go."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory and os.path.isdir(directory):
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.remove(os.path.join(directory, name))


@signals.worker_ready.connect
def _serve_worker_metrics(**kwargs):
    port = os.environ.get("METRICS_PORT")
    if port:
        # config.metrics reads Django's settings, not set up yet when this module loads.
        from config.metrics import serve_worker_metrics

        serve_worker_metrics(int(port))


@signals.worker_process_shutdown.connect
def _forget_dead_pool_process(pid=None, **kwargs):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid or os.getpid())
