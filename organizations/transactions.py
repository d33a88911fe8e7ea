"""Service transactions without savepoints where nothing can be kept half-way.

A service function is one transaction (`@service_atomic`): called on its own it
opens one, called inside another it nests, as `transaction.atomic` does, with a
savepoint so that its caller may catch its refusal and go on. A caller that
rolls back everything on any error (a SCIM write: `all_or_nothing()`) needs no
savepoints: each costs two round trips to the database and spares nothing,
since the whole call rolls back anyway. Inside `all_or_nothing()` the services
join its transaction without them."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from typing import TypeVar

from django.db import transaction

_whole: ContextVar[bool] = ContextVar("orgdesk_all_or_nothing", default=False)

F = TypeVar("F", bound=Callable)


@contextmanager
def all_or_nothing() -> Iterator[None]:
    """One transaction that rolls back whole on any error; the services called
    inside it write no savepoints."""
    with transaction.atomic():
        token = _whole.set(True)
        try:
            yield
        finally:
            _whole.reset(token)


def service_atomic(func: F) -> F:
    @wraps(func)
    def inner(*args, **kwargs):
        with transaction.atomic(savepoint=not _whole.get()):
            return func(*args, **kwargs)

    return inner  # type: ignore[return-value]
