"""Every change the SCIM API makes, as named service functions, so each write has
one name to look for and one place that audits it: the django-scim2 adapters
only translate SCIM to these calls. Each runs in one
transaction, records an audit entry with the app installation as actor, and
announces once (scim.signals.group_membership_changed) every membership whose
groups or state changed, for the access engine to re-derive."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.db import IntegrityError, connection
from django.db.models import Exists, OuterRef
from django.db.models import signals as model_signals
from django.db.models.functions import Lower
from django.utils import timezone

from organizations import audit
from organizations.audit import Actor
from organizations.audit_actions import (
    SCIM_GROUP_CREATE, SCIM_GROUP_DELETE, SCIM_GROUP_MEMBERS, SCIM_GROUP_UPDATE, SCIM_USER_DEACTIVATE,
    SCIM_USER_PROVISION, SCIM_USER_REACTIVATE, SCIM_USER_UPDATE,
)
from organizations.models import AuditEvent, Membership, MembershipEmail, Organization, OrgRole
from organizations.services import (
    OwnershipError,
    ServiceError,
    get_or_create_account,
    insert_unless_conflict,
    owned_by,
    remove_member,
)
from organizations.signals import membership_active_changed, membership_created
from organizations.signin import due_invitations, invitations
from organizations.transactions import service_atomic

from . import group_diff, rawsql, signals
from .models import ScimGroup, ScimGroupMember
from .rawsql import RETURNED_ID, Riders

__all__ = [
    "InvalidValue",
    "OwnershipError",
    "UniquenessError",
    "UserProfile",
    "change_group_members",
    "create_group",
    "delete_group",
    "delete_membership",
    "parse_id",
    "provision_user",
    "resolve_member_ids",
    "set_membership_active",
    "update_group",
    "update_user_profile",
]

OWNER_MESSAGE = "The Owner cannot be deactivated, deleted or renamed over SCIM: ownership must be transferred first."
AUDIT_ID_LIMIT = 200  # ids listed in one audit entry; counts are always exact
ACCOUNT_EMAIL_MAX = 254  # User.email's max_length (RFC 5321's path limit)


class InvalidValue(ServiceError):
    """A value the SCIM schema or our domain refuses (SCIM 400 invalidValue)."""


class UniquenessError(ServiceError):
    """userName, account or group name already taken in this org (SCIM 409 uniqueness)."""


@dataclass
class UserProfile:
    """The IdP's view of a person, kept per membership."""

    user_name: str
    external_id: str = ""
    display_name: str = ""
    given_name: str = ""
    family_name: str = ""
    emails: list[dict[str, Any]] = field(default_factory=list)  # {value, type, primary, display}
    active: bool = True
    extra: dict[str, Any] = field(default_factory=dict)  # extension schemas, keyed by URN

    @classmethod
    def of(cls, membership: Membership) -> "UserProfile":
        return cls(
            user_name=membership.scim_username,
            external_id=membership.scim_external_id,
            display_name=membership.display_name,
            given_name=membership.given_name,
            family_name=membership.family_name,
            emails=[
                {"value": e.value, "type": e.type, "primary": e.primary, "display": e.display}
                for e in membership.email_set.all()
            ],
            active=membership.active,
            extra=dict(membership.scim_extra or {}),
        )

    def account_email(self) -> str:
        """userName when it is an e-mail, else the primary, else a work, else any e-mail."""
        email = self._account_email()
        if len(email) > ACCOUNT_EMAIL_MAX:
            raise InvalidValue(f"The account e-mail {email[:40]!r}… is longer than {ACCOUNT_EMAIL_MAX} characters.")
        return email

    def _account_email(self) -> str:
        if _looks_like_email(self.user_name):
            return self.user_name.strip()
        ordered = sorted(self.emails, key=lambda e: (not e.get("primary"), e.get("type") != "work"))
        for email in ordered:
            if _looks_like_email(email.get("value", "")):
                return email["value"].strip()
        raise InvalidValue("userName is not an e-mail address and no e-mail was given: cannot find or create the account.")

    def snapshot(self) -> dict[str, Any]:
        return {
            "userName": self.user_name,
            "externalId": self.external_id,
            "displayName": self.display_name,
            "givenName": self.given_name,
            "familyName": self.family_name,
            "emails": [e.get("value") for e in self.emails],
            "active": self.active,
        }


