"""Which account an org's IdP may sign in: through a linked identity only.

An identity (the org's SSO connection, the IdP's NameID) is linked to a
membership once (models.SsoIdentity). From then on the NameID finds the
account through the link, and nothing another channel writes (a SCIM userName,
e-mails) changes that.

At a NameID's first sign-in the candidate is the membership of this org whose
account e-mail is the NameID (else whose SCIM userName is). The link is made
without asking only when the org owns the account (organizations.services.
owned_by: it created it, and the account has no password and no other org), or
when this browser has just proven it holds the account (it accepted the
invitation), or when the org verified the domain of the account's e-mail
(organizations.signin.domains: it controls every address there). Otherwise
the person proves it first (link_views: the account's
password, or a one-time link e-mailed to its address). docs/ARCHITECTURE.md,
"Identity"."""
from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from organizations import audit, services
from organizations.audit import Actor
from organizations.audit_actions import SSO_LINK, SSO_UNLINK
from organizations.models import Membership, OrgRole

from ..domains.services import verified_by
from ..invitations import InvitationSource, create_invitation
from .acs import Refused
from .models import SsoIdentity, SsoSettings


def find_link(sso: SsoSettings, name_id: str) -> SsoIdentity | None:
    return (
        SsoIdentity.objects.select_related("membership__user", "membership__organization")
        .alias(_n=Lower("name_id"))
        .filter(sso=sso, _n=name_id.lower())
        .first()
    )


def candidate(sso: SsoSettings, name_id: str) -> Membership | None:
    """The membership a not-yet-linked NameID names: the account e-mail first
    (SCIM cannot change it), then the IdP's userName for this org."""
    scoped = Membership.objects.filter(organization=sso.organization).select_related("user", "organization")
    found = scoped.alias(_e=Lower("user__email")).filter(_e=name_id.lower()).first()
    if found is None:
        found = scoped.alias(_u=Lower("scim_username")).filter(_u=name_id.lower()).first()
    return found


def jit_allowed(sso: SsoSettings, name_id: str | None = None) -> bool:
    """Just-in-time creation only when SCIM is off (with SCIM on, the IdP
    provisions people and an unknown NameID is someone it did not assign), and
    only for an address on a domain the org verified: its IdP may not create
    accounts at addresses the org does not control. Without a NameID: whether
    the option is in effect at all."""
    if not (sso.jit_provisioning and not sso.organization.scim_enabled):
        return False
    return name_id is None or ("@" in name_id and verified_by(sso.organization, name_id))


def domain_verified(sso: SsoSettings, membership: Membership) -> bool:
    """The org verified the domain of this account's e-mail: its IdP speaks for
    every address there, so the link needs no proof (never for an operator)."""
    return not membership.user.is_superuser and verified_by(sso.organization, membership.user.email)


def check_usable(membership: Membership, name_id: str) -> None:
    """Refused unless the IdP may sign this person in to this org now."""
    if membership.user.is_superuser:
        raise Refused("operator", email=name_id)
    if not membership.active:
        raise Refused("deactivated", email=name_id)
    if membership.pending:
        raise Refused("pending", email=name_id)
    if not membership.user.is_active:
        raise Refused("account_disabled", email=name_id)


@dataclass
class Resolution:
    membership: Membership
    identity: SsoIdentity | None  # None: the link needs the account holder's proof first


def resolve(sso: SsoSettings, name_id: str, *, proven_user_id: int | None, create: bool = True) -> Resolution:
    """The membership this NameID signs in, linking it now where no proof is
    needed; Refused when the IdP may not sign anyone in with it."""
    identity = find_link(sso, name_id)
    if identity is not None:
        check_usable(identity.membership, name_id)
        return Resolution(identity.membership, identity)
    membership = candidate(sso, name_id)
    if membership is None:
        if not (create and jit_allowed(sso, name_id)):
            raise Refused("unknown_person", email=name_id)
        membership = _add_just_in_time(sso, name_id)
    check_usable(membership, name_id)
    if services.owned_by(membership.user, sso.organization):
        return Resolution(membership, link(sso, membership, name_id, how="owned", actor=None))
    if domain_verified(sso, membership):
        return Resolution(membership, link(sso, membership, name_id, how="domain", actor=None))
    if proven_user_id == membership.user_id:
        return Resolution(membership, link(sso, membership, name_id, how="invitation", actor=membership.user))
    return Resolution(membership, None)


