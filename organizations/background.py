"""Handing work to a Celery worker, and what happens when none can be reached.

Every task takes ids and is idempotent, so when the broker is unreachable
(Celery has already retried the publish) the task runs here, in this process,
instead: the work ends done now rather than left pending until someone notices
(an invitation sent, a recompute job finished). A task that fails is logged,
never raised into the request that scheduled it: it is usually called on
commit, after the change was saved, and the task records its own failure where
people see it (an invitation shown undelivered with Resend, a recompute job
marked failed on the SCIM tab)."""
from __future__ import annotations

import logging

from celery import Task, current_app
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .after_response import after_response

logger = logging.getLogger("orgdesk.background")

# What an unreachable broker looks like once Celery gives up publishing: kombu's
# wrapper, redis-py's own errors, or a refused socket.
BROKER_ERRORS: tuple[type[BaseException], ...] = (
    KombuOperationalError,
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
)


def enqueue(task: Task, *args, countdown: int | None = None) -> None:
    """Hand `task(*args)` to a worker (to start `countdown` seconds from now, if
    given); run it here, at once, if the broker is down."""
    try:
        if countdown is None:
            task.delay(*args)
        else:
            task.apply_async(args=args, countdown=countdown)
    except BROKER_ERRORS:
        logger.warning("Celery broker unavailable: running %s%s in this process", task.name, args, exc_info=True)
        try:
            task.apply(args=args, throw=True)
        except Exception:
            logger.exception("%s%s failed", task.name, args)
    except Exception:  # tasks run eagerly (no broker configured) and this one failed
        logger.exception("%s%s failed", task.name, args)


def tasks_run_eagerly() -> bool:
    """Whether .delay() runs the task here and now: what the Celery app was
    configured with (CELERY_TASK_ALWAYS_EAGER, no broker), or switched to since."""
    return bool(current_app.conf.task_always_eager)


def enqueue_after_response(task: Task, *args) -> None:
    """Enqueue for a request whose time must not depend on what the task finds.
    With a broker it is a plain enqueue (the same message whatever the
    arguments); eager tasks would run inside the request, so they run once its
    response is closed (organizations.after_response)."""
    if tasks_run_eagerly():
        after_response(enqueue, task, *args)
    else:
        enqueue(task, *args)
