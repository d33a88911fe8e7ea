"""Every SCIM call, writes included, is authenticated and counted in one Redis
command once this process remembers its token (scim.api.auth.check_request),
with request objects of its own; a change to the token is seen at once."""
from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from scim import tokens
from scim.api import ratelimit
from scim.models import AppInstallation, SecretToken
from scim.redis_client import redis_client
from tests import builders
from tests.builders import enable_scim
from tests.scim.api.helpers import ScimClient, patch_body, redis_commands_sent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("forget_tokens"), pytest.mark.redis]


@pytest.fixture
def scim(org) -> ScimClient:
    return ScimClient(org, enable_scim(org)[1], Client())


def deactivate(active: bool) -> dict:
    return patch_body({"op": "replace", "value": {"active": active}})


def test_a_write_with_a_remembered_token_is_checked_and_counted_in_one_command(redis_cache, scim, org, monkeypatch):
    member = builders.make_provisioned(org, "writer@acme.example")
    for active in (False, True):  # the first use writes last_used_at, the second remembers the token
        assert scim.patch(f"/Users/{member.pk}", deactivate(active)).status_code == 200
    count = ratelimit.request_count(AppInstallation.objects.get(organization=org).pk)
    before = int(redis_client().get(count.minute_key))

    def not_called(*args, **kwargs):
        raise AssertionError("the regular token check ran for a remembered token")

    monkeypatch.setattr("scim.api.auth.check", not_called)
    sent = redis_commands_sent(monkeypatch)
    assert scim.patch(f"/Users/{member.pk}", deactivate(False)).status_code == 200
    assert sent[0] == "EVALSHA" and "pipeline" not in sent and "GET" not in sent, sent
    assert int(redis_client().get(count.minute_key)) == before + 1


def test_a_write_gets_objects_of_its_own_a_read_the_shared_ones(redis_cache, scim, org):
    member = builders.make_provisioned(org, "reader@acme.example")
    for active in (False, True):
        assert scim.patch(f"/Users/{member.pk}", deactivate(active)).status_code == 200
    secret = scim.token
    own = [tokens.remembered(secret, org.uid) for _ in range(2)]
    shared = [tokens.remembered(secret, org.uid, shared=True) for _ in range(2)]
    assert own[0][0] is not own[1][0] and own[0][0].installation.organization is not own[1][0].installation.organization
    assert own[0][0].pk == own[1][0].pk == shared[0][0].pk
    assert shared[0][0] is shared[1][0]


def test_a_token_revoked_after_it_was_remembered_cannot_write(redis_cache, scim, org):
    member = builders.make_provisioned(org, "late@acme.example")
    for active in (False, True):
        assert scim.patch(f"/Users/{member.pk}", deactivate(active)).status_code == 200
    token = SecretToken.objects.get(installation__organization=org)
    token.revoked_at = timezone.now()
    token.save()
    response = scim.patch(f"/Users/{member.pk}", deactivate(False))
    assert response.status_code == 401
    member.refresh_from_db()
    assert member.active


def test_a_remembered_token_over_the_limit_is_refused_on_a_write_too(redis_cache, scim, org, settings, monkeypatch):
    from types import SimpleNamespace

    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: 1_800_000_000.5))  # one second throughout
    settings.SCIM_RATE_LIMIT_BURST = 4
    member = builders.make_provisioned(org, "burst@acme.example")
    for active in (False, True):  # counted by the regular check; the token is then remembered
        assert scim.patch(f"/Users/{member.pk}", deactivate(active)).status_code == 200
    statuses = [scim.patch(f"/Users/{member.pk}", deactivate(i % 2 == 0)).status_code for i in range(5)]
    assert statuses == [200, 200, 429, 429, 429]
