"""A member's home: their organizations, org role and stack roles, and where
each came from, read-only and a page at a time.

Which SCIM group granted a role is known to the mappings app, which the tenant
core must not import: it registers an explainer here (register_explainer, in
its AppConfig.ready). Without one, SCIM-derived roles say "SCIM group mapping"."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.paginator import Page, Paginator
from django.db.models import Count

from organizations.models import AccessSource, Membership, OrgRole, StackAccess, User

ORGS_PER_PAGE = 10
GRANTS_PER_PAGE = 50


@dataclass
class Explanation:
    """Group names behind SCIM-derived access of some memberships."""

    org_role_groups: dict[int, list[str]] = field(default_factory=dict)  # membership id -> groups
    stack_role_groups: dict[tuple[int, int, int], list[str]] = field(default_factory=dict)  # (membership, stack, role)


# (memberships, grants) -> Explanation; memberships may span several orgs.
Explainer = Callable[[list[Membership], list[StackAccess]], Explanation]
_explainers: list[Explainer] = []


def register_explainer(explainer: Explainer) -> None:
    if explainer not in _explainers:
        _explainers.append(explainer)


def _explain(memberships: list[Membership], grants: list[StackAccess]) -> Explanation:
    result = Explanation()
    for explainer in _explainers:
        part = explainer(memberships, grants)
        result.org_role_groups.update(part.org_role_groups)
        result.stack_role_groups.update(part.stack_role_groups)
    return result


def _source(manual: bool, groups: list[str], scim: bool) -> str:
    parts = []
    if manual:
        parts.append("granted by hand")
    if groups:
        parts.append("SCIM group " + ", ".join(groups))
    elif scim:
        parts.append("SCIM group mapping")
    return "; ".join(parts) or "—"


def home_context(user: User, *, orgs_page: str | None, grants_page: str | None) -> dict:
    memberships_qs = (
        Membership.objects.filter(user=user, active=True)
        .select_related("organization")
        .annotate(grant_count=Count("stack_access", distinct=True))
        .order_by("organization__name", "organization_id")
    )
    orgs: Page = Paginator(memberships_qs, ORGS_PER_PAGE).get_page(orgs_page)
    grants_qs = (
        StackAccess.objects.filter(membership__user=user, membership__active=True)
        .select_related("stack", "role", "membership__organization")
        .order_by("membership__organization__name", "membership_id", "stack__name", "role__name", "source")
    )
    grants: Page = Paginator(grants_qs, GRANTS_PER_PAGE).get_page(grants_page)
    org_rows = list(orgs.object_list)
    grant_rows = list(grants.object_list)
    why = _explain(org_rows + [g.membership for g in grant_rows], grant_rows)

    for m in org_rows:
        if m.role == OrgRole.OWNER:
            m.role_source = "Owner of the organization"
        else:
            groups = why.org_role_groups.get(m.pk, [])
            m.role_source = _source(m.manual_role == m.role, groups, scim=m.manual_role != m.role)
    # One row per (org, stack, role): a role held by hand and through SCIM is one row with both sources.
    rows: dict[tuple[int, int, int], dict] = {}
    for g in grant_rows:
        key = (g.membership_id, g.stack_id, g.role_id)
        row = rows.setdefault(
            key, {"org": g.membership.organization, "stack": g.stack.name, "role": g.role.name, "manual": False, "scim": False}
        )
        row[g.source] = True
    for key, row in rows.items():
        row["source"] = _source(row[AccessSource.MANUAL], why.stack_role_groups.get(key, []), row[AccessSource.SCIM])
    return {
        "orgs": orgs,
        "org_rows": org_rows,
        "grants": grants,
        "grant_rows": list(rows.values()),
        "managed_org_ids": {m.organization_id for m in org_rows if m.role in (OrgRole.OWNER, OrgRole.ADMIN)},
    }
