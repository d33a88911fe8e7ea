"""Each assertion ID is accepted once, until its NotOnOrAfter (python3-saml keeps
no replay cache). The shared cache (Redis) answers in one SET NX; when the
cache is process-local (no REDIS_URL) or unreachable, a unique row in the
database decides instead, so a replay is refused in every configuration."""
from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from organizations.models import Organization

from .models import UsedAssertion

logger = logging.getLogger("orgdesk.saml")
KEY_PREFIX = "saml-assertion"
# Kept a little past NotOnOrAfter: the validator allows that much clock skew.
_MARGIN = timedelta(seconds=60)


def _shared_cache() -> bool:
    backend = settings.CACHES["default"]["BACKEND"]
    return not backend.endswith(("LocMemCache", "DummyCache"))


def _key(org: Organization, assertion_id: str) -> str:
    digest = hashlib.sha256(assertion_id.encode()).hexdigest()[:40]
    return f"{KEY_PREFIX}:{org.pk}:{digest}"


def claim(org: Organization, assertion_id: str, not_on_or_after: datetime | None) -> bool:
    """True the first time this org sees the assertion ID, False on a replay."""
    now = timezone.now()
    until = (not_on_or_after or now + timedelta(minutes=10)) + _MARGIN + timedelta(
        seconds=settings.SAML_CLOCK_SKEW_SECONDS
    )
    if _shared_cache():
        try:
            return bool(cache.add(_key(org, assertion_id), 1, timeout=max(1, int((until - now).total_seconds()))))
        except Exception:
            logger.warning("Replay cache unreachable; using the database", exc_info=True)
    return _claim_in_database(org, assertion_id[:256], until, now)


def _claim_in_database(org: Organization, assertion_id: str, until: datetime, now: datetime) -> bool:
    UsedAssertion.objects.filter(organization=org, expires_at__lte=now).delete()
    try:
        with transaction.atomic():
            UsedAssertion.objects.create(organization=org, assertion_id=assertion_id, expires_at=until)
    except IntegrityError:
        return False
    return True
