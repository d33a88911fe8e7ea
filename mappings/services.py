"""Scheduling access recomputes, the events other apps report, and editing
group mappings. The recompute itself (derive and write the difference) is
mappings.access; this module decides when it runs (inline, or as a job for
mappings.tasks) and which members it covers."""
from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import Count

from organizations import audit
from organizations.audit import Actor
from organizations.audit_actions import GROUP_MAPPING_CREATE, GROUP_MAPPING_DELETE, GROUP_MAPPING_UPDATE
from organizations.background import enqueue
from organizations.guardrails import LastAdminError, is_person
from organizations.models import Membership, Organization, OrgRole, Stack, StackRole, User
from organizations.services import ServiceError
from organizations.signin.access import managers_who_can_sign_in
from scim.models import AppInstallation, ScimGroup, ScimGroupMember

from .access import (
    BATCH_SIZE,
    admin_by_hand,
    admin_through_another_group,
    in_any_group,
    job_actor,
    load_rules,
    org_role_derived,
    recompute_memberships,
)
from .models import MAPPABLE_ORG_ROLES, GroupMapping, GroupMappingStackRole, RecomputeJob
from .tasks import recompute_group_access


MAPPABLE_ROLE_VALUES = frozenset(value for value, _ in MAPPABLE_ORG_ROLES)


class MappingError(ServiceError):
    """A mapping the domain rules refuse (another org's group/stack/role, Owner as role)."""


# --- scheduling: inline when small, a Celery job when large -------------------


def _job_actor_fields(actor: Actor) -> dict:
    if isinstance(actor, User):
        return {"actor_user": actor}
    if isinstance(actor, AppInstallation):
        return {"actor_installation": actor}
    return {}


def schedule_recompute(
    organization: Organization, membership_ids: Iterable[int], *, actor: Actor, reason: str
) -> RecomputeJob | None:
    """Apply the change inside the caller's transaction when it touches at most
    ACCESS_SYNC_LIMIT members; otherwise record a RecomputeJob (its progress shows
    on the SCIM tab) and hand it to a worker once the transaction commits, so the
    worker sees the committed mapping. Returns the job, or None when done inline."""
    ids = sorted(set(membership_ids))
    if len(ids) <= settings.ACCESS_SYNC_LIMIT:
        recompute_memberships(ids, actor=actor)
        return None
    job = RecomputeJob.objects.create(
        organization=organization,
        reason=reason[:255],
        total=len(ids),
        membership_ids=ids,
        **_job_actor_fields(actor),
    )
    transaction.on_commit(lambda: enqueue(recompute_group_access, job.pk))
    return job


def active_jobs(organization: Organization):
    return RecomputeJob.objects.filter(organization=organization, status__in=RecomputeJob.ACTIVE)


def last_failed_job(organization: Organization) -> RecomputeJob | None:
    """The org's latest job, if it failed for good: the SCIM tab says so until a
    later job (any mapping save) re-derives access again."""
    last = RecomputeJob.objects.filter(organization=organization).only("pk", "status", "reason", "done", "total").first()
    return last if last is not None and last.status == RecomputeJob.Status.FAILED else None


# --- events the rest of the app reports ---------------------------------------


def stack_created(stack: Stack, *, actor: Actor) -> None:
    """A new stack gains the roles of every all-stacks mapping."""
    groups = list(
        GroupMapping.objects.filter(
            organization_id=stack.organization_id, all_stacks_role__isnull=False
        ).values_list("group_id", flat=True)
    )
    if not groups:
        return
    member_ids = ScimGroupMember.objects.filter(group_id__in=groups).values_list("membership_id", flat=True)
    schedule_recompute(
        stack.organization, member_ids.distinct(), actor=actor, reason=f"New stack {stack.name}"
    )


def group_members_changed(
    membership_ids: Iterable[int], *, actor: Actor, group_id: int | None = None, organization: Organization | None = None
) -> int:
    """The one call the SCIM API makes, inside its transaction, after any change to
    group membership, a group's deletion (with the member ids collected before
    deleting; the mapping cascades with the group), or a user's activation state.
    `group_id`: the one group whose members changed. A group without a mapping
    grants nothing, so joining or leaving it changes nobody's access: one query
    instead of a recompute (asked in the statement that locks the members when
    they are re-derived inline). Returns how many members changed now (0 when
    handed to a worker)."""
    ids = sorted(set(membership_ids))
    if not ids:
        return 0
    if len(ids) <= settings.ACCESS_SYNC_LIMIT:
        return recompute_memberships(ids, actor=actor, organization=organization, if_group_mapped=group_id)
    if group_id is not None and not GroupMapping.objects.filter(group_id=group_id).exists():
        return 0
    first = Membership.objects.select_related("organization").filter(pk__in=ids).first()
    if first is None:
        return 0
    schedule_recompute(first.organization, ids, actor=actor, reason="SCIM group membership change")
    return 0


# --- editing mappings ---------------------------------------------------------


def _describe(mapping: GroupMapping | None) -> dict | None:
    """Audit shape of a mapping, by names (ids alone would not survive deletions)."""
    if mapping is None:
        return None
    return {
        "group": mapping.group.display_name,
        "org_role": mapping.org_role,
        "all_stacks_role": mapping.all_stacks_role.name if mapping.all_stacks_role_id else None,
        "stack_roles": {
            sr.stack.name: sr.role.name
            for sr in mapping.stack_roles.select_related("stack", "role").order_by("stack__name", "stack_id")
        },
    }


def _check_role(org: Organization, role: StackRole | None) -> None:
    if role is not None and role.organization_id not in (None, org.pk):
        raise MappingError(f"The stack role {role.name!r} belongs to another organization.")