def _fit(value: str, model, field: str) -> str:
    """The value unchanged, or InvalidValue when its column cannot hold it: nothing
    is ever cut to fit. (The SCIM adapters check first, naming the SCIM attribute.)"""
    limit = model._meta.get_field(field).max_length
    if len(value) > limit:
        raise InvalidValue(f"{field} is {len(value)} characters long; at most {limit} can be stored.")
    return value


def _account_email_entry(email: str) -> dict[str, Any]:
    """`emails` is required: a profile that brings none shows the account's e-mail."""
    return {"value": email, "type": "work", "primary": True, "display": ""}


def _looks_like_email(value: str) -> bool:
    value = (value or "").strip()
    local, _, domain = value.partition("@")
    return bool(local) and "." in domain and " " not in value


def _username_taken(organization: Organization, user_name: str) -> bool:
    # Lower(...) matches the functional unique index; __iexact would not use it.
    return Membership.objects.filter(organization=organization).alias(u=Lower("scim_username")).filter(
        u=user_name.lower()
    ).exists()


def _notify(organization: Organization, membership_ids: Iterable[int], *, actor: Actor, group: ScimGroup | None = None) -> None:
    """group: the one group whose members changed (only its mapping can make a
    difference); None when states or several groups changed."""
    ids = sorted(set(membership_ids))
    if ids:
        signals.group_membership_changed.send(
            sender=ScimGroup, organization=organization, member_ids=ids, actor=actor,
            group_id=group.pk if group is not None else None,
        )


@service_atomic
def provision_user(
    organization: Organization, profile: UserProfile, *, actor: Actor, riders: Riders | None = None
) -> Membership:
    """POST /Users: find or create the global account by e-mail and add it to the
    org as a Member. An account that is already a member (say invited by hand) is
    a conflict: the IdP is expected to find it by `userName eq` and link it.

    An account that existed already and is not this org's own (a password, another
    org) joins by consent only: the membership is pending, the person is invited,
    and Okta sees the resource as usual (201, the `active` it pushed).

    `riders`: rows to write with the membership (the call's activity entry);
    the membership, its e-mails and its audit entry are one statement on
    PostgreSQL (`_insert_membership`, scim.rawsql.write_with)."""
    if not profile.user_name.strip():
        raise InvalidValue("userName is required.")
    email = profile.account_email()
    if not profile.emails:
        profile.emails = [_account_email_entry(email)]
    try:
        account, created = get_or_create_account(
            email, first_name=profile.given_name, last_name=profile.family_name, created_by=organization
        )
    except ServiceError as exc:
        raise InvalidValue(str(exc)) from exc
    pending = not created and not owned_by(account, organization)
    membership = Membership(
        organization=organization,
        user=account,
        role=OrgRole.MEMBER,
        manual_role=OrgRole.MEMBER,
        active=profile.active,
        pending=pending,
        scim_managed=True,
        scim_username=_fit(profile.user_name, Membership, "scim_username"),
        scim_external_id=_fit(profile.external_id, Membership, "scim_external_id"),
        display_name=_fit(profile.display_name, Membership, "display_name"),
        given_name=_fit(profile.given_name, Membership, "given_name"),
        family_name=_fit(profile.family_name, Membership, "family_name"),
        scim_extra=profile.extra,
        # The invitation is owed in the same INSERT; the worker builds and sends it.
        invitation_due=invitations.invite_on_provision(organization, pending=pending, active=profile.active),
    )
    riders = riders if riders is not None else Riders()
    emails = _email_rows(profile.emails)
    riders.insert(EMAIL_ROW, [{**e, "membership_id": RETURNED_ID} for e in emails])
    riders.insert(AUDIT_ROW, [audit.event_values(
        organization, actor, SCIM_USER_PROVISION, target_type=MEMBERSHIP_LABEL, target_id=RETURNED_ID,
        target_label=membership.scim_username, after=profile.snapshot(),
    )])
    # The unique constraints decide (userName per org, case-insensitively; one
    # membership per person and org), concurrent POSTs included: a refused
    # INSERT is a no-op (and writes none of the riders), and only then is it
    # asked which one. Raising rolls back the whole transaction, an account
    # created above included.
    if not _insert_membership(membership, riders):
        if _username_taken(organization, profile.user_name):
            raise UniquenessError(f"userName {profile.user_name!r} is already taken in this organization.")
        raise UniquenessError(f"A user with e-mail {email!r} already exists in this organization.")
    _attach_emails(membership, emails, new=True)
    if membership.invitation_due:
        due_invitations.schedule_due_delivery()
    membership_created.send(sender=Membership, membership=membership, source="scim", actor=actor)
    return membership


