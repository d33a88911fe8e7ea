"""The tenant gate: who may act on which organization. Every admin page, REST
view, management command and service asks here; nothing decides it inline.

The rule (docs/ARCHITECTURE.md, "Tenancy"): a superuser (an operator) may act on
every org; an active account may manage an org where it holds an active Owner or
Admin membership; only the Owner hands over ownership. Anyone else is answered as
if the org did not exist (404), so another tenant's existence never leaks."""
from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest

from .audit import Actor
from .models import MANAGER_ROLES, Membership, Organization, OrgRole, User
from .paging import in_org
from .services import ServiceError, find_account
from .signin.sessions import SignInRequired, check_can_open  # noqa: F401  (SignInRequired: what the gate raises)

_MANAGED_IDS_ATTR = "_orgdesk_managed_org_ids"


class NotPermitted(ServiceError):
    """The acting user is not an active Owner or Admin of the org (nor a superuser)."""


def _active(user) -> bool:
    return user.is_authenticated and user.is_active


def is_operator(user) -> bool:
    """A superuser: sees and manages every org, and the site-wide catalogs."""
    return _active(user) and user.is_superuser


def managed_organizations(user) -> QuerySet[Organization]:
    """Orgs whose settings this account may open: all for a superuser, otherwise
    those where it is an active Owner or Admin."""
    if not _active(user):
        return Organization.objects.none()
    if user.is_superuser:
        return Organization.objects.all()
    return Organization.objects.filter(
        memberships__user=user, memberships__active=True, memberships__pending=False, memberships__role__in=MANAGER_ROLES
    ).distinct()


def can_use_admin(user) -> bool:
    """Whether the admin site lets the account in: an operator, or the Owner or
    an Admin of some org (a Member is sent to their home page)."""
    return is_operator(user) or managed_organizations(user).exists()


def _manager_membership(user, organization: Organization) -> tuple[str, bool] | None:
    """(role, Strict mode exception) of the Owner or Admin membership the user
    actively holds in the org, else None. One indexed statement."""
    # The org as a parameter (paging.in_org) and no ORDER BY: believed to hold a
    # row or two (grown since the last ANALYZE), the org was otherwise walked
    # through (organization, role, active) to find the account, on every page.
    row = (
        Membership.objects.in_effect()
        .filter(in_org(organization), user=user, role__in=MANAGER_ROLES)
        .values_list("role", "sso_exempt")
        .order_by()[:1]
    )
    return next(iter(row), None)


def can_manage(user, organization: Organization) -> bool:
    if not _active(user):
        return False
    return user.is_superuser or _manager_membership(user, organization) is not None


def can_transfer_ownership(user, organization: Organization) -> bool:
    """Only the active Owner (or a superuser) hands over ownership: an Admin must
    not be able to make themselves the Owner."""
    if not _active(user):
        return False
    if user.is_superuser:
        return True
    return Membership.objects.in_effect().filter(organization=organization, user=user, role=OrgRole.OWNER).exists()


def ensure_can_manage(organization: Organization, actor: Actor) -> None:
    """For services: a user actor must manage *this* org. Non-user actors (None =
    the system or an operator's command, or an app installation) are trusted callers."""
    if isinstance(actor, User) and not can_manage(actor, organization):
        raise NotPermitted(f"{actor.email} is not an Owner or Admin of {organization.name}.")


def get_managed_org_or_404(request: HttpRequest, org_uid: str) -> Organization:
    """The org, if the request's user may manage it; anything else is a 404.

    The session must also be one that may open this org
    (organizations.signin.sessions.check_can_open, raising SignInRequired): a
    session another org's IdP signed in does not count, and an org in SSO Strict
    mode is opened only from its own IdP's sign-in (its Owner keeps the password
    as the break-glass path; an operator's password session opens every org)."""
    org = Organization.objects.filter(uid=org_uid).select_related("sso").first()
    user = request.user
    if org is None or not _active(user):
        raise Http404("No such organization.")
    if user.is_superuser:
        return org
    found = _manager_membership(user, org)
    if found is None:
        raise Http404("No such organization.")
    role, exempt = found
    check_can_open(request, org, role, exempt=exempt)
    return org


def manager_account(organization: Organization, email: str) -> User | None:
    """For commands' --actor: the account with this e-mail, if it may manage the org."""
    user = find_account(email)
    return user if user is not None and can_manage(user, organization) else None


# --- the Django admin asks for permissions many times per page -------------------------


def managed_org_ids(request: HttpRequest) -> frozenset[int]:
    """Ids of the orgs this request's user manages, computed once per request."""
    ids = getattr(request, _MANAGED_IDS_ATTR, None)
    if ids is None:
        ids = frozenset(managed_organizations(request.user).values_list("pk", flat=True))
        setattr(request, _MANAGED_IDS_ATTR, ids)
    return ids


def may_manage_org_id(request: HttpRequest, org_id: int | None = None) -> bool:
    """Whether the user manages the org with this id (None: manages any org)."""
    if request.user.is_superuser:
        return True
    ids = managed_org_ids(request)
    return bool(ids) if org_id is None else org_id in ids


def scope_to_managed(request: HttpRequest, queryset: QuerySet, org_lookup: str, *, shared: bool = False) -> QuerySet:
    """Rows of `queryset` in orgs the user manages, `org_lookup` leading from the
    model to its Organization ("" for Organization itself). shared: rows without
    an org (built-in stack roles) are visible to every manager too."""
    if request.user.is_superuser:
        return queryset
    condition = Q(**{f"{org_lookup}__in" if org_lookup else "pk__in": managed_org_ids(request)})
    if shared:
        condition |= Q(**{f"{org_lookup}__isnull": True})
    return queryset.filter(condition)
