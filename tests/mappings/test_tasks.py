"""The background recompute: batches, progress, resume, overlap, failure, and
(on PostgreSQL with a real worker) a mapping change for a group of 2,000."""
from __future__ import annotations

import time

import pytest

from mappings import tasks
from mappings.models import RecomputeJob
from mappings.services import schedule_recompute
from organizations.models import AuditEvent, Membership, OrgRole, StackAccess
from scim.models import ScimGroupMember
from tests import builders
from tests.builders import access_of, builtin, bulk_members, ensure_builtin_roles, make_group, map_group, role_of


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(tasks, "BATCH_SIZE", 4)


@pytest.mark.django_db
class TestJobs:
    @pytest.fixture(autouse=True)
    def _always_a_job(self, settings):
        settings.ACCESS_SYNC_LIMIT = 2

    def test_a_job_walks_its_members_in_batches_and_reports_progress(self, org, small_batches, owner):
        members = bulk_members(org, 10)
        group = make_group(org, "Big", members)
        from mappings.models import GroupMapping

        GroupMapping.objects.create(organization=org, group=group, org_role="admin")
        job = schedule_recompute(org, [m.pk for m in members], actor=owner.user, reason="test")
        assert job is not None and job.total == 10
        progress = []
        while tasks.run_batch(job.pk):
            job.refresh_from_db()
            progress.append((job.status, job.done))
        job.refresh_from_db()
        assert progress == [(RecomputeJob.Status.RUNNING, 4), (RecomputeJob.Status.RUNNING, 8)]
        assert (job.status, job.done, job.finished_at is not None) == (RecomputeJob.Status.DONE, 10, True)
        assert {role_of(m) for m in members} == {OrgRole.ADMIN}
        # Audit entries written by the worker name the person who made the change.
        assert set(
            AuditEvent.objects.filter(action="access.recompute").values_list("actor_label", flat=True)
        ) == {owner.user.email}

    def test_running_a_finished_job_again_changes_nothing(self, org, small_batches):
        members = bulk_members(org, 6)
        job = schedule_recompute(org, [m.pk for m in members], actor=None, reason="test")
        tasks.recompute_group_access.apply(args=[job.pk])
        events = AuditEvent.objects.count()
        tasks.recompute_group_access.apply(args=[job.pk])
        job.refresh_from_db()
        assert (job.status, job.done) == (RecomputeJob.Status.DONE, 6)
        assert AuditEvent.objects.count() == events

    def test_a_retried_job_resumes_after_the_last_committed_batch(self, org, small_batches, monkeypatch):
        members = bulk_members(org, 10)
        make_group(org, "Big", members)
        job = schedule_recompute(org, [m.pk for m in members], actor=None, reason="test")
        tasks.run_batch(job.pk)
        seen = []
        real = tasks.recompute_memberships
        monkeypatch.setattr(tasks, "recompute_memberships", lambda ids, actor: seen.append(list(ids)) or real(ids, actor=actor))
        tasks.recompute_group_access.apply(args=[job.pk])
        assert seen == [[m.pk for m in members[4:8]], [m.pk for m in members[8:]]]

    def test_a_later_mapping_change_wins_when_two_jobs_overlap(self, org, small_batches, settings):
        """Job A was scheduled for the old mapping, B for the new one; B finishes
        first, then A runs late: A re-reads the mapping, so the new one stays applied."""
        settings.ACCESS_SYNC_LIMIT = 3
        web = builders.make_stack(org, "Web")
        members = bulk_members(org, 9)
        group = make_group(org, "Big", members)
        map_group(org, group, "admin", {web: "Developer"})  # job A (on commit: not run in this test)
        job_a = RecomputeJob.objects.get()
        map_group(org, group, "member", {web: "Content Manager"})  # job B
        job_b = RecomputeJob.objects.exclude(pk=job_a.pk).get()
        tasks.recompute_group_access.apply(args=[job_b.pk])
        tasks.recompute_group_access.apply(args=[job_a.pk])
        assert {role_of(m) for m in members} == {OrgRole.MEMBER}
        assert all(access_of(m) == {("Web", "Content Manager")} for m in members)

    def test_a_job_that_fails_is_marked_failed_with_the_error(self, org, monkeypatch):
        members = bulk_members(org, 3)
        job = schedule_recompute(org, [m.pk for m in members], actor=None, reason="test")

        def boom(ids, actor):
            raise ValueError("engine exploded")

        monkeypatch.setattr(tasks, "recompute_memberships", boom)
        with pytest.raises(ValueError):
            tasks.recompute_group_access.apply(args=[job.pk], throw=True)
        job.refresh_from_db()
        assert job.status == RecomputeJob.Status.FAILED
        assert "engine exploded" in job.error

    def test_a_job_for_deleted_members_finishes(self, org):
        job = RecomputeJob.objects.create(organization=org, reason="gone", total=2, membership_ids=[998, 999])
        tasks.recompute_group_access.apply(args=[job.pk])
        job.refresh_from_db()
        assert (job.status, job.done) == (RecomputeJob.Status.DONE, 2)


SCALE = 2_000


@pytest.mark.postgres
@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_applies_a_mapping_change_for_2000_members(celery_worker_process, settings):
    settings.ACCESS_SYNC_LIMIT = 200
    ensure_builtin_roles()
    org = builders.make_org("Scale")
    web, api = builders.make_stack(org, "Web"), builders.make_stack(org, "API")
    members = bulk_members(org, SCALE, prefix="scale")
    group = make_group(org, "Everyone", members)
    started = time.monotonic()
    map_group(org, group, "admin", {web: "Developer"}, all_stacks="Content Manager")
    job = RecomputeJob.objects.get(organization=org)
    assert job.total == SCALE
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status in (RecomputeJob.Status.DONE, RecomputeJob.Status.FAILED):
            break
        time.sleep(0.25)
    elapsed = time.monotonic() - started
    print(f"\n2,000-member recompute on the worker: {elapsed:.1f} s (job {job.status} {job.done}/{job.total})")
    assert (job.status, job.done, job.error) == (RecomputeJob.Status.DONE, SCALE, "")

    ids = [m.pk for m in members]
    assert Membership.objects.filter(pk__in=ids, role=OrgRole.ADMIN).count() == SCALE
    expected = {(web.pk, builtin("Developer").pk), (web.pk, builtin("Content Manager").pk), (api.pk, builtin("Content Manager").pk)}
    held: dict[int, set] = {}
    for membership_id, stack_id, role_id in StackAccess.objects.filter(membership_id__in=ids, source="scim").values_list(
        "membership_id", "stack_id", "role_id"
    ):
        held.setdefault(membership_id, set()).add((stack_id, role_id))
    assert len(held) == SCALE
    assert all(pairs == expected for pairs in held.values())
    assert ScimGroupMember.objects.filter(group=group).count() == SCALE
