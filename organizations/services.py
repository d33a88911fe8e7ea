"""Every change to organizations, members and stacks. Each function runs in a
transaction, writes its audit entry and takes a keyword-only `actor`."""
from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, Q, QuerySet
from django.db.models import signals as model_signals
from django.db.models.constants import OnConflict
from django.db.models.functions import Lower

from . import audit, signals
from .audit import Actor
from .audit_actions import (
    MEMBERSHIP_ADD, MEMBERSHIP_CHANGE_ROLE, MEMBERSHIP_DEACTIVATE, MEMBERSHIP_JOIN, MEMBERSHIP_REACTIVATE,
    MEMBERSHIP_REMOVE, ORGANIZATION_CHANGE_PLAN, ORGANIZATION_CREATE, ORGANIZATION_RENAME,
    ORGANIZATION_TRANSFER_OWNERSHIP, STACK_ACCESS_GRANT, STACK_ACCESS_REVOKE, STACK_CREATE, STACK_DELETE,
    STACK_RENAME, STACK_ROLE_CREATE, STACK_ROLE_DELETE, STACK_ROLE_RENAME,
)
from .errors import ServiceError
from .guardrails import (  # noqa: F401  (re-exported: views catch services.ConfirmationRequired)
    DEACTIVATE,
    DEMOTE,
    REMOVE,
    AccessGuard,
    ConfirmationRequired,
    LastAdminError,
    is_person,
    lock_organization,
)
from .signin.access import signin_refusal
from .models import (
    MANAGER_ROLES,
    AccessSource,
    Membership,
    MembershipEmail,
    Organization,
    OrgRole,
    Plan,
    Stack,
    StackAccess,
    StackRole,
    User,
)


class AlreadyMember(ServiceError):
    """add_member for a person who is a member already (in whatever state)."""

    def __init__(self, membership, message: str) -> None:
        super().__init__(message)
        self.membership = membership


class OwnershipError(ServiceError):
    """The Owner can only change by transferring ownership."""


def filter_ci(queryset: QuerySet, field: str, value: str) -> QuerySet:
    """Compare `field` case-insensitively through Lower(...), which the functional
    unique indexes cover (`__iexact` is UPPER on PostgreSQL and LIKE on SQLite,
    so it would scan)."""
    return queryset.alias(_ci_value=Lower(field)).filter(_ci_value=value.lower())


def find_account(email: str) -> User | None:
    return filter_ci(User.objects.all(), "email", email.strip()).first()


NAME_MAX_LENGTH = 150  # User.first_name / last_name


def check_names(first_name: str, last_name: str) -> None:
    """Names are stored whole or refused: never cut short silently."""
    for label, value in (("First name", first_name), ("Last name", last_name)):
        if len(value) > NAME_MAX_LENGTH:
            raise ServiceError(f"{label} is {len(value)} characters long; at most {NAME_MAX_LENGTH} are allowed.")


def get_or_create_account(
    email: str, *, first_name: str = "", last_name: str = "", created_by: Organization | None = None
) -> tuple[User, bool]:
    """The one global login of a person, found by e-mail case-insensitively.
    `created_by`: the org whose IdP, SCIM push or invitation makes a new account
    (see owned_by); an existing account is returned unchanged."""
    email = email.strip()
    if not email or "@" not in email:
        raise ServiceError("A valid e-mail address is required.")
    check_names(first_name, last_name)
    # One INSERT that the unique e-mail index lets through or turns into a no-op
    # (an existing account, or one a concurrent request just created): no
    # savepoint, and a new account costs one statement.
    user = User(
        email=User.objects.normalize_email(email), first_name=first_name, last_name=last_name,
        created_by_org=created_by, is_staff=False, is_superuser=False,
    )
    user.set_unusable_password()
    if insert_unless_conflict(user):
        return user, True
    return filter_ci(User.objects.all(), "email", email).get(), False


