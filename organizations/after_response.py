"""Work that runs after the response is sent.

Some requests must take the same time whether or not an address has an account
(password reset, "Sign in with SSO" by e-mail, a failed sign-in): whatever
depends on the account runs in a Celery task. With a broker the task is a plain
`.delay`; with none (tests, `make run`) tasks run eagerly, inside the request,
and would reintroduce the timing difference. So the call is kept here and run
from `django.core.signals.request_finished`, which Django sends when the WSGI
server closes the response, after the body is written (the test client closes
it too). The request id and client address of the request that scheduled the
work are put back while it runs, so its log lines and audit rows carry them.

Outside a request (a command, a Celery worker) the work runs at once."""
from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from typing import Any

from .request_context import client_address_var, current_client_address, current_request_id, request_id_var

logger = logging.getLogger("orgdesk")

Job = tuple[str, str, Callable[..., Any], tuple[Any, ...]]

_pending: contextvars.ContextVar[list[Job] | None] = contextvars.ContextVar("orgdesk_after_response", default=None)


def after_response(func: Callable[..., Any], *args: Any) -> None:
    """Run func(*args) once the response being served is closed (now if no
    request is being served). A failure is logged, never raised."""
    jobs = _pending.get()
    if jobs is None:
        _run(func, args)
        return
    jobs.append((current_request_id(), current_client_address(), func, args))


def _run(func: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        func(*args)
    except Exception:
        logger.exception("%s%s failed after the response", getattr(func, "__qualname__", func), args)


def on_request_started(**kwargs: Any) -> None:
    """Receiver of request_started: a fresh list for this request."""
    _pending.set([])


def on_request_finished(**kwargs: Any) -> None:
    """Receiver of request_finished: run what the request left, in order."""
    jobs = _pending.get()
    _pending.set(None)
    for request_id, address, func, args in jobs or ():
        tokens = (request_id_var.set(request_id), client_address_var.set(address))
        try:
            _run(func, args)
        finally:
            request_id_var.reset(tokens[0])
            client_address_var.reset(tokens[1])
