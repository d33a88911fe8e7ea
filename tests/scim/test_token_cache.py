"""The verified-token cache (scim.tokens): with Redis, a token that passed every
check is not looked up again on the next requests, and whatever makes a token
stop working takes effect at once, in this process and in others."""
from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from organizations import services as org_services
from scim import installations, tokens
from scim.models import MarketplaceApp, SecretToken

pytestmark = [pytest.mark.redis, pytest.mark.django_db, pytest.mark.usefixtures("forget_tokens")]


@pytest.fixture
def installed(org, owner):
    installations.enable_scim(org, actor=owner.user)
    app = MarketplaceApp.objects.get(slug="okta-generic-scim")
    return installations.install_app(org, app, actor=owner.user)


def queries(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def warm(secret: str, uid: str) -> None:
    """First use: looks up the row and writes last_used_at; second: remembers it."""
    assert isinstance(tokens.check(secret, uid), SecretToken)
    assert isinstance(tokens.check(secret, uid), SecretToken)


def test_a_remembered_token_costs_no_query(redis_cache, org, installed):
    _, issued = installed
    warm(issued.secret, org.uid)
    token = None

    def call():
        nonlocal token
        token = tokens.check(issued.secret, org.uid)

    assert queries(call) == 0
    assert token.installation.organization.uid == org.uid
    # every request gets objects of its own
    assert tokens.check(issued.secret, org.uid).installation.organization is not token.installation.organization


def test_a_remembered_row_still_needs_the_secret(redis_cache, org, installed):
    _, issued = installed
    warm(issued.secret, org.uid)
    forged = issued.secret[:-4] + ("AAAA" if not issued.secret.endswith("AAAA") else "BBBB")
    assert isinstance(tokens.check(forged, org.uid), tokens.Refusal)
    assert isinstance(tokens.check(issued.secret, "someotherorguid00000"), tokens.Refusal)


def test_regenerating_stops_the_old_token_at_once(redis_cache, org, owner, installed):
    installation, issued = installed
    warm(issued.secret, org.uid)
    new = installations.regenerate_token(installation, actor=owner.user)
    assert isinstance(tokens.check(issued.secret, org.uid), tokens.Refusal)
    assert isinstance(tokens.check(new.secret, org.uid), SecretToken)


@pytest.mark.parametrize("change", ["uninstall", "disable", "downgrade"])
def test_whatever_stops_a_token_stops_it_at_once(redis_cache, org, owner, installed, change):
    installation, issued = installed
    warm(issued.secret, org.uid)
    if change == "uninstall":
        installations.uninstall_app(installation, actor=owner.user)
    elif change == "disable":
        installations.disable_scim(org, actor=owner.user)
    else:
        org_services.change_plan(org, "team", actor=owner.user)
    assert isinstance(tokens.check(issued.secret, org.uid), tokens.Refusal)


def test_a_change_made_by_another_process_is_seen(redis_cache, org, installed):
    """Another process saving the token changes the version in Redis; this
    process's memory is untouched, and yet the next request looks the row up."""
    _, issued = installed
    warm(issued.secret, org.uid)
    SecretToken.objects.filter(pk=issued.token.pk).update(revoked_at=timezone.now())  # no signal here
    assert isinstance(tokens.check(issued.secret, org.uid), SecretToken)  # within AUTH_CACHE_SECONDS
    redis_cache.set(cache.make_key(tokens.AUTH_VERSION_KEY), "changed-elsewhere")
    assert isinstance(tokens.check(issued.secret, org.uid), tokens.Refusal)


def test_a_raw_update_is_seen_once_the_cache_time_is_over(redis_cache, org, installed, monkeypatch):
    _, issued = installed
    warm(issued.secret, org.uid)
    SecretToken.objects.filter(pk=issued.token.pk).update(revoked_at=timezone.now())
    later = tokens.time.monotonic() + tokens.AUTH_CACHE_SECONDS + 1
    monkeypatch.setattr(tokens.time, "monotonic", lambda: later)
    assert isinstance(tokens.check(issued.secret, org.uid), tokens.Refusal)


def test_the_cache_time_runs_from_the_database_read_not_from_the_last_use(redis_cache, org, installed, monkeypatch):
    """A token in constant use is read from the database again every
    AUTH_CACHE_SECONDS: using the remembered row does not remember it anew, or
    a raw update would never be seen while an identity provider keeps calling."""
    _, issued = installed
    start = tokens.time.monotonic()
    monkeypatch.setattr(tokens.time, "monotonic", lambda: start)
    warm(issued.secret, org.uid)
    SecretToken.objects.filter(pk=issued.token.pk).update(revoked_at=timezone.now())
    for elapsed in (tokens.AUTH_CACHE_SECONDS / 2, tokens.AUTH_CACHE_SECONDS - 1):
        monkeypatch.setattr(tokens.time, "monotonic", lambda elapsed=elapsed: start + elapsed)
        assert queries(lambda: tokens.check(issued.secret, org.uid)) == 0  # remembered, unchanged
    monkeypatch.setattr(tokens.time, "monotonic", lambda: start + tokens.AUTH_CACHE_SECONDS + 1)
    assert isinstance(tokens.check(issued.secret, org.uid), tokens.Refusal)


def test_a_lost_version_key_is_not_trusted(redis_cache, org, installed):
    """After a Redis restart the key is gone: rows remembered before it are not
    used, and the key gets a new random value."""
    _, issued = installed
    warm(issued.secret, org.uid)
    redis_cache.delete(cache.make_key(tokens.AUTH_VERSION_KEY))
    assert queries(lambda: tokens.check(issued.secret, org.uid)) == 1
    assert redis_cache.get(cache.make_key(tokens.AUTH_VERSION_KEY)) not in (None, b"0")


def test_redis_down_means_the_database_decides(redis_cache, org, installed, settings):
    _, issued = installed
    warm(issued.secret, org.uid)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    assert queries(lambda: tokens.check(issued.secret, org.uid)) == 1
    SecretToken.objects.filter(pk=issued.token.pk).update(revoked_at=timezone.now())
    assert isinstance(tokens.check(issued.secret, org.uid), tokens.Refusal)


def test_without_redis_nothing_is_remembered(org, installed, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    _, issued = installed
    warm(issued.secret, org.uid)
    assert queries(lambda: tokens.check(issued.secret, org.uid)) == 1