def insert_unless_conflict(obj) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING of one unsaved object; True (and its
    primary key set) when it was inserted, False when a unique constraint
    refused it. Unlike an INSERT in a savepoint, it costs one statement."""
    meta, model = obj._meta, type(obj)
    # The model signals save() sends, so their receivers (cached totals, token
    # checks) see an insert made this way as any other.
    model_signals.pre_save.send(sender=model, instance=obj, raw=False, using="default", update_fields=None)
    fields = [f for f in meta.concrete_fields if not f.generated and f is not meta.auto_field]
    for f in fields:  # what save() does before an INSERT (auto_now_add and friends)
        setattr(obj, f.attname, f.pre_save(obj, True))
    rows = model._base_manager._insert(
        [obj], fields=fields, returning_fields=meta.db_returning_fields, on_conflict=OnConflict.IGNORE
    )
    if not rows or rows[0] is None or rows[0][0] is None:
        return False
    for value, field in zip(rows[0], meta.db_returning_fields):
        setattr(obj, field.attname, value)
    obj._state.adding, obj._state.db = False, "default"
    model_signals.post_save.send(sender=model, instance=obj, created=True, update_fields=None, raw=False, using="default")
    return True


def owned_by(user: User, organization: Organization) -> bool:
    """Whether the org may treat this account as its own: it created the account
    (SCIM push, just-in-time, its invitation), and the account has no password,
    no operator rights and no joined membership in another org. Only then may the
    org's IdP link it without the holder's proof, or the org attach it without
    consent (docs/ARCHITECTURE.md, "Identity")."""
    if user.created_by_org_id != organization.pk or user.is_superuser or user.has_usable_password():
        return False
    return not Membership.objects.filter(user=user, pending=False).exclude(organization=organization).exists()


def _add_membership(
    organization: Organization, user: User, role: str, *, first_name: str = "", last_name: str = "", pending: bool = False
) -> Membership:
    """A membership made by hand is a complete SCIM user from the start: userName
    and the primary work e-mail are the account's e-mail, the name is the one
    given (else the account's), so an IdP's import and `userName eq` lookups
    match the person instead of creating a duplicate."""
    check_names(first_name, last_name)
    membership = Membership.objects.create(
        organization=organization,
        user=user,
        role=role,
        manual_role=role,
        scim_username=user.email,
        given_name=first_name or user.first_name,
        family_name=last_name or user.last_name,
        pending=pending,
    )
    MembershipEmail.objects.create(membership=membership, value=user.email, type="work", primary=True)
    return membership


@transaction.atomic
def create_organization(
    name: str,
    *,
    owner_email: str,
    actor: Actor,
    plan: str = Plan.ENTERPRISE,
    owner_password: str | None = None,
    owner_first_name: str = "",
    owner_last_name: str = "",
) -> Organization:
    name = name.strip()
    if not name:
        raise ServiceError("An organization needs a name.")
    owner, created = get_or_create_account(
        owner_email, first_name=owner_first_name.strip(), last_name=owner_last_name.strip()
    )
    if owner_password:
        owner.set_password(owner_password)
    if created or owner_password:
        owner.is_staff = True
        owner.save()
    org = Organization.objects.create(name=name, plan=plan)
    _add_membership(
        org, owner, OrgRole.OWNER, first_name=owner_first_name.strip(), last_name=owner_last_name.strip()
    )
    audit.record(org, actor, ORGANIZATION_CREATE, org, after={"name": name, "plan": plan, "owner": owner.email})
    return org


@transaction.atomic
def add_member(
    organization: Organization,
    email: str,
    *,
    actor: Actor,
    role: str = OrgRole.MEMBER,
    password: str | None = None,
    first_name: str = "",
    last_name: str = "",
) -> Membership:
    """Add a person by hand. Their SCIM userName defaults to their e-mail, so an
    IdP's `userName eq` lookup finds them instead of creating a duplicate.

    A new account is the org's own (created_by). An account that exists already
    and is not the org's own (owned_by) joins only by consent: the membership is
    pending (no access, no sign-in here) until the person accepts the invitation
    organizations.signin sends, and its password is never set from here."""
    if role == OrgRole.OWNER:
        raise OwnershipError("There is exactly one Owner; transfer ownership instead.")
    if role not in OrgRole.values:
        raise ServiceError(f"Unknown role {role!r}.")
    first_name, last_name = first_name.strip(), last_name.strip()
    user, created = get_or_create_account(email, first_name=first_name, last_name=last_name, created_by=organization)
    pending = not created and not owned_by(user, organization)
    if password:
        if pending:
            raise ServiceError(
                f"{user.email} already has an Orgdesk account: they choose their own password. "
                "Add them without one; they will be asked to join."
            )
        user.set_password(password)
        user.save(update_fields=["password"])
    if existing := Membership.objects.filter(organization=organization, user=user).select_related("user").first():
        raise AlreadyMember(existing, f"{user.email} is already a member of {organization.name}.")
    if filter_ci(Membership.objects.filter(organization=organization), "scim_username", user.email).exists():
        raise ServiceError(f"Another member already has the userName {user.email}.")
    try:
        with transaction.atomic():  # the checks above can lose a race with a concurrent add or push
            membership = _add_membership(
                organization, user, role, first_name=first_name, last_name=last_name, pending=pending
            )
    except IntegrityError as exc:
        raise ServiceError(f"{user.email} is already a member of {organization.name}.") from exc
    if role in MANAGER_ROLES and not user.is_staff and not pending:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    audit.record(
        organization, actor, MEMBERSHIP_ADD, membership, after={"email": user.email, "role": role, "pending": pending}
    )
    return membership


@transaction.atomic
def join(membership: Membership, *, actor: Actor) -> Membership:
    """The person accepted: a pending membership takes effect."""
    membership = Membership.objects.select_for_update(of=("self",)).select_related("organization", "user").get(
        pk=membership.pk
    )
    if not membership.pending:
        return membership
    membership.pending = False
    membership.save(update_fields=["pending", "updated_at"])
    if membership.role in MANAGER_ROLES and not membership.user.is_staff:
        membership.user.is_staff = True
        membership.user.save(update_fields=["is_staff"])
    audit.record(
        membership.organization, actor, MEMBERSHIP_JOIN, membership, target_label=membership.user.email,
        after={"role": membership.role},
    )
    return membership


@transaction.atomic
def change_role(membership: Membership, role: str, *, actor: Actor, confirmed: bool = False) -> Membership:
    """Change the role granted by hand. The effective role is re-derived, so a
    SCIM group mapping granting more still applies (the returned membership has
    the role the member really has). Guarded: see organizations.guardrails."""
    if role not in OrgRole.values:
        raise ServiceError(f"Unknown role {role!r}.")
    lock_organization(membership.organization_id)
    membership = Membership.objects.select_for_update(of=("self",)).select_related("organization", "user").get(
        pk=membership.pk
    )
    if membership.role == OrgRole.OWNER or role == OrgRole.OWNER:
        raise OwnershipError("The Owner's role can only change by transferring ownership.")
    guard = AccessGuard.before(membership, actor=actor, action=DEMOTE)
    before = {"role": membership.role, "manual_role": membership.manual_role}
    membership.manual_role = role
    membership.save(update_fields=["manual_role", "updated_at"])
    signals.manual_role_changed.send(sender=Membership, membership=membership, actor=actor)
    membership.refresh_from_db()
    if guard is not None:
        guard.check(membership, confirmed=confirmed)
    if membership.role in MANAGER_ROLES and not membership.user.is_staff:
        membership.user.is_staff = True
        membership.user.save(update_fields=["is_staff"])
    audit.record(
        membership.organization,
        actor,
        MEMBERSHIP_CHANGE_ROLE,
        membership,
        before=before,
        after={"role": membership.role, "manual_role": membership.manual_role},
    )
    return membership


@transaction.atomic
def transfer_ownership(organization: Organization, new_owner: Membership, *, actor: Actor, typed_name: str) -> Membership:
    """The only way the Owner changes. The previous Owner becomes an Admin.

    Irreversible for whoever does it, so: `typed_name` must be the org's name
    exactly (the Owner typed it), and the new Owner must be an active member who
    can sign in (an Owner nobody can act as could not hand the org back). The new
    Owner is told by e-mail once this commits (organizations.signals.ownership_transferred)."""
    if (typed_name or "").strip() != organization.name:
        raise ServiceError(f"Type the organization's name exactly as it is (\"{organization.name}\") to transfer ownership.")
    if new_owner.organization_id != organization.pk:
        raise ServiceError("The new owner must be a member of this organization.")
    lock_organization(organization.pk)
    memberships = {
        m.pk: m
        for m in Membership.objects.select_for_update(of=("self",)).select_related("user", "organization").filter(
            Q(organization=organization, role=OrgRole.OWNER) | Q(pk=new_owner.pk)
        )
    }
    new_owner = memberships[new_owner.pk]
    old_owner = next((m for m in memberships.values() if m.role == OrgRole.OWNER), None)
    if old_owner is not None and old_owner.pk == new_owner.pk:
        raise ServiceError(f"{new_owner.user.email} is already the Owner.")
    if not new_owner.active:
        raise ServiceError("A deactivated member cannot become the Owner.")
    refusal = signin_refusal(new_owner)
    if refusal is not None:
        raise ServiceError(f"Ownership can only pass to someone who can sign in. {refusal}")
    if old_owner is not None:
        old_owner.role = old_owner.manual_role = OrgRole.ADMIN
        old_owner.save(update_fields=["role", "manual_role", "updated_at"])
    new_owner.role = new_owner.manual_role = OrgRole.OWNER
    new_owner.save(update_fields=["role", "manual_role", "updated_at"])
    if not new_owner.user.is_staff:
        new_owner.user.is_staff = True
        new_owner.user.save(update_fields=["is_staff"])
    audit.record(
        organization,
        actor,
        ORGANIZATION_TRANSFER_OWNERSHIP,
        organization,
        before={"owner": old_owner.user.email if old_owner else None},
        after={"owner": new_owner.user.email},
    )
    signals.ownership_transferred.send(
        sender=Organization, organization=organization, new_owner=new_owner, previous_owner=old_owner, actor=actor
    )
    return new_owner


@transaction.atomic
def remove_member(membership: Membership, *, actor: Actor, confirmed: bool = False) -> None:
    """Remove a person from the org; the account and the audit trail stay.
    Guarded for people (organizations.guardrails); SCIM's DELETE is not."""
    guard = None
    if is_person(actor):
        lock_organization(membership.organization_id)
        membership = Membership.objects.select_for_update(of=("self",)).select_related("organization", "user").get(
            pk=membership.pk
        )
        guard = AccessGuard.before(membership, actor=actor, action=REMOVE)
    if membership.role == OrgRole.OWNER:
        raise OwnershipError("The Owner cannot be removed; transfer ownership first.")
    before = {"email": membership.user.email, "role": membership.role, "active": membership.active}
    org = membership.organization
    audit.record(org, actor, MEMBERSHIP_REMOVE, membership, before=before)
    membership.delete()
    if guard is not None:
        guard.check(None, confirmed=confirmed)


@transaction.atomic
def set_member_active(membership: Membership, active: bool, *, actor: Actor, confirmed: bool = False) -> Membership:
    """Deactivate or reactivate a member by hand. Deactivation drops every access
    derived from SCIM groups at once and keeps the record; reactivation derives it
    again from the member's current groups. The Owner is never deactivated;
    deactivation is guarded (organizations.guardrails)."""
    if not active:
        lock_organization(membership.organization_id)
    membership = Membership.objects.select_for_update(of=("self",)).select_related("organization", "user").get(
        pk=membership.pk
    )
    if membership.role == OrgRole.OWNER and not active:
        raise OwnershipError("The Owner cannot be deactivated; transfer ownership first.")
    if membership.active == active:
        return membership
    guard = None if active else AccessGuard.before(membership, actor=actor, action=DEACTIVATE)
    membership.active = active
    membership.save(update_fields=["active", "updated_at"])
    audit.record(
        membership.organization,
        actor,
        MEMBERSHIP_REACTIVATE if active else MEMBERSHIP_DEACTIVATE,
        membership,
        target_label=membership.user.email,
        before={"active": not active, "scim_managed": membership.scim_managed},
        after={"active": active},
    )
    signals.membership_active_changed.send(sender=Membership, membership=membership, active=active, actor=actor)
    if guard is not None:
        guard.check(membership, confirmed=confirmed)
    return membership


def stack_member_count(stack: Stack) -> int:
    """How many members hold any role on this stack (by hand or from SCIM)."""
    return StackAccess.objects.filter(stack=stack).values("membership_id").distinct().count()


def _new_name(name: str, noun: str) -> str:
    name = name.strip()
    if not name:
        raise ServiceError(f"A {noun} needs a name.")
    return name


def _check_name_free(others: QuerySet, name: str, noun: str) -> None:
    """Names of stacks, and of the stack roles an org can use, are unique compared case-insensitively."""
    if filter_ci(others, "name", name).exists():
        raise ServiceError(f"A {noun} named {name!r} already exists.")


def _rename(row: Stack | StackRole, name: str, *, others: QuerySet, noun: str, action: str, actor: Actor):
    """The one rename of an org's named row (a stack, a custom stack role), locked
    by the caller: unique among `others` (a concurrent rename may win after the
    check: the database's constraint then refuses it), audited."""
    if name == row.name:
        return row
    _check_name_free(others, name, noun)
    before = {"name": row.name}
    row.name = name
    try:
        with transaction.atomic():
            row.save(update_fields=["name"])
    except IntegrityError as exc:
        raise ServiceError(f"A {noun} named {name!r} already exists.") from exc
    audit.record(row.organization, actor, action, row, before=before, after={"name": name})
    return row


@transaction.atomic
def rename_stack(stack: Stack, name: str, *, actor: Actor) -> Stack:
    name = _new_name(name, "stack")
    stack = Stack.objects.select_for_update().get(pk=stack.pk)
    others = Stack.objects.filter(organization_id=stack.organization_id).exclude(pk=stack.pk)
    return _rename(stack, name, others=others, noun="stack", action=STACK_RENAME, actor=actor)


@transaction.atomic
def delete_stack(stack: Stack, *, actor: Actor) -> int:
    """Delete a stack with every role held on it (by hand or from SCIM) and the
    group mappings' grants on it; returns how many members lost a role. Nothing
    else changes, so no access is re-derived."""
    stack = Stack.objects.select_for_update().select_related("organization").filter(pk=stack.pk).first()
    if stack is None:
        raise ServiceError("That stack was already deleted.")
    affected = stack_member_count(stack)
    grants = StackAccess.objects.filter(stack=stack).count()
    audit.record(
        stack.organization,
        actor,
        STACK_DELETE,
        stack,
        before={"name": stack.name, "members_affected": affected, "grants": grants},
    )
    stack.delete()
    return affected


@transaction.atomic
def create_stack(organization: Organization, name: str, *, actor: Actor) -> Stack:
    name = _new_name(name, "stack")
    _check_name_free(Stack.objects.filter(organization=organization), name, "stack")
    try:
        with transaction.atomic():  # a concurrent create may win after the check
            stack = Stack.objects.create(organization=organization, name=name)
    except IntegrityError as exc:
        raise ServiceError(f"A stack named {name!r} already exists.") from exc
    audit.record(organization, actor, STACK_CREATE, stack, after={"name": name})
    signals.stack_created.send(sender=Stack, stack=stack, actor=actor)
    return stack


@transaction.atomic
def create_stack_role(organization: Organization, name: str, *, actor: Actor) -> StackRole:
    name = _new_name(name, "stack role")
    _check_name_free(StackRole.available_to(organization), name, "stack role")
    role = StackRole.objects.create(organization=organization, name=name)
    audit.record(organization, actor, STACK_ROLE_CREATE, role, after={"name": name})
    return role


# Counts on the delete confirmation of a stack role stop here ("100,000+"), so the
# page costs the same in an org of any size.
STACK_ROLE_COUNT_CAP = 100_000


@dataclass(frozen=True)
class StackRoleUsage:
    grants: int  # StackAccess rows holding the role (capped)
    grants_capped: bool
    members: int  # distinct members holding it on some stack (capped)
    members_capped: bool
    users: list[str]  # names of the mappings that name it (a few)
    users_total: int  # how many mappings name it


def _custom_role(role: StackRole) -> StackRole:
    if role.builtin or role.organization_id is None:
        raise ServiceError(f"{role.name} is a built-in stack role: it cannot be renamed or deleted.")
    return role


def stack_role_usage(role: StackRole) -> StackRoleUsage:
    """What deleting the role affects: grants and members holding it (counts capped
    at STACK_ROLE_COUNT_CAP) and the group mappings that name it (asked of the apps
    above through signals.stack_role_in_use: the tenant core does not import them)."""
    cap = STACK_ROLE_COUNT_CAP
    held = StackAccess.objects.filter(role=role).order_by()  # no Meta ordering inside DISTINCT
    grants = held.values("pk")[: cap + 1].count()
    members = held.values("membership_id").distinct()[: cap + 1].count()
    users: list[str] = []
    total = 0
    for _, answer in signals.stack_role_in_use.send(sender=StackRole, role=role):
        if answer:
            names, count = answer
            users.extend(names)
            total += count
    return StackRoleUsage(min(grants, cap), grants > cap, min(members, cap), members > cap, users, total)


@transaction.atomic
def rename_stack_role(role: StackRole, name: str, *, actor: Actor) -> StackRole:
    """Rename a custom stack role; grants and mappings keep pointing at it."""
    _custom_role(role)
    name = _new_name(name, "stack role")
    role = StackRole.objects.select_for_update(of=("self",)).select_related("organization").filter(pk=role.pk).first()
    if role is None:
        raise ServiceError("That stack role was already deleted.")
    others = StackRole.available_to(role.organization).exclude(pk=role.pk)
    return _rename(role, name, others=others, noun="stack role", action=STACK_ROLE_RENAME, actor=actor)


def stack_role_in_use_message(role_name: str, usage: StackRoleUsage) -> str:
    names = ", ".join(usage.users)
    more = usage.users_total - len(usage.users)
    listed = names + (f" and {more} more" if more > 0 else "")
    return (
        f"The stack role {role_name} cannot be deleted: the group mapping{'s' if usage.users_total != 1 else ''} "
        f"of {listed} grant{'s' if usage.users_total == 1 else ''} it. Change or remove "
        f"{'that mapping' if usage.users_total == 1 else 'those mappings'} on the SCIM tab first."
    )


@transaction.atomic
def delete_stack_role(role: StackRole, *, actor: Actor) -> StackRoleUsage:
    """Delete a custom stack role and every grant of it. Refused while a group
    mapping names it: its members' access would have to be derived again, so the
    mapping is changed first (through the mappings path), then the role deleted.
    Returns what it affected."""
    _custom_role(role)
    role = StackRole.objects.select_for_update(of=("self",)).select_related("organization").filter(pk=role.pk).first()
    if role is None:
        raise ServiceError("That stack role was already deleted.")
    usage = stack_role_usage(role)
    if usage.users_total:
        raise ServiceError(stack_role_in_use_message(role.name, usage))
    audit.record(
        role.organization, actor, STACK_ROLE_DELETE, role,
        before={"name": role.name, "grants": usage.grants, "members_affected": usage.members},
    )
    try:
        with transaction.atomic():
            role.delete()  # its grants go with it (StackAccess.role cascades)
    except ProtectedError as exc:  # a mapping named it after the check
        raise ServiceError(f"The stack role {role.name} is used by a group mapping; change that mapping first.") from exc
    return usage


def _check_same_org(membership: Membership, stack: Stack, role: StackRole) -> None:
    if stack.organization_id != membership.organization_id:
        raise ServiceError("That stack belongs to another organization.")
    if role.organization_id not in (None, membership.organization_id):
        raise ServiceError("That stack role belongs to another organization.")


@transaction.atomic
def grant_stack_role(membership: Membership, stack: Stack, role: StackRole, *, actor: Actor) -> StackAccess:
    """Grant by hand. Kept apart from SCIM-derived access, which never clobbers it."""
    _check_same_org(membership, stack, role)
    access, created = StackAccess.objects.get_or_create(
        membership=membership, stack=stack, role=role, source=AccessSource.MANUAL
    )
    if created:
        audit.record(
            membership.organization,
            actor,
            STACK_ACCESS_GRANT,
            membership,
            after={"stack": stack.name, "role": role.name, "source": AccessSource.MANUAL},
        )
    return access


@transaction.atomic
def revoke_stack_role(membership: Membership, stack: Stack, role: StackRole, *, actor: Actor) -> bool:
    """Revoke a grant made by hand; access derived from SCIM groups is not touched."""
    _check_same_org(membership, stack, role)
    deleted, _ = StackAccess.objects.filter(
        membership=membership, stack=stack, role=role, source=AccessSource.MANUAL
    ).delete()
    if deleted:
        audit.record(
            membership.organization,
            actor,
            STACK_ACCESS_REVOKE,
            membership,
            before={"stack": stack.name, "role": role.name, "source": AccessSource.MANUAL},
        )
    return bool(deleted)


@transaction.atomic
def rename_organization(organization: Organization, name: str, *, actor: Actor) -> Organization:
    name = name.strip()
    if not name:
        raise ServiceError("An organization needs a name.")
    before = {"name": organization.name}
    organization.name = name
    organization.save(update_fields=["name"])
    audit.record(organization, actor, ORGANIZATION_RENAME, organization, before=before, after={"name": name})
    return organization


@transaction.atomic
def change_plan(organization: Organization, plan: str, *, actor: Actor) -> Organization:
    """Operators move an org between plans; features such as SCIM follow the plan."""
    if plan not in Plan.values:
        raise ServiceError(f"Unknown plan {plan!r}.")
    before = {"plan": organization.plan}
    organization.plan = plan
    organization.save(update_fields=["plan"])
    audit.record(organization, actor, ORGANIZATION_CHANGE_PLAN, organization, before=before, after={"plan": plan})
    return organization
