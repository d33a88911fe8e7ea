"""Beat-scheduled housekeeping of the organizations app (schedule: CELERY_BEAT_SCHEDULE)."""
from __future__ import annotations

import importlib
import logging

from celery import shared_task

from .scheduled import run_exclusively

logger = logging.getLogger("orgdesk.scheduled")

# Invitation expiry lives in the sign-in package: a function taking no
# arguments, idempotent, returning how many invitations it closed. Looked up
# by name so this module does not import the sign-in package at start-up.
EXPIRE_INVITATIONS_HOOK = ("organizations.signin.invitations", "expire_invitations")


def _expire_invitations() -> int:
    module_name, function_name = EXPIRE_INVITATIONS_HOOK
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return 0  # no invitations in this build
    expire = getattr(module, function_name, None)
    if expire is None:
        logger.info("%s.%s does not exist: no invitations to expire", module_name, function_name)
        return 0
    return expire()


@shared_task(acks_late=True, ignore_result=True)
def expire_invitations() -> int | str:
    return run_exclusively("expire-invitations", _expire_invitations, ttl=3600)
