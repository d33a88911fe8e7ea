"""Invitations: the one-time link that lets a person an org added get in.

A link is valid INVITATION_VALID_DAYS days, once, for one org and one address,
and only while the membership exists and is active. A resend revokes the open
link and makes a new one. The e-mail leaves from a Celery task scheduled on
commit (organizations.signin.tasks); every step writes the audit log."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from organizations import audit, services
from organizations.audit import Actor
from organizations.audit_actions import (
    INVITATION_ACCEPT, INVITATION_CREATE, INVITATION_EXPIRE, INVITATION_REFUSE, INVITATION_RESEND,
    INVITATION_REVOKE, ORGANIZATION_INVITE_PROVISIONED_MEMBERS,
)
from organizations.background import enqueue
from organizations.models import Membership, Organization, OrgRole, User
from organizations.tokens import hash_token

from .models import Invitation, InvitationSource
from .tasks import send_invitation_email

REASON_REVOKED = "revoked by an admin"
REASON_REPLACED = "replaced by a newer invitation"
# The same reason as written before it was reworded: such links still read as replaced.
REASONS_REPLACED = (REASON_REPLACED, "replaced by a new invitation")
REASON_DEACTIVATED = "membership deactivated"
REASON_EXPIRED = "expired"  # set by expire_invitations; still listed, so it can be resent


def _label(invitation: Invitation) -> str:
    return invitation.email


def invite_on_provision(organization: Organization, *, pending: bool, active: bool) -> bool:
    """Whether a member the IdP creates is owed an invitation: unless the org
    turned that off; an existing account asked to join (pending) always is,
    accepting being the only way it joins."""
    return active and (pending or organization.invite_provisioned_members)


def invite_on_scim_reactivation(membership: Membership) -> bool:
    """Reactivation over SCIM invites again only where the org invites
    provisioned members (or the member is pending); whether the person set a
    password meanwhile is checked by the worker (due_invitations.deliver_due), not the request."""
    return membership.pending or membership.organization.invite_provisioned_members


def _schedule_delivery(invitation_id: int) -> None:
    transaction.on_commit(lambda: enqueue(send_invitation_email, invitation_id))


def _revoke_open(membership: Membership, *, actor: Actor, reason: str) -> int:
    """End the membership's open link, and take any link the expiry sweep closed
    off the list (one query when there is none)."""
    now = timezone.now()
    revoked = 0
    for invitation in Invitation.objects.select_for_update().filter(
        Q(revoked_at__isnull=True) | Q(revoked_reason=REASON_EXPIRED), membership=membership, accepted_at__isnull=True
    ):
        was_open = invitation.revoked_at is None
        invitation.revoked_at, invitation.revoked_reason = invitation.revoked_at or now, reason
        invitation.save(update_fields=["revoked_at", "revoked_reason"])
        if was_open:
            audit.record(
                membership.organization, actor, INVITATION_REVOKE, invitation, target_label=_label(invitation),
                after={"reason": reason},
            )
            revoked += 1
    return revoked


@transaction.atomic
def create_invitation(
    membership: Membership, *, source: str, actor: Actor, new_membership: bool = False
) -> Invitation:
    """Invite the person behind a membership; any open link of theirs stops working."""
    if not membership.active:
        raise services.ServiceError("A deactivated member cannot be invited; reactivate them first.")
    if not new_membership:  # a membership created in this transaction has no link yet
        _revoke_open(membership, actor=actor, reason=REASON_REPLACED)
    invitation = Invitation.objects.create(
        organization=membership.organization,
        membership=membership,
        email=membership.user.email,
        source=source,
        invited_by=audit.describe_actor(actor)[2][:255],
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_VALID_DAYS),
    )
    audit.record(
        membership.organization, actor, INVITATION_CREATE, invitation, target_label=_label(invitation),
        after={"email": invitation.email, "source": source, "expires_at": invitation.expires_at.isoformat()},
    )
    _schedule_delivery(invitation.pk)
    return invitation


@transaction.atomic
def invite_member(
    organization: Organization,
    email: str,
    *,
    actor: Actor,
    role: str = OrgRole.MEMBER,
    first_name: str = "",
    last_name: str = "",
) -> tuple[Membership, Invitation]:
    """Add a person by hand and send them their invitation, in one transaction."""
    membership = services.add_member(
        organization, email, role=role, first_name=first_name, last_name=last_name, actor=actor
    )
    return membership, create_invitation(membership, source=InvitationSource.MANUAL, actor=actor, new_membership=True)


@transaction.atomic
def resend_invitation(invitation: Invitation, *, actor: Actor) -> Invitation:
    invitation = (
        Invitation.objects.select_for_update(of=("self",))  # the membership side is an outer join
        .select_related("membership__user", "membership__organization")
        .get(pk=invitation.pk)
    )
    if invitation.accepted_at is not None:
        raise services.ServiceError(f"{invitation.email} has already accepted the invitation.")
    membership = invitation.membership
    if membership is None:
        raise services.ServiceError(f"{invitation.email} is no longer a member; add them again instead.")
    new = create_invitation(membership, source=invitation.source, actor=actor)
    audit.record(
        invitation.organization, actor, INVITATION_RESEND, new, target_label=_label(new),
        before={"invitation": invitation.pk}, after={"invitation": new.pk},
    )
    return new


@transaction.atomic
def revoke_invitation(invitation: Invitation, *, actor: Actor) -> Invitation:
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    swept = invitation.revoked_reason == REASON_EXPIRED
    if invitation.accepted_at is not None or (invitation.revoked_at is not None and not swept):
        raise services.ServiceError("That invitation is no longer open.")
    invitation.revoked_at, invitation.revoked_reason = invitation.revoked_at or timezone.now(), REASON_REVOKED
    invitation.save(update_fields=["revoked_at", "revoked_reason"])
    audit.record(
        invitation.organization, actor, INVITATION_REVOKE, invitation, target_label=_label(invitation),
        after={"reason": REASON_REVOKED},
    )
    return invitation


@transaction.atomic
def set_invite_provisioned_members(organization: Organization, enabled: bool, *, actor: Actor) -> Organization:
    before = {"invite_provisioned_members": organization.invite_provisioned_members}
    organization.invite_provisioned_members = enabled
    organization.save(update_fields=["invite_provisioned_members"])
    audit.record(
        organization, actor, ORGANIZATION_INVITE_PROVISIONED_MEMBERS, organization,
        before=before, after={"invite_provisioned_members": enabled},
    )
    return organization


def expire_invitations() -> int:
    """Close the open invitations whose time is up (the scheduled sweep; a link
    past expires_at is refused anyway). Idempotent; returns how many it closed.
    They stay on the Members tab as expired, with Resend."""
    now = timezone.now()
    total = 0
    while True:
        with transaction.atomic():
            batch = list(
                Invitation.objects.select_for_update(skip_locked=True)
                .filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__lte=now)
                .select_related("organization")
                .order_by("pk")[:500]
            )
            if not batch:
                return total
            Invitation.objects.filter(pk__in=[i.pk for i in batch]).update(revoked_at=now, revoked_reason=REASON_EXPIRED)
            audit.bulk_record([
                audit.build_event(
                    i.organization, None, INVITATION_EXPIRE, target_type=Invitation._meta.label_lower,
                    target_id=str(i.pk), target_label=i.email, after={"expires_at": i.expires_at.isoformat()},
                )
                for i in batch
            ])
            total += len(batch)


# ---- following a link --------------------------------------------------------


class Refusal:
    """Why a link does not work; each has its own page."""

    INVALID = "invalid"  # no such token: mistyped, tampered with, or replaced by a resend
    FOREIGN = "foreign"  # a real token of another org
    USED = "used"
    REVOKED = "revoked"
    REPLACED = "replaced"  # a resend (or a newer invitation) made a new link
    EXPIRED = "expired"
    GONE = "gone"  # the membership was removed or deactivated, or the account's address changed


@dataclass
class LinkCheck:
    invitation: Invitation | None
    refusal: str | None = None


def check_link(org_uid: str, token: str) -> LinkCheck:
    """What a visitor's link is worth. Looked up by the token's hash only: the
    comparison is an index lookup of a SHA-256, not of the secret itself."""
    if not token or len(token) > 100:
        return LinkCheck(None, Refusal.INVALID)
    invitation = (
        Invitation.objects.select_related("organization", "membership__user").filter(token_hash=hash_token(token)).first()
    )
    if invitation is None:
        return LinkCheck(None, Refusal.INVALID)
    if invitation.organization.uid != org_uid:
        return LinkCheck(invitation, Refusal.FOREIGN)
    if invitation.accepted_at is not None:
        return LinkCheck(invitation, Refusal.USED)
    if invitation.revoked_at is not None:
        refusal = {
            REASON_DEACTIVATED: Refusal.GONE, REASON_EXPIRED: Refusal.EXPIRED,
            **{reason: Refusal.REPLACED for reason in REASONS_REPLACED},
        }.get(invitation.revoked_reason, Refusal.REVOKED)
        return LinkCheck(invitation, refusal)
    if invitation.is_expired:
        return LinkCheck(invitation, Refusal.EXPIRED)
    membership = invitation.membership
    if membership is None or not membership.active or membership.user.email.lower() != invitation.email.lower():
        return LinkCheck(invitation, Refusal.GONE)
    return LinkCheck(invitation)


def record_refusal(check: LinkCheck) -> None:
    """A refused link of a known invitation is in its org's audit log (an unknown
    token names no org, so there is nothing to attach it to)."""
    if check.invitation is None:
        return
    audit.record(
        check.invitation.organization, None, INVITATION_REFUSE, check.invitation,
        target_label=_label(check.invitation), after={"reason": check.refusal},
    )


@transaction.atomic
def accept_invitation(invitation: Invitation, *, password: str | None = None) -> User:
    """Use the link: set the password if one is given, and close the invitation.
    Locks the row so two tabs submitting at once use it once."""
    locked = Invitation.objects.select_for_update().filter(pk=invitation.pk).first()
    if locked is None or locked.accepted_at is not None or locked.revoked_at is not None or locked.is_expired:
        raise services.ServiceError("This invitation has already been used or is no longer valid.")
    membership = Membership.objects.select_related("user", "organization").get(pk=locked.membership_id)
    user = membership.user
    if password:
        user.set_password(password)
        user.save(update_fields=["password"])
    locked.accepted_at = timezone.now()
    locked.save(update_fields=["accepted_at"])
    if membership.pending:  # an existing account asked to join: accepting is its consent
        services.join(membership, actor=user)
    audit.record(
        membership.organization, user, INVITATION_ACCEPT, locked, target_label=_label(locked),
        after={"password_set": bool(password)},
    )
    return user


# ---- subscribers (connected in OrganizationsConfig.ready) --------------------


def on_membership_created(sender, *, membership: Membership, source: str, actor: Actor, **kwargs) -> None:
    """The IdP created a member: invite them unless the org turned that off. An
    existing account the IdP pushed (pending) is always invited: accepting is the
    only way it joins."""
    if source != InvitationSource.SCIM or not membership.active or membership.invitation_due:
        return  # (due: the write that created it owes the invitation; the worker sends it)
    if not membership.organization.invite_provisioned_members and not membership.pending:
        return
    create_invitation(membership, source=InvitationSource.SCIM, actor=actor, new_membership=True)


def on_membership_active_changed(sender, *, membership: Membership, active: bool, actor: Actor, **kwargs) -> None:
    """Deactivation kills open links. Reactivation invites again only someone who
    never set a password (and only where the org invites provisioned members)."""
    if not active:
        _revoke_open(membership, actor=actor, reason=REASON_DEACTIVATED)
        return
    if membership.invitation_due:
        return  # owed by the SCIM write that reactivated it: the worker decides and sends
    user = membership.user
    if not membership.pending and (user.has_usable_password() or not membership.organization.invite_provisioned_members):
        return
    source = InvitationSource.MANUAL if isinstance(actor, User) else InvitationSource.SCIM
    create_invitation(membership, source=source, actor=actor)
