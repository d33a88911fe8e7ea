"""Cached `totalResults` of unfiltered lists.

Okta's connector test (`GET /Users?startIndex=1&count=2`) and every page of an
import need the org's total number of users or groups. At 100,000 members that
COUNT(*) is an ~11 ms index-only scan, the only part of a page whose cost grows
with the org, so the unfiltered total is cached per org for a few seconds and
dropped when a member or group is created or deleted (on commit). Filtered
lists are always counted. With the in-process cache (no REDIS_URL) another
server process may serve a total up to SCIM_TOTAL_CACHE_SECONDS old; with
Redis every process sees the invalidation at once."""
from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from organizations.models import Membership
from scim.models import ScimGroup
from scim.redis_client import redis_client

USERS = "user"
GROUPS = "group"


def _key(resource: str, organization_id: int) -> str:
    return f"scim-total:{resource}:{organization_id}"


def redis_key(resource: str, organization_id: int) -> str | None:
    """The Redis key of a cached total, for a caller that reads it in a roundtrip
    of its own (scim.api.fast_reads); None when totals are not cached in Redis."""
    if getattr(settings, "SCIM_TOTAL_CACHE_SECONDS", 5) <= 0 or redis_client() is None:
        return None
    return cache.make_key(_key(resource, organization_id))


def unfiltered_total(resource: str, organization_id: int, count: Callable[[], int]) -> int:
    seconds = getattr(settings, "SCIM_TOTAL_CACHE_SECONDS", 5)
    if seconds <= 0:
        return count()
    key = _key(resource, organization_id)
    client = redis_client()
    try:
        if client is not None:  # one plain command (Django stores ints unpickled)
            raw = client.get(cache.make_key(key))
            cached = None if raw is None else int(raw)
        else:
            cached = cache.get(key)
    except Exception:  # a cache outage must not fail the SCIM call
        return count()
    if cached is not None:
        return cached
    total = count()
    try:
        if client is not None:
            client.set(cache.make_key(key), total, ex=seconds)
        else:
            cache.set(key, total, seconds)
    except Exception:
        pass
    return total


def forget(resource: str, organization_id: int) -> None:
    def drop() -> None:
        key = _key(resource, organization_id)
        client = redis_client()
        try:
            if client is not None:
                client.delete(cache.make_key(key))
            else:
                cache.delete(key)
        except Exception:
            pass

    drop()  # now, for reads inside this transaction
    transaction.on_commit(drop)  # and after commit, for everyone else


def _membership_changed(sender, instance, created: bool = True, **kwargs) -> None:
    if created:
        forget(USERS, instance.organization_id)


def _group_changed(sender, instance, created: bool = True, **kwargs) -> None:
    if created:
        forget(GROUPS, instance.organization_id)


def connect() -> None:
    post_save.connect(_membership_changed, sender=Membership, dispatch_uid="scim-total-membership-save")
    post_delete.connect(_membership_changed, sender=Membership, dispatch_uid="scim-total-membership-delete")
    post_save.connect(_group_changed, sender=ScimGroup, dispatch_uid="scim-total-group-save")
    post_delete.connect(_group_changed, sender=ScimGroup, dispatch_uid="scim-total-group-delete")
