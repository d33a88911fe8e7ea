"""Scheduled work on Celery beat: what is scheduled, that each task is
idempotent and runs on one node at a time, and what each one does."""
from __future__ import annotations

from datetime import timedelta

import pytest
from celery.schedules import crontab
from django.conf import settings as django_settings
from django.core.cache import cache
from django.utils import timezone

from config.celery import app
from mappings.tasks import nightly_consistency_pass
from organizations import scheduled
from organizations.models import AuditEvent, OrgRole
from organizations.signin import invitations
from organizations.signin.models import Invitation
from organizations.tasks import expire_invitations
from scim.models import ProvisioningEvent
from scim.tasks import prune_provisioning_activity
from tests import builders
from tests.builders import access_of, make_group, map_group, role_of

pytestmark = pytest.mark.django_db


def test_the_schedule_names_registered_tasks_at_the_intended_times():
    schedule = django_settings.CELERY_BEAT_SCHEDULE
    app.loader.import_default_modules()
    for entry in schedule.values():
        assert entry["task"] in app.tasks, entry["task"]
    assert set(schedule) == {
        "prune-provisioning-activity", "expire-invitations", "access-consistency-pass", "recheck-verified-domains",
        "saml-metadata-refresh", "saml-certificate-expiry", "rollup-provisioning-health", "deliver-due-invitations",
    }
    daily = schedule["recheck-verified-domains"]["schedule"]
    assert daily.hour == {4} and daily.minute == {10}
    refresh, expiry = schedule["saml-metadata-refresh"]["schedule"], schedule["saml-certificate-expiry"]["schedule"]
    assert (refresh.hour, refresh.minute) == ({2}, {15}) and (expiry.hour, expiry.minute) == ({8}, {5})
    nightly = schedule["access-consistency-pass"]["schedule"]
    assert nightly.hour == {3} and nightly.minute == {30}
    assert schedule["prune-provisioning-activity"]["schedule"] == timedelta(hours=1)
    assert schedule["rollup-provisioning-health"]["schedule"] == timedelta(minutes=1)
    hourly = schedule["expire-invitations"]["schedule"]
    assert isinstance(hourly, crontab) and len(hourly.hour) == 24 and len(hourly.minute) == 1
    assert app.conf.timezone == "UTC"


def test_a_task_whose_lease_is_held_elsewhere_skips_its_run():
    ran = []
    cache.add(scheduled._lease_key("demo"), "another-node", timeout=60)
    assert scheduled.run_exclusively("demo", lambda: ran.append(1), ttl=60) == scheduled.SKIPPED
    assert ran == []
    cache.delete(scheduled._lease_key("demo"))
    assert scheduled.run_exclusively("demo", lambda: "done", ttl=60) == "done"
    assert cache.get(scheduled._lease_key("demo")) is None  # released after the run


def test_a_failed_run_releases_its_lease():
    def boom():
        raise RuntimeError("x")

    with pytest.raises(RuntimeError):
        scheduled.run_exclusively("demo", boom, ttl=60)
    assert scheduled.run_exclusively("demo", lambda: 1, ttl=60) == 1


def test_pruning_deletes_expired_activity_once(org, settings):
    settings.SCIM_ACTIVITY_RETENTION_DAYS = 30
    old = ProvisioningEvent.objects.create(organization=org, method="GET", path="/x", status=200, duration_ms=1)
    ProvisioningEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    fresh = ProvisioningEvent.objects.create(organization=org, method="GET", path="/y", status=200, duration_ms=1)
    assert prune_provisioning_activity.apply().get() == 1
    assert prune_provisioning_activity.apply().get() == 0
    assert list(ProvisioningEvent.objects.values_list("pk", flat=True)) == [fresh.pk]


def test_the_consistency_pass_repairs_access_left_by_a_group_deleted_in_a_shell(org, plain_member, owner):
    web = builders.make_stack(org, "Web")
    group = make_group(org, "Eng", [plain_member])
    map_group(org, group, org_role=OrgRole.ADMIN, stacks={web: "Developer"})
    hand_admin = builders.make_member(org, "hand@example.com", role=OrgRole.ADMIN)
    assert role_of(plain_member) == OrgRole.ADMIN and access_of(plain_member) == {("Web", "Developer")}

    group.delete()  # around the services: the mapping cascades, the access stays
    assert role_of(plain_member) == OrgRole.ADMIN

    assert nightly_consistency_pass.apply().get() == {org.uid: 1}
    assert role_of(plain_member) == OrgRole.MEMBER and access_of(plain_member) == set()
    assert role_of(hand_admin) == OrgRole.ADMIN and role_of(owner) == OrgRole.OWNER  # granted by hand: kept
    event = AuditEvent.objects.filter(action="access.recompute", target_id=str(plain_member.pk)).first()
    assert event.actor_type == "system"
    # Idempotent: a second run finds nothing to change and writes nothing.
    events = AuditEvent.objects.count()
    assert nightly_consistency_pass.apply().get() == {}
    assert AuditEvent.objects.count() == events


def test_the_consistency_pass_leaves_consistent_orgs_alone(org, plain_member, django_assert_max_num_queries):
    group = make_group(org, "Eng", [plain_member])
    map_group(org, group, org_role=OrgRole.ADMIN)
    for _ in range(3):
        builders.make_org()
    events = AuditEvent.objects.count()
    with django_assert_max_num_queries(40):
        assert nightly_consistency_pass.apply().get() == {}
    assert AuditEvent.objects.count() == events


def test_invitation_expiry_closes_the_links_whose_time_is_up():
    org = builders.make_org("Acme", owner_email="owner@acme.example")
    owner = builders.owner_of(org).user
    _, old = invitations.invite_member(org, "slow@acme.example", role=OrgRole.MEMBER, actor=owner)
    _, fresh = invitations.invite_member(org, "fresh@acme.example", role=OrgRole.MEMBER, actor=owner)
    Invitation.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(days=1))

    assert expire_invitations.apply().get() == 1
    assert expire_invitations.apply().get() == 0  # idempotent: nothing left to close
    old.refresh_from_db(), fresh.refresh_from_db()
    assert old.revoked_reason == invitations.REASON_EXPIRED and fresh.revoked_at is None
