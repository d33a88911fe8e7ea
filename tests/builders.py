"""Builders of test data for every suite, and the few readers tests share.

Each builder goes through the service function a real request calls
(organizations.services for what the Settings pages do, scim.installations for
the SCIM tab, scim.provisioning for what the SCIM API does, mappings.services
for the Group Mapping section), so the audit entry is written and the signals
fire as in production: a builder that deactivates a member makes the access
engine re-derive that member's access, as an IdP's PATCH would. Actors are
None (the system) unless the real request has a person behind it.

The exceptions say so in their docstring: bulk_members (scale tests insert in
bulk, with the rows the service writes: tests/test_builders.py compares them),
verified_domain (no DNS; tests/signin/domains checks DNS) and make_operator
(operators are made by the `createsuperuser` command, not by a service)."""
from __future__ import annotations

import itertools

from django.contrib.auth.hashers import make_password

from mappings.models import GroupMapping
from mappings.services import save_mapping
from organizations import audit, services
from organizations.models import (
    AccessSource,
    Membership,
    MembershipEmail,
    Organization,
    OrgRole,
    Stack,
    StackAccess,
    StackRole,
    User,
)
from scim import installations, provisioning
from scim.models import AppInstallation, MarketplaceApp, ScimGroup
from scim.tokens import issue_token

_seq = itertools.count(1)
BATCH = 2000  # rows per INSERT of the bulk builders
PASSWORD = "correct-horse-battery-staple-42"


# --- organizations and their people -------------------------------------------


def make_org(name: str | None = None, *, owner_email: str | None = None, **kwargs) -> Organization:
    n = next(_seq)
    return services.create_organization(
        name or f"Org {n}",
        owner_email=owner_email or f"owner{n}@example.com",
        owner_password=PASSWORD,
        actor=None,
        **kwargs,
    )


def owner_of(org: Organization) -> Membership:
    return org.memberships.select_related("user").get(role=OrgRole.OWNER)


def make_member(org: Organization, email: str | None = None, *, role: str = OrgRole.MEMBER) -> Membership:
    """A joined member with the password PASSWORD. An account that exists already
    is asked to join (pending) and accepts, as the person would."""
    email = email or f"person{next(_seq)}@example.com"
    if services.find_account(email) is None:
        return services.add_member(org, email, role=role, password=PASSWORD, actor=None)
    membership = services.add_member(org, email, role=role, actor=None)
    return services.join(membership, actor=membership.user) if membership.pending else membership


def make_provisioned(org: Organization, email: str | None = None, *, role: str = OrgRole.MEMBER) -> Membership:
    """A person the org brought in: a new account of its own, with no password
    (services.add_member without one). The org's IdP links it at the first sign-in."""
    return services.add_member(org, email or f"person{next(_seq)}@example.com", role=role, actor=None)


def make_stack(org: Organization, name: str | None = None) -> Stack:
    return services.create_stack(org, name or f"Stack {next(_seq)}", actor=None)


def verified_domain(org: Organization, domain: str):
    """The org holds `domain` verified, written directly as if its TXT record had
    been checked (no DNS server needed): tests of what a verified domain changes.
    tests/signin/domains verifies domains over DNS through the services."""
    from django.utils import timezone

    from organizations.signin.domains.models import VerifiedDomain

    return VerifiedDomain.objects.create(organization=org, domain=domain, verified_at=timezone.now(),
                                         last_checked_at=timezone.now())


