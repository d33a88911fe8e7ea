"""The nightly consistency pass: re-derive access where it may have drifted.

Derived access is written by the access engine whenever SCIM or an admin
changes groups or mappings. A change made around it (a group deleted in a
shell, rows edited by hand) leaves stored access stale until the member's next
change. This pass re-derives every membership whose stored or derived access
can differ from the baseline (no SCIM grants, the role given by hand): members
of mapped groups, holders of SCIM-sourced stack roles, and admins. Everyone
else already has the baseline on both sides. `recompute_memberships` locks
each batch, re-reads mappings and groups, and writes (and audits, as the
system) only what differs, so a clean org costs reads only and a run that
overlaps another, or SCIM traffic, changes nothing twice."""
from __future__ import annotations

import logging

from django.db.models import Q

from organizations.models import Membership, Organization, OrgRole, StackAccess
from scim.models import ScimGroupMember

from .access import BATCH_SIZE, admin_by_hand, recompute_memberships
from .engine import DERIVED_SOURCE

logger = logging.getLogger("orgdesk.mappings.consistency")


def candidate_memberships(organization_id: int) -> list[int]:
    """Ids of the org's memberships whose access may differ from the baseline (3
    queries): the engine's rules (mappings.engine) give more than the baseline
    only through a mapped group (rules 1-3) or Admin by hand (rule 1), and only
    the engine's own rows (rule 4) or a raised org role can be stale."""
    ids = set(
        ScimGroupMember.objects.filter(
            group__organization_id=organization_id, group__mapping__isnull=False
        ).values_list("membership_id", flat=True)
    )
    ids.update(
        StackAccess.objects.filter(
            membership__organization_id=organization_id, source=DERIVED_SOURCE
        ).values_list("membership_id", flat=True)
    )
    ids.update(
        Membership.objects.filter(organization_id=organization_id)
        .filter(Q(role=OrgRole.ADMIN) | admin_by_hand())
        .values_list("pk", flat=True)
    )
    return sorted(ids)


def reconcile_organization(organization_id: int) -> int:
    """Re-derive the org's candidates, one transaction per batch; returns how
    many memberships changed."""
    ids = candidate_memberships(organization_id)
    changed = 0
    for start in range(0, len(ids), BATCH_SIZE):
        changed += recompute_memberships(ids[start : start + BATCH_SIZE], actor=None)
    if changed:
        logger.warning(
            "consistency pass: %d memberships of org %s had stale access (changed outside SCIM); re-derived",
            changed,
            organization_id,
            extra={"organization_id": organization_id, "changed": changed},
        )
    return changed


def reconcile_all() -> dict[str, int]:
    """Every org, one after the other; returns {org uid: changes} for orgs that changed."""
    changes: dict[str, int] = {}
    # A list, not a cursor held open for the hours a large pass may take.
    for org_id, uid in list(Organization.objects.order_by("pk").values_list("pk", "uid")):
        changed = reconcile_organization(org_id)
        if changed:
            changes[uid] = changed
    return changes