# --- the statements of a User write: the membership, and with it (scim.rawsql.write_with)
# its e-mails, its audit entries and the call's activity entry

MEMBERSHIP_LABEL = Membership._meta.label_lower  # an audit entry's target_type
MEMBERSHIP_ROW = rawsql.Columns(
    Membership, [f.attname for f in Membership._meta.concrete_fields if f is not Membership._meta.auto_field]
)
EMAIL_ROW = rawsql.Columns(MembershipEmail, ("membership_id", "value", "type", "primary", "display"))
AUDIT_ROW = rawsql.Columns(AuditEvent, [f.attname for f in AuditEvent._meta.concrete_fields if f.attname != "id"])


def _email_rows(emails: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The e-mails as stored (checked to fit, never cut), primary first then as
    given: the order a read returns them in."""
    rows = [
        {
            "value": _fit(e["value"], MembershipEmail, "value"),
            "type": _fit(e.get("type") or "", MembershipEmail, "type"),
            "primary": bool(e.get("primary")),
            "display": _fit(e.get("display") or "", MembershipEmail, "display"),
        }
        for e in emails
        if e.get("value")
    ]
    rows.sort(key=lambda e: not e["primary"])
    return rows


def _attach_emails(membership: Membership, rows: list[dict[str, Any]], *, new: bool = False) -> None:
    """What a prefetch would hold: the write response renders it without reading
    it back; a brand-new membership is in no group yet, an existing one keeps
    the groups its locking read brought."""
    cache = getattr(membership, "_prefetched_objects_cache", None) or {}
    membership._prefetched_objects_cache = {
        **cache, "email_set": [MembershipEmail(membership_id=membership.pk, **e) for e in rows]
    }
    if new:
        membership._prefetched_objects_cache["group_memberships"] = []


@lru_cache(maxsize=1)
def _insert_membership_sql() -> str:
    names = ", ".join(rawsql.qn(f.column) for f in MEMBERSHIP_ROW.fields)
    return (
        f"INSERT INTO {rawsql.qn(MEMBERSHIP_ROW.table)} ({names}) VALUES ({rawsql.placeholders(len(MEMBERSHIP_ROW))}) "
        f"ON CONFLICT DO NOTHING RETURNING {rawsql.qn(Membership._meta.pk.column)}"
    )


def _insert_membership(membership: Membership, riders: Riders) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING of a new membership and its riders; True
    (its key set) when it was inserted, False when a unique constraint refused it.
    The model signals are sent as save() sends them (cached totals listen)."""
    model_signals.pre_save.send(sender=Membership, instance=membership, raw=False, using="default", update_fields=None)
    for f in MEMBERSHIP_ROW.fields:  # what save() does before an INSERT (auto_now_add and friends)
        setattr(membership, f.attname, f.pre_save(membership, True))
    conn = connection
    params = [f.get_db_prep_save(getattr(membership, f.attname), conn) for f in MEMBERSHIP_ROW.fields]
    rows = rawsql.write_with(_insert_membership_sql(), params, riders)
    if not rows:
        return False
    membership.pk = rows[0][0]
    membership._state.adding, membership._state.db = False, "default"
    model_signals.post_save.send(
        sender=Membership, instance=membership, created=True, update_fields=None, raw=False, using="default"
    )
    return True


@lru_cache(maxsize=64)
def _update_membership_sql(names: tuple[str, ...]) -> str:
    meta = Membership._meta
    sets = ", ".join(f"{rawsql.qn(meta.get_field(n).column)} = %s" for n in names)
    pk = rawsql.qn(meta.pk.column)
    return f"UPDATE {rawsql.qn(meta.db_table)} SET {sets} WHERE {pk} = %s RETURNING {pk}"


def _update_membership(membership: Membership, names: list[str], riders: Riders) -> None:
    """UPDATE of these fields (and updated_at) of a locked membership, with its
    riders; the model signal is sent as save(update_fields=...) sends it."""
    membership.updated_at = timezone.now()
    names = tuple(dict.fromkeys([*names, "updated_at"]))
    meta = Membership._meta
    params = [meta.get_field(n).get_db_prep_save(getattr(membership, n), connection) for n in names]
    rawsql.write_with(_update_membership_sql(names), [*params, membership.pk], riders)
    model_signals.post_save.send(
        sender=Membership, instance=membership, created=False, update_fields=frozenset(names), raw=False, using="default"
    )


def _locked(membership: Membership, locked: bool) -> Membership:
    """The membership, row-locked in this transaction. locked=True: the caller
    already locked and read it in this transaction (the SCIM views do), so it
    is not read again."""
    if locked:
        return membership
    return Membership.objects.select_for_update().select_related("organization").get(pk=membership.pk)


@service_atomic
def update_user_profile(
    membership: Membership, profile: UserProfile, *, actor: Actor, locked: bool = False, riders: Riders | None = None
) -> Membership:
    """PUT or PATCH /Users/<id>: store the new profile; a change of `active`
    (de)provisions as set_membership_active does. What changed is written in
    one statement on PostgreSQL: the membership's UPDATE and with it its new
    e-mails, its audit entries and `riders` (the call's activity entry)."""
    membership = _locked(membership, locked)
    before = UserProfile.of(membership)
    if not profile.user_name.strip():
        raise InvalidValue("userName must not be empty.")
    if membership.role == OrgRole.OWNER and not profile.active:
        raise OwnershipError(OWNER_MESSAGE)
    if not profile.emails:
        profile.emails = [_account_email_entry(membership.user.email)]
    fields = {
        "scim_username": _fit(profile.user_name, Membership, "scim_username"),
        "scim_external_id": _fit(profile.external_id, Membership, "scim_external_id"),
        "display_name": _fit(profile.display_name, Membership, "display_name"),
        "given_name": _fit(profile.given_name, Membership, "given_name"),
        "family_name": _fit(profile.family_name, Membership, "family_name"),
        "scim_extra": profile.extra,
    }
    changed = [name for name, value in fields.items() if getattr(membership, name) != value]
    emails_changed = before.emails != profile.emails
    active_changed = before.active != profile.active
    if not (changed or emails_changed or active_changed):
        return membership
    # updated_at moves with the e-mails too: it is the User's version (scim.api.versions).
    for name in changed:
        setattr(membership, name, fields[name])
    # A member invited by hand that the IdP linked (userName eq) and updated
    # is from now on managed by the IdP.
    if changed and not membership.scim_managed:
        membership.scim_managed = True
        changed.append("scim_managed")
    if active_changed:  # in the same UPDATE (announced below, after the profile's audit entry)
        changed += [f for f in _apply_active(membership, profile.active) if f not in changed]
    riders = riders if riders is not None else Riders()
    emails = _email_rows(profile.emails) if emails_changed else []
    if emails_changed:
        riders.delete(EMAIL_ROW, "membership_id", membership.pk)
        riders.insert(EMAIL_ROW, [{**e, "membership_id": membership.pk} for e in emails])
    events = []  # (every profile change comes with a change of a column or of the e-mails)
    if before.snapshot() | {"active": None} != profile.snapshot() | {"active": None} or before.extra != profile.extra:
        events.append(_user_event(membership, actor, SCIM_USER_UPDATE, before.snapshot(), profile.snapshot()))
    if active_changed:
        events.append(_active_event(membership, profile.active, actor))
    riders.insert(AUDIT_ROW, events)
    # A userName taken in the org is refused by its unique index (the only one
    # this UPDATE can break), not asked first. (No savepoint: a refusal rolls
    # the whole request back.)
    try:
        _update_membership(membership, changed, riders)
    except IntegrityError as exc:
        raise UniquenessError(f"userName {profile.user_name!r} is already taken in this organization.") from exc
    if emails_changed:
        _attach_emails(membership, emails)
    if active_changed:
        _announce_active(membership, profile.active, actor=actor, audited=True)
    return membership


def _user_event(membership: Membership, actor: Actor, action: str, before: dict, after: dict) -> dict[str, Any]:
    return audit.event_values(
        membership.organization, actor, action, target_type=MEMBERSHIP_LABEL, target_id=str(membership.pk),
        target_label=membership.scim_username, before=before, after=after,
    )


def _active_change(active: bool) -> tuple[str, dict, dict]:
    """The audit action, before and after of a change of state."""
    return (SCIM_USER_REACTIVATE if active else SCIM_USER_DEACTIVATE), {"active": not active}, {"active": active}


def _active_event(membership: Membership, active: bool, actor: Actor) -> dict[str, Any]:
    return _user_event(membership, actor, *_active_change(active))


def _apply_active(membership: Membership, active: bool) -> list[str]:
    """Set the state (not saved); returns the fields to save. A reactivation owes
    the person an invitation where the org invites (built by the worker)."""
    membership.active = active
    membership.scim_managed = True  # the IdP (de)provisions it: it manages this member
    fields = ["active", "scim_managed"]
    if active and invitations.invite_on_scim_reactivation(membership):
        membership.invitation_due = True
        fields.append("invitation_due")
    return fields


def _announce_active(membership: Membership, active: bool, *, actor: Actor, audited: bool = False) -> None:
    """Audit (unless its entry was written with the change) and announce a change of state."""
    if not audited:
        action, before, after = _active_change(active)
        audit.record(
            membership.organization, actor, action, membership, target_label=membership.scim_username,
            before=before, after=after,
        )
    if active and membership.invitation_due:
        due_invitations.schedule_due_delivery()
    membership_active_changed.send(sender=Membership, membership=membership, active=active, actor=actor)


@service_atomic
def set_membership_active(membership: Membership, active: bool, *, actor: Actor, locked: bool = False) -> Membership:
    """Deprovisioning keeps the record (GET shows active:false) and drops all
    derived access at once; reactivation re-derives it from current groups."""
    membership = _locked(membership, locked)
    if membership.role == OrgRole.OWNER and not active:
        raise OwnershipError(OWNER_MESSAGE)
    if membership.active == active:
        return membership
    membership.save(update_fields=[*_apply_active(membership, active), "updated_at"])
    _announce_active(membership, active, actor=actor)
    return membership


@service_atomic
def delete_membership(membership: Membership, *, actor: Actor) -> None:
    """DELETE /Users/<id>: the membership leaves the org; account and audit trail stay."""
    if membership.role == OrgRole.OWNER:
        raise OwnershipError(OWNER_MESSAGE)
    remove_member(membership, actor=actor)  # its access rows go with it (CASCADE): nothing to recompute


def parse_id(value: Any) -> int | None:
    """A resource id as an IdP sends it (the path, a member value): ASCII digits of
    a positive 64-bit id, else None. (str.isdigit alone accepts "²" and "١٢".)"""
    text = str(value).strip()
    if text.isascii() and text.isdigit() and len(text) < 19 and int(text) > 0:
        return int(text)
    return None


# --- groups -----------------------------------------------------------------


def parse_member_ids(values: Iterable[Any]) -> tuple[set[int], list[str]]:
    """(the ids, the values that are no id at all) of members as an IdP sends them."""
    wanted: set[int] = set()
    bad: list[str] = []
    for value in values:
        pk = parse_id(value)
        if pk is not None:
            wanted.add(pk)
        else:
            bad.append(str(value).strip())
    return wanted, bad


def _refuse_unknown(bad: list[str]) -> None:
    if bad:
        raise InvalidValue(f"Unknown member ids for this organization: {', '.join(bad[:20])}")


def resolve_member_ids(organization: Organization, values: Iterable[Any]) -> set[int]:
    """Membership ids of *this* org; any other value (another org's, unknown, not a
    number) refuses the whole request, so nothing is applied half-way."""
    wanted, bad = parse_member_ids(values)
    if wanted:
        found = set(
            Membership.objects.filter(organization=organization, pk__in=wanted).values_list("pk", flat=True)
        )
        bad.extend(str(i) for i in sorted(wanted - found))
    _refuse_unknown(bad)
    return wanted


def _name_taken(organization: Organization, name: str, *, exclude_pk: int | None = None) -> bool:
    qs = ScimGroup.objects.filter(organization=organization).alias(n=Lower("display_name")).filter(n=name.lower())
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.exists()


def _clean_name(display_name: str) -> str:
    name = (display_name or "").strip()
    if not name:
        raise InvalidValue("displayName is required.")
    return _fit(name, ScimGroup, "display_name")


@service_atomic
def create_group(
    organization: Organization,
    display_name: str,
    *,
    actor: Actor,
    external_id: str = "",
    member_ids: Iterable[int] = (),
) -> ScimGroup:
    name = _clean_name(display_name)
    if _name_taken(organization, name):
        raise UniquenessError(f"A group named {name!r} already exists in this organization.")
    group = ScimGroup(organization=organization, display_name=name, external_id=_fit(external_id, ScimGroup, "external_id"))
    if not insert_unless_conflict(group):
        raise UniquenessError(f"A group named {name!r} already exists in this organization.")
    ids = sorted(set(member_ids))
    ScimGroupMember.objects.bulk_create(ScimGroupMember(group=group, membership_id=i) for i in ids)
    audit.record(
        organization, actor, SCIM_GROUP_CREATE, group,
        after={"displayName": name, "externalId": external_id, "members": len(ids), "member_ids": ids[:AUDIT_ID_LIMIT]},
    )
    _notify(organization, ids, actor=actor, group=group)
    return group


@service_atomic
def update_group(
    group: ScimGroup, *, actor: Actor, display_name: str | None = None, external_id: str | None = None
) -> ScimGroup:
    """Rename and/or change externalId; unchanged values write nothing (Okta resends
    the name with every membership change)."""
    before = {"displayName": group.display_name, "externalId": group.external_id}
    fields = []
    if display_name is not None:
        name = _clean_name(display_name)
        if name != group.display_name:
            if name.lower() != group.display_name.lower() and _name_taken(group.organization, name, exclude_pk=group.pk):
                raise UniquenessError(f"A group named {name!r} already exists in this organization.")
            group.display_name = name
            fields.append("display_name")
    if external_id is not None and _fit(external_id, ScimGroup, "external_id") != group.external_id:
        group.external_id = external_id
        fields.append("external_id")
    if fields:
        try:  # (no savepoint: a refusal rolls the whole request back)
            group.save(update_fields=[*fields, "updated_at"])
        except IntegrityError as exc:
            raise UniquenessError(f"A group named {group.display_name!r} already exists in this organization.") from exc
        audit.record(
            group.organization, actor, SCIM_GROUP_UPDATE, group, before=before,
            after={"displayName": group.display_name, "externalId": group.external_id},
        )
    return group

@service_atomic
def change_group_members(
    group: ScimGroup, *, actor: Actor, add: Iterable[int] = (), remove: Iterable[int] = (),
    replace: Iterable[int] | None = None, unresolved_add: bool = False,
) -> tuple[set[int], set[int]]:
    """The one writer of group membership: `replace` sets the whole list, else
    `remove` then `add` apply. Ids must be resolved for this org, except `add`
    with unresolved_add=True: they are then checked in the same statement that
    reads which of the named are members (an unknown one refuses the whole
    call). Returns (added, removed) and notifies the access engine once for both."""
    links = ScimGroupMember.objects.filter(group=group)
    if replace is not None:
        current = set(links.values_list("membership_id", flat=True))
        target = set(replace)
        added, removed = target - current, current - target
        before, after = len(current), len(target)
    elif connection.vendor == "postgresql":
        # Checked, written, touched and audited in one statement (scim.group_diff).
        return _change_in_one_statement(group, set(add), set(remove) - set(add), actor=actor)
    else:
        add, remove = set(add), set(remove) - set(add)
        present = _present(group, add, remove, unresolved_add=unresolved_add)
        added, removed = add - present, remove & present
        before = None
    if removed:
        ScimGroupMember.objects.filter(group=group, membership_id__in=removed).delete()
    if added:
        _insert_links(group, sorted(added))
    if added or removed:
        # The group's version (scim.api.versions) moves with its members; the
        # object keeps the value written, so the response needs no re-read.
        # Counted (for the audit entry) in the same statement, only when
        # something changed.
        group.updated_at = timezone.now()
        after = _touch_and_count(group)
        if before is None:
            before = after - len(added) + len(removed)
        audit.record(
            group.organization, actor, SCIM_GROUP_MEMBERS, group,
            before={"members": before},
            after={
                "members": after,
                "added": sorted(added)[:AUDIT_ID_LIMIT],
                "removed": sorted(removed)[:AUDIT_ID_LIMIT],
            },
        )
        _notify(group.organization, added | removed, actor=actor, group=group)
    return added, removed


def _change_in_one_statement(group: ScimGroup, add: set[int], remove: set[int], *, actor: Actor) -> tuple[set[int], set[int]]:
    """change_group_members' add/remove on PostgreSQL. The ids to add are checked
    for the group's org in the statement itself: an unknown one writes nothing."""
    if not add and not remove:
        return set(), set()
    now = timezone.now()
    entry = audit.build_event(
        group.organization, actor, SCIM_GROUP_MEMBERS,
        target_type=ScimGroup._meta.label_lower, target_id=str(group.pk), target_label=str(group),
    )
    diff = group_diff.write(group, add, remove, now=now, audit=entry, id_limit=AUDIT_ID_LIMIT)
    _refuse_unknown([str(i) for i in diff.unknown])
    if diff.added or diff.removed:
        group.updated_at = now  # the value written: the response needs no re-read
        _notify(group.organization, diff.added | diff.removed, actor=actor, group=group)
    return diff.added, diff.removed


def _present(group: ScimGroup, add: set[int], remove: set[int], *, unresolved_add: bool) -> set[int]:
    """Which of the named members are in the group: only those are read (a
    20,000-member group is pushed 100 at a time). unresolved_add: the ids to add
    are memberships of the group's org, checked in the same statement."""
    named = add | remove
    if not named:
        return set()
    if not unresolved_add:
        return set(ScimGroupMember.objects.filter(group=group, membership_id__in=named).values_list("membership_id", flat=True))
    rows = (
        Membership.objects.filter(organization_id=group.organization_id, pk__in=named)
        .annotate(linked=Exists(ScimGroupMember.objects.filter(group=group, membership_id=OuterRef("pk"))))
        .values_list("pk", "linked")
    )
    found, present = set(), set()
    for pk, linked in rows:
        found.add(pk)
        if linked:
            present.add(pk)
    _refuse_unknown([str(i) for i in sorted(add - found)])
    return present


def _touch_and_count(group: ScimGroup) -> int:
    """Move the group's updated_at to the value on the object and count its
    members, in one statement (the count sees this transaction's changes)."""
    table = ScimGroup._meta.db_table
    links = ScimGroupMember._meta
    sql = (
        f'UPDATE "{table}" SET "{ScimGroup._meta.get_field("updated_at").column}" = %s WHERE "{ScimGroup._meta.pk.column}" = %s '
        f'RETURNING (SELECT COUNT(*) FROM "{links.db_table}" WHERE "{links.get_field("group").column}" = %s)'
    )
    field = ScimGroup._meta.get_field("updated_at")
    with connection.cursor() as cursor:
        cursor.execute(sql, [field.get_db_prep_save(group.updated_at, connection), group.pk, group.pk])
        return cursor.fetchone()[0]


def _insert_links(group: ScimGroup, member_ids: list[int]) -> None:
    """One INSERT for any number of members. On PostgreSQL the ids travel as one
    array parameter (no model instance per member: Okta pushes 100 at a time);
    a link a concurrent request inserted first is kept (ignore conflicts)."""
    if connection.vendor != "postgresql":
        ScimGroupMember.objects.bulk_create(
            (ScimGroupMember(group=group, membership_id=i) for i in member_ids), ignore_conflicts=True
        )
        return
    table = ScimGroupMember._meta.db_table
    columns = [ScimGroupMember._meta.get_field(name).column for name in ("group", "membership", "created_at")]
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" ("{columns[0]}", "{columns[1]}", "{columns[2]}") '
            "SELECT %s, unnest(%s::bigint[]), %s ON CONFLICT DO NOTHING",
            [group.pk, member_ids, timezone.now()],
        )


def touch_groups_of_deleted_member(sender, instance: Membership, origin=None, **kwargs) -> None:
    """pre_delete of a Membership (a SCIM DELETE, a removal by hand): its groups
    lose a member, so their version moves (scim.api.versions), in one UPDATE.
    Not when the whole organization goes (its groups go with it)."""
    if isinstance(origin, Organization):
        return
    ScimGroup.objects.filter(memberships__membership_id=instance.pk).update(updated_at=timezone.now())


@service_atomic
def delete_group(group: ScimGroup, *, actor: Actor) -> None:
    """Members lose what the group granted; the group's mapping goes with it."""
    member_ids = list(ScimGroupMember.objects.filter(group=group).values_list("membership_id", flat=True))
    audit.record(
        group.organization, actor, SCIM_GROUP_DELETE, group,
        before={"displayName": group.display_name, "members": len(member_ids)},
    )
    group.delete()
    _notify(group.organization, member_ids, actor=actor)