def make_operator(email: str = "root@orgdesk.example", password: str = PASSWORD):
    """An operator (superuser) as they sign in: with two-factor authentication on
    (organizations/signin/mfa: operators must have it). Made as `createsuperuser`
    makes one, with a confirmed TOTP device whose key is random; tests that type
    codes enrol through the pages instead (tests/signin/mfa/test_mfa.py)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = User.objects.create_superuser(email, password)
    TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    return user


def bulk_members(org: Organization, n: int, *, prefix: str = "person", scim_managed: bool = False,
                 role: str = OrgRole.MEMBER, active: bool = True) -> list[Membership]:
    """n members named `<prefix><batch>x<i>@<org>.example`, given name Given<i>,
    family name <Prefix>family, for tests of scale (a page, a statement count that
    must not grow with the org).

    Inserted in bulk: a handful of INSERTs, no password hashing, no service call
    per member and so no signal (nothing subscribes to a new member made by hand;
    a SCIM push's invitation e-mail is not sent). The rows are those the service
    writes, audit entries included: scim_managed=False is
    organizations.services.add_member (then set_member_active(False) for
    active=False); scim_managed=True is scim.provisioning.provision_user of a
    profile with that userName, name, e-mail and externalId. tests/test_builders.py
    compares a bulk-built member with a service-built one."""
    if scim_managed and role != OrgRole.MEMBER:
        raise ValueError("A SCIM push makes Members; a mapping makes Admins (map_group).")
    if role == OrgRole.OWNER:
        raise ValueError("There is one Owner per org (make_org).")
    batch = next(_seq)
    domain = f"{org.uid[:8].lower()}.example"
    users = [
        User(
            email=f"{prefix}{batch}x{i}@{domain}",
            first_name=f"Given{i}",
            last_name=f"{prefix.capitalize()}family",
            password=make_password(None),
            is_staff=role in services.MANAGER_ROLES,
            created_by_org=org,
        )
        for i in range(n)
    ]
    User.objects.bulk_create(users, batch_size=BATCH)
    members = [
        Membership(
            organization=org, user=u, role=role, manual_role=role, active=active, scim_managed=scim_managed,
            scim_username=u.email, given_name=u.first_name, family_name=u.last_name,
            scim_external_id=f"ext-{u.pk}" if scim_managed else "",
        )
        for u in users
    ]
    Membership.objects.bulk_create(members, batch_size=BATCH)
    MembershipEmail.objects.bulk_create(
        [MembershipEmail(membership=m, value=m.scim_username, type="work", primary=True) for m in members],
        batch_size=BATCH,
    )
    events = []
    for m in members:
        target = {"target_type": Membership._meta.label_lower, "target_id": str(m.pk)}
        if scim_managed:
            profile = provisioning.UserProfile(
                user_name=m.scim_username, external_id=m.scim_external_id, given_name=m.given_name,
                family_name=m.family_name, emails=[{"value": m.scim_username}], active=active,
            )
            events.append(audit.build_event(org, None, "scim.user.provision", target_label=m.scim_username,
                                            after=profile.snapshot(), **target))
            continue
        label = f"{m.user.email} in {org.name}"
        events.append(audit.build_event(org, None, "membership.add", target_label=label,
                                        after={"email": m.user.email, "role": role, "pending": False}, **target))
        if not active:
            events.append(audit.build_event(org, None, "membership.deactivate", target_label=m.user.email,
                                            before={"active": True, "scim_managed": False},
                                            after={"active": False}, **target))
    audit.bulk_record(events)
    return members


def grow_org(org: Organization, start: int, stop: int) -> None:
    """Members start..stop-1 of `org`, pushed over SCIM (bulk_members), and as
    many groups named `Group <i> of <org>`, in bulk and in id order: the sizes the
    PostgreSQL plan tests grow an org to. The groups are inserted as
    scim.provisioning.create_group inserts an empty group, without its audit entry."""
    label = org.uid.lower()
    bulk_members(org, stop - start, prefix=f"u{start}-", scim_managed=True)
    ScimGroup.objects.bulk_create(
        [ScimGroup(organization=org, display_name=f"Group {i} of {label}") for i in range(start, stop)],
        batch_size=BATCH,
    )


# --- SCIM ----------------------------------------------------------------------


def enable_scim(org: Organization, app_slug: str = "okta-generic-scim") -> tuple[AppInstallation, str]:
    """What the Owner does on the SCIM tab: SCIM on, the app installed, its first
    token issued (scim.installations). Returns (installation, secret)."""
    # get_or_create: transactional tests flush the catalog the migration seeded.
    app, _ = MarketplaceApp.objects.get_or_create(
        slug=app_slug, defaults={"name": app_slug, "vendor": "Test", "summary": "SCIM app for tests"}
    )
    owner = owner_of(org).user
    installations.enable_scim(org, actor=owner)
    installation, issued = installations.install_app(org, app, actor=owner)
    return installation, issued.secret


def bare_scim_token(org: Organization) -> str:
    """SCIM on, the app installed and a token issued, written straight to their
    rows (no service, no audit entry): for tests that count what the SCIM calls
    after it cost. Returns the token's secret."""
    org.scim_enabled = True
    org.save(update_fields=["scim_enabled"])
    app, _ = MarketplaceApp.objects.get_or_create(
        slug="okta-generic-scim", defaults={"name": "Okta", "vendor": "Test", "summary": "SCIM app for tests"}
    )
    installation = AppInstallation.objects.create(organization=org, app=app)
    return issue_token(installation).secret


def make_group(org: Organization, name: str, members=()) -> ScimGroup:
    """What the SCIM API does on POST /Groups (scim.provisioning.create_group)."""
    return provisioning.create_group(org, name, actor=None, member_ids=[m.pk for m in members])


def join_group(group: ScimGroup, *members: Membership) -> None:
    """What the SCIM API does when an IdP adds members to a group."""
    provisioning.change_group_members(group, actor=None, add=[m.pk for m in members])


def leave_group(group: ScimGroup, *members: Membership) -> None:
    """What the SCIM API does when an IdP removes members from a group."""
    provisioning.change_group_members(group, actor=None, remove=[m.pk for m in members])


def delete_group(group: ScimGroup) -> None:
    """What the SCIM API does on DELETE /Groups/{id}."""
    provisioning.delete_group(group, actor=None)


def set_active(membership: Membership, active: bool) -> Membership:
    """What the SCIM API does on `active` in a PATCH or PUT of /Users/{id}: the
    membership_active_changed signal makes the access engine re-derive access."""
    return provisioning.set_membership_active(membership, active, actor=None)


# --- group mappings ------------------------------------------------------------


BUILTIN_ROLES = ("Admin", "Developer", "Content Manager")


def ensure_builtin_roles() -> None:
    """The built-in roles come from a data migration; a transactional test that ran
    before (live_server, worker) flushed them, so tests that need them recreate them."""
    for name in BUILTIN_ROLES:
        StackRole.objects.get_or_create(organization=None, name=name, defaults={"builtin": True})


def builtin(name: str) -> StackRole:
    role = StackRole.objects.filter(organization=None, name=name).first()
    if role is None:
        ensure_builtin_roles()
        role = StackRole.objects.get(organization=None, name=name)
    return role


def map_group(org, group, org_role="member", stacks=None, all_stacks=None, actor=None) -> GroupMapping:
    """What the Group Mapping form saves (mappings.services.save_mapping); stack
    roles may be given by built-in name."""
    return save_mapping(
        org,
        group,
        org_role=org_role,
        stack_roles={stack: builtin(role) if isinstance(role, str) else role for stack, role in (stacks or {}).items()},
        all_stacks_role=builtin(all_stacks) if isinstance(all_stacks, str) else all_stacks,
        actor=actor,
    )


# --- readers -------------------------------------------------------------------


def access_of(membership: Membership, source: str | None = AccessSource.SCIM) -> set[tuple[str, str]]:
    """The member's (stack, role) names, of one source (None: every source)."""
    rows = StackAccess.objects.filter(membership=membership)
    if source:
        rows = rows.filter(source=source)
    return {(stack, role) for stack, role in rows.values_list("stack__name", "role__name")}


def role_of(membership: Membership) -> str:
    return Membership.objects.get(pk=membership.pk).role


def sign_in_page(page, base_url: str, email: str, password: str = PASSWORD) -> None:
    """A Playwright page signs in at the admin's sign-in form."""
    page.goto(f"{base_url}/admin/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
