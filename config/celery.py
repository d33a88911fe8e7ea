"""Celery app. With no CELERY_BROKER_URL, tasks run eagerly in-process.

A task carries the id of the request that enqueued it (a message header), so
its log lines and audit rows share the request's id; a task started by beat
gets one of its own. A worker with METRICS_PORT set serves its Prometheus
metrics (recompute job durations, scheduled runs) on that port."""
import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("orgdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

REQUEST_ID_HEADER = "orgdesk_request_id"
_tokens: dict[str, object] = {}


@signals.before_task_publish.connect
def _carry_request_id(headers=None, **kwargs):
    from organizations.request_context import current_request_id

    request_id = current_request_id()
    if headers is not None and request_id:
        headers[REQUEST_ID_HEADER] = request_id


@signals.task_prerun.connect
def _enter_request_id(task_id=None, task=None, **kwargs):
    from organizations.request_context import current_request_id, request_id_var

    given = getattr(task.request, REQUEST_ID_HEADER, None) or (task.request.headers or {}).get(REQUEST_ID_HEADER)
    # Eager tasks (no broker) run inside the request and keep its id.
    request_id = given or current_request_id() or f"task-{task_id}"
    _tokens[task_id] = request_id_var.set(str(request_id)[:64])


@signals.task_postrun.connect
def _leave_request_id(task_id=None, **kwargs):
    from organizations.request_context import request_id_var

    token = _tokens.pop(task_id, None)
    if token is not None:
        request_id_var.reset(token)


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
        from config.metrics import serve_worker_metrics

        serve_worker_metrics(int(port))


@signals.worker_process_shutdown.connect
def _forget_dead_pool_process(pid=None, **kwargs):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())
