"""A Celery worker process killed (SIGKILL) in the middle of an access recompute:
the task is acknowledged late and rejected on worker loss, so the broker hands
it out again; the batch that was running rolled back with its connection and the
job resumes from its last committed batch. The org ends exactly consistent:
every member's access applied once, the job done, nothing left to recompute."""
from __future__ import annotations

import time

import pytest

from mappings.models import RecomputeJob
from mappings.services import recompute_memberships
from organizations.models import AccessSource, AuditEvent, Membership, OrgRole, StackAccess
from tests import builders, workers
from tests.builders import builtin, bulk_members, ensure_builtin_roles, map_group

pytestmark = [pytest.mark.postgres, pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

MEMBERS = 6000  # 12 batches of 500: long enough to be killed mid-way
FAULTS = {"worker_kills": 0}


@pytest.fixture
def worker():
    with workers.crash_test_worker("recompute-crash") as proc:
        yield proc


def test_worker_killed_mid_recompute_leaves_the_org_consistent(worker, settings):
    settings.ACCESS_SYNC_LIMIT = 100
    ensure_builtin_roles()
    org = builders.make_org("Crash")
    stack = builders.make_stack(org, "Prod")
    members = bulk_members(org, MEMBERS, prefix="c")
    ids = [m.pk for m in members]
    group = builders.make_group(org, "Everyone", members)

    map_group(org, group, org_role=OrgRole.ADMIN, stacks={stack: "Developer"})  # schedules the job on commit
    job = RecomputeJob.objects.get(organization=org)

    # Kill the pool process as soon as the first batch has committed.
    deadline = time.monotonic() + 120
    killed_at = None
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.done > 0:
            assert job.done < job.total, "the job finished before it could be interrupted"
            FAULTS["worker_kills"] += workers.kill_pool(worker)
            killed_at = job.done
            break
        time.sleep(0.01)
    assert killed_at is not None, "the job never started"
    assert FAULTS["worker_kills"] > 0, "no pool process was found to kill"

    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status in (RecomputeJob.Status.DONE, RecomputeJob.Status.FAILED):
            break
        time.sleep(0.2)
    assert (job.status, job.done, job.error) == (RecomputeJob.Status.DONE, MEMBERS, ""), (job.status, job.done, job.error)
    assert job.done > killed_at

    # Exactly consistent: every member Admin with Developer on Prod, each applied once.
    assert Membership.objects.filter(pk__in=ids, role=OrgRole.ADMIN).count() == MEMBERS
    dev = builtin("Developer")
    rows = StackAccess.objects.filter(membership_id__in=ids, source=AccessSource.SCIM)
    assert rows.count() == MEMBERS
    assert set(rows.values_list("stack_id", "role_id").distinct()) == {(stack.pk, dev.pk)}
    assert AuditEvent.objects.filter(organization=org, action="access.recompute").count() == MEMBERS
    assert recompute_memberships(ids, actor=None) == 0
