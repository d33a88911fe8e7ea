"""Faults: PostgreSQL or Redis unreachable for a while. SCIM answers 503 SCIM
JSON with Retry-After (never a 500 page, never a hang) and recovers by itself;
rate limiting fails open when Redis is down."""
from __future__ import annotations

import pytest
from django.db import InterfaceError, OperationalError, connection

from tests.scim.api.helpers import new_user, patch_body

from .snapshot import diff, snapshot

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


def assert_503(response) -> None:
    assert response.status_code == 503, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/scim+json")
    doc = response.json()
    assert doc["schemas"] == [ERROR_SCHEMA] and doc["status"] == "503" and "retry" in doc["detail"].lower()
    assert int(response["Retry-After"]) >= 1


@pytest.mark.django_db
@pytest.mark.parametrize("error", [OperationalError("server closed the connection unexpectedly"),
                                   InterfaceError("connection already closed")])
def test_database_down_during_token_check_is_503_then_recovers(scim, monkeypatch, error):
    def down(*args, **kwargs):
        raise error

    monkeypatch.setattr("scim.api.auth.check", down)
    assert_503(scim.get("/Users"))
    assert_503(scim.post("/Users", new_user("a@example.com")))
    monkeypatch.undo()
    assert scim.get("/Users").status_code == 200


@pytest.mark.django_db
def test_database_down_in_the_middle_of_a_write_is_503_and_writes_nothing(scim, org, monkeypatch):
    from scim import provisioning

    member = scim.post("/Users", new_user("b@example.com")).json()["id"]
    group = scim.post("/Groups", {"displayName": "G"}).json()["id"]
    before = snapshot()

    def down(*args, **kwargs):
        raise OperationalError("could not receive data from server: Connection reset by peer")

    # A group write announces its change (provisioning._notify) after writing
    # the links, the group's version and its audit entry (one statement on
    # PostgreSQL, scim.group_diff; several elsewhere): all must be rolled back
    # with it. A User write's audit entry is part of the statement that writes
    # the membership (scim.rawsql.write_with); the receivers come after it: the
    # membership deactivated, its audit and activity entries must be rolled
    # back with them.
    monkeypatch.setattr(provisioning, "_notify", down)
    monkeypatch.setattr(provisioning, "membership_active_changed", type("Down", (), {"send": staticmethod(down)}))
    assert_503(scim.patch(f"/Groups/{group}", patch_body({"op": "add", "path": "members", "value": [{"value": member}]})))
    assert_503(scim.patch(f"/Users/{member}", patch_body({"op": "replace", "value": {"active": False}})))
    after = snapshot()
    assert after == before, diff(before, after)
    monkeypatch.undo()
    assert scim.patch(f"/Groups/{group}", patch_body({"op": "add", "path": "members", "value": [{"value": member}]})).status_code == 204


@pytest.mark.django_db
def test_outages_outside_scim_are_not_turned_into_scim_json(client, monkeypatch):
    """The admin keeps Django's own error handling; only /scim/ speaks SCIM."""
    from scim.api.middleware import ScimApiMiddleware

    request = type("R", (), {"path_info": "/admin/", "method": "GET", "path": "/admin/"})()
    assert ScimApiMiddleware(lambda r: None).process_exception(request, OperationalError("x")) is None


@pytest.mark.django_db
def test_redis_down_rate_limiting_fails_open(scim, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    settings.SCIM_RATE_LIMIT_PER_MINUTE = 1
    assert [scim.get("/Users").status_code for _ in range(3)] == [200, 200, 200]
    assert scim.client.get(scim.url("/Users"), HTTP_AUTHORIZATION="Bearer wrong").status_code == 401


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_real_postgres_connection_refused_is_503_and_recovers(scim, settings):
    """Point the live connection at a closed port: requests get 503 quickly (no
    hang), and once it points back, the next request works without a restart."""
    real = dict(connection.settings_dict)
    try:
        connection.close()
        connection.settings_dict["PORT"] = "1"  # nothing listens there: connection refused
        connection.settings_dict["OPTIONS"] = {**real.get("OPTIONS", {}), "connect_timeout": 2}
        for _ in range(2):
            assert_503(scim.get("/Users"))
            assert_503(scim.post("/Users", new_user("c@example.com")))
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(real)
    assert scim.get("/Users").status_code == 200
    assert scim.post("/Users", new_user("c@example.com")).status_code == 201


@pytest.mark.django_db
def test_broker_down_when_a_big_recompute_is_scheduled_still_applies_access(
    scim, org, settings, monkeypatch, django_capture_on_commit_callbacks
):
    """Redis (the Celery broker) unreachable as a group push needs a background
    recompute: the SCIM call still succeeds and the access is applied (in-process),
    no job is left pending forever."""
    from kombu.exceptions import OperationalError as BrokerDown

    from mappings import tasks
    from mappings.models import RecomputeJob
    from organizations.models import Membership, OrgRole
    from tests.builders import map_group

    settings.ACCESS_SYNC_LIMIT = 2
    ids = [scim.post("/Users", new_user(f"u{i}@example.com")).json()["id"] for i in range(5)]
    group_id = scim.post("/Groups", {"displayName": "Admins"}).json()["id"]
    from scim.models import ScimGroup

    map_group(org, ScimGroup.objects.get(pk=group_id), org_role=OrgRole.ADMIN)

    def broker_down(*args, **kwargs):
        raise BrokerDown("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.recompute_group_access, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = scim.patch(
            f"/Groups/{group_id}", patch_body({"op": "add", "path": "members", "value": [{"value": i} for i in ids]})
        )
    assert response.status_code == 204
    assert callbacks, "the job was handed over on commit"
    job = RecomputeJob.objects.get(organization=org)
    assert job.status == RecomputeJob.Status.DONE and job.done == 5
    assert set(Membership.objects.filter(pk__in=ids).values_list("role", flat=True)) == {OrgRole.ADMIN}