def _add_just_in_time(sso: SsoSettings, email: str) -> Membership:
    """A new person becomes a Member at once; an existing account is asked to
    join (pending, with an invitation), like any other add. Only on a domain the
    org verified."""
    if not verified_by(sso.organization, email):
        raise Refused("unknown_person", email=email, detail="just-in-time creation needs a verified domain")
    try:
        with transaction.atomic():
            membership = services.add_member(sso.organization, email, role=OrgRole.MEMBER, actor=None)
            if membership.pending:
                create_invitation(membership, source=InvitationSource.MANUAL, actor=None, new_membership=True)
    except services.ServiceError as exc:
        raise Refused("unknown_person", email=email, detail=str(exc)) from exc
    return membership


@transaction.atomic
def link(sso: SsoSettings, membership: Membership, name_id: str, *, how: str, actor: Actor) -> SsoIdentity:
    """Link this NameID of the org's IdP to the membership (replacing an older
    link of the membership: the IdP now knows the person by this NameID)."""
    SsoIdentity.objects.filter(sso=sso, membership=membership).delete()
    try:
        with transaction.atomic():
            identity = SsoIdentity.objects.create(sso=sso, membership=membership, name_id=name_id, linked_by=how)
    except IntegrityError as exc:  # a concurrent sign-in linked the same NameID
        raise Refused("invalid", email=name_id, detail="linked concurrently") from exc
    audit.record(
        sso.organization, actor, SSO_LINK, membership, target_label=membership.user.email,
        after={"name_id": name_id, "proof": how},
    )
    return identity


def mark_used(identity: SsoIdentity) -> None:
    SsoIdentity.objects.filter(pk=identity.pk).update(last_signin_at=timezone.now())


@transaction.atomic
def unlink(membership: Membership, *, actor: Actor) -> int:
    """The Owner unlinks a member: their next SSO sign-in links again (with proof
    unless the org owns the account)."""
    removed = list(SsoIdentity.objects.filter(membership=membership).values_list("name_id", flat=True))
    if removed:
        SsoIdentity.objects.filter(membership=membership).delete()
        audit.record(
            membership.organization, actor, SSO_UNLINK, membership, target_label=membership.user.email,
            after={"name_ids": removed},
        )
    return len(removed)


def would_accept(sso: SsoSettings, name_id: str) -> tuple[bool, str]:
    """For Test SSO: would this NameID be let in (without creating or linking anyone)?"""
    org = sso.organization
    identity = find_link(sso, name_id)
    membership = identity.membership if identity is not None else candidate(sso, name_id)
    if membership is None:
        if jit_allowed(sso, name_id):
            return True, f"{name_id} is not a member yet and would be created as a Member (just-in-time)."
        if jit_allowed(sso):
            return False, (
                f"{name_id} is not a member of {org.name} and would be refused: just-in-time creation is offered only "
                f"for addresses on a domain {org.name} verified (Verified domains, on this tab)."
            )
        return False, Refused("unknown_person", email=name_id).message(org.name)
    try:
        check_usable(membership, name_id)
    except Refused as refusal:
        return False, refusal.message(org.name)
    role = membership.get_role_display()
    if identity is not None or services.owned_by(membership.user, org) or domain_verified(sso, membership):
        return True, f"{name_id} would sign in as {role}."
    return True, (
        f"{name_id} would sign in as {role} after proving, once, that the account {membership.user.email} "
        "is theirs (its password, or a link e-mailed to it)."
    )
