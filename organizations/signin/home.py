"""A member's home: their organizations, org role and stack roles, and where
each came from, read-only and a page at a time.

Which SCIM group granted a role comes from organizations.role_sources (the
mappings app registers its explainer there)."""
from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.db.models import Count, Q

from organizations.models import MANAGER_ROLES, AccessSource, Membership, StackAccess, User
from organizations.role_sources import explain, org_role_source, source_text

ORGS_PER_PAGE = 10
GRANTS_PER_PAGE = 50


def home_context(user: User, *, openable: Q, orgs_page: str | None, grants_page: str | None) -> dict:
    """`openable`: the orgs this session may open (organizations.signin.sessions):
    a session one org's IdP signed in shows that org only."""
    memberships_qs = (
        Membership.objects.in_effect()
        .filter(user=user)
        .filter(openable)
        .select_related("organization")
        .annotate(grant_count=Count("stack_access", distinct=True))
        .order_by("organization__name", "organization_id")
    )
    orgs: Page = Paginator(memberships_qs, ORGS_PER_PAGE).get_page(orgs_page)
    grants_qs = (
        StackAccess.objects.filter(
            membership__in=Membership.objects.in_effect().filter(user=user).filter(openable).values("pk")
        )
        .select_related("stack", "role", "membership__organization")
        .order_by("membership__organization__name", "membership_id", "stack__name", "role__name", "source")
    )
    grants: Page = Paginator(grants_qs, GRANTS_PER_PAGE).get_page(grants_page)
    org_rows = list(orgs.object_list)
    grant_rows = list(grants.object_list)
    why = explain(org_rows + [g.membership for g in grant_rows], grant_rows)

    for m in org_rows:
        m.role_source = org_role_source(m, why.org_role_groups.get(m.pk, []))
    # One row per (org, stack, role): a role held by hand and through SCIM is one row with both sources.
    rows: dict[tuple[int, int, int], dict] = {}
    for g in grant_rows:
        key = (g.membership_id, g.stack_id, g.role_id)
        row = rows.setdefault(
            key, {"org": g.membership.organization, "stack": g.stack.name, "role": g.role.name, "manual": False, "scim": False}
        )
        row[g.source] = True
    for key, row in rows.items():
        row["source"] = source_text(row[AccessSource.MANUAL], why.stack_role_groups.get(key, []), row[AccessSource.SCIM])
    return {
        "orgs": orgs,
        "org_rows": org_rows,
        "grants": grants,
        "grant_rows": list(rows.values()),
        "managed_org_ids": {m.organization_id for m in org_rows if m.role in MANAGER_ROLES},
    }