def _member_ids(group_id: int) -> list[int]:
    return list(ScimGroupMember.objects.filter(group_id=group_id).values_list("membership_id", flat=True))


def _check_an_admin_stays(mapping: GroupMapping | None, new_org_role: str | None, *, actor: Actor) -> None:
    """A mapping edited by a person must not take Admin away from the last Owner
    or Admin who can sign in (organizations.guardrails). Checked before the
    change, so it holds when the recompute runs later on a worker too: someone
    who can sign in keeps Admin if they are the Owner, hold it by hand, are not
    in this group, or are in another group mapped to Admin. One query."""
    if mapping is None or mapping.org_role != OrgRole.ADMIN or new_org_role == OrgRole.ADMIN or not is_person(actor):
        return
    org = mapping.organization
    capable = managers_who_can_sign_in(org)
    keeps = (
        ~org_role_derived()
        | admin_by_hand()
        | ~in_any_group([mapping.group_id])
        | admin_through_another_group(mapping.group_id)
    )
    if capable.exists() and not capable.filter(keeps).exists():
        raise LastAdminError(
            f"Every Owner or Admin of {org.name} who can sign in is Admin through the SCIM group "
            f"{mapping.group.display_name}; make someone else an Admin by hand first. Nothing was changed."
        )


@transaction.atomic
def save_mapping(
    org: Organization,
    group,
    *,
    org_role: str,
    stack_roles: dict[Stack, StackRole | None],
    all_stacks_role: StackRole | None,
    actor: Actor,
) -> GroupMapping:
    """Create or replace the mapping of a SCIM group. `stack_roles` is the whole
    desired set: stacks absent from it, or mapped to None, get no role from this
    group. The group's members are re-derived (inline or by a worker)."""
    if group.organization_id != org.pk:
        raise MappingError("That SCIM group belongs to another organization.")
    if org_role not in MAPPABLE_ROLE_VALUES:
        raise MappingError(
            "A group can map to the Admin or Member role only; the Owner changes only by transferring ownership."
        )
    for stack, role in stack_roles.items():
        if stack.organization_id != org.pk:
            raise MappingError(f"The stack {stack.name!r} belongs to another organization.")
        _check_role(org, role)
    _check_role(org, all_stacks_role)

    # Lock the group: concurrent edits of one mapping serialise (and a group being
    # deleted over SCIM cannot be mapped half-way).
    group = ScimGroup.objects.select_for_update().filter(pk=group.pk).first()
    if group is None:
        raise MappingError("That SCIM group no longer exists; it was deleted by the identity provider.")
    mapping = GroupMapping.objects.filter(group=group).select_related("organization", "group").first()
    _check_an_admin_stays(mapping, org_role, actor=actor)
    before = _describe(mapping)
    if mapping is None:
        mapping = GroupMapping(organization=org, group=group)
    mapping.org_role = org_role
    mapping.all_stacks_role = all_stacks_role
    mapping.save()
    wanted = {stack.pk: role.pk for stack, role in stack_roles.items() if role is not None}
    existing = {sr.stack_id: sr for sr in mapping.stack_roles.all()}
    stale = [sr.pk for stack_id, sr in existing.items() if wanted.get(stack_id) != sr.role_id]
    if stale:
        GroupMappingStackRole.objects.filter(pk__in=stale).delete()
    fresh = [
        GroupMappingStackRole(mapping=mapping, stack_id=stack_id, role_id=role_id)
        for stack_id, role_id in wanted.items()
        if stack_id not in existing or existing[stack_id].role_id != role_id
    ]
    if fresh:
        GroupMappingStackRole.objects.bulk_create(fresh)
    after = _describe(mapping)
    if after == before:
        return mapping
    audit.record(
        org,
        actor,
        GROUP_MAPPING_CREATE if before is None else GROUP_MAPPING_UPDATE,
        mapping,
        before=before,
        after=after,
        target_label=group.display_name,
    )
    schedule_recompute(org, _member_ids(group.pk), actor=actor, reason=f"Mapping of {group.display_name} saved")
    return mapping


@transaction.atomic
def delete_mapping(mapping: GroupMapping, *, actor: Actor) -> None:
    """Remove a mapping; its group's members lose exactly what it granted."""
    mapping = (
        GroupMapping.objects.select_for_update(of=("self",))
        .select_related("group", "organization")
        .filter(pk=mapping.pk)
        .first()
    )
    if mapping is None:
        raise MappingError("That mapping was already removed.")
    org, group = mapping.organization, mapping.group
    _check_an_admin_stays(mapping, None, actor=actor)
    before = _describe(mapping)
    audit.record(org, actor, GROUP_MAPPING_DELETE, mapping, before=before, target_label=group.display_name)
    mapping.delete()
    schedule_recompute(org, _member_ids(group.pk), actor=actor, reason=f"Mapping of {group.display_name} removed")


def member_counts(
    org: Organization, *, mapping: GroupMapping | None = None, mappings: Iterable[GroupMapping] | None = None
) -> dict[int, int]:
    """Members per mapped group, in one query (the SCIM tab's "affects N members");
    `mapping` or `mappings`: only those (a page of the list)."""
    qs = GroupMapping.objects.filter(organization=org)
    if mapping is not None:
        qs = qs.filter(pk=mapping.pk)
    if mappings is not None:
        qs = qs.filter(pk__in=[m.pk for m in mappings])
    return dict(qs.annotate(n=Count("group__memberships")).values_list("pk", "n"))


__all__ = [
    "BATCH_SIZE",
    "MappingError",
    "active_jobs",
    "delete_mapping",
    "group_members_changed",
    "job_actor",
    "load_rules",
    "recompute_memberships",
    "save_mapping",
    "schedule_recompute",
    "stack_created",
]
