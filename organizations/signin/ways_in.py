"""Every member has a way in: the Members tab's "Sign-in" column, the one-click
"Send invitation", and "Send invitations to everyone without a way in" (a
background task that pages through the org, with a progress record).

A member's way in is, in this order: a password of their own; the org's single
sign-on (enabled and configured); an open invitation (sent, not delivered yet,
or expired: then it needs a new one). A member with none of these cannot sign in
and nobody is told: the column says "No way in yet" and offers to invite them.

The column costs a constant number of queries per page: the account (and so
has_usable_password) is already on each row, SSO is one read of the org's
settings, and the page's invitations are one query."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from celery import shared_task
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from organizations import services
from organizations.audit import Actor
from organizations.background import enqueue
from organizations.models import Membership, Organization, User
from organizations.paging import in_org

from .access import sso_signin_available
from .invitations import create_invitation
from .models import OPEN_OR_EXPIRED, Invitation, InvitationSource

logger = logging.getLogger("orgdesk.invitations")

PASSWORD = "password"
SSO = "sso"
INVITED = "invited"  # an open invitation: sent, sending or not delivered yet
EXPIRED = "expired"  # the last invitation expired: it needs a new one
NONE = "none"  # no way in yet
DEACTIVATED = "deactivated"

# The background sending walks the org this many members at a time.
BATCH_SIZE = 200
PROGRESS_SECONDS = 24 * 3600


@dataclass
class WayIn:
    code: str
    invitation: Invitation | None = None
    also_sso: bool = False

    @property
    def needs_invitation(self) -> bool:
        return self.code in (NONE, EXPIRED)


def way_in(membership: Membership, invitation: Invitation | None, sso: bool) -> WayIn:
    if not membership.active:
        return WayIn(DEACTIVATED)
    if membership.pending:  # an existing account asked to join: its invitation is the way
        return WayIn(EXPIRED if invitation is None or invitation.is_expired else INVITED, invitation)
    if membership.user.has_usable_password():
        return WayIn(PASSWORD, also_sso=sso)
    if sso:
        return WayIn(SSO)
    if invitation is not None:
        return WayIn(EXPIRED if invitation.is_expired else INVITED, invitation)
    return WayIn(NONE)


def annotate_ways_in(org: Organization, memberships: list[Membership]) -> None:
    """Set `way_in` on each membership of a page: one query for the page's
    invitations (the newest open or expired one of each member), plus the org's
    SSO settings (one read, cached on the org)."""
    sso = sso_signin_available(org)
    latest: dict[int, Invitation] = {}
    ids = [m.pk for m in memberships if m.active]
    if ids:
        # The org as a parameter (in_org): believed a row or two (provisioned since
        # the last ANALYZE), the org's open invitations were all read to find the page's.
        for invitation in Invitation.objects.filter(OPEN_OR_EXPIRED, in_org(org), membership_id__in=ids).order_by(
            "created_at", "id"
        ):
            latest[invitation.membership_id] = invitation  # the newest wins
    for m in memberships:
        m.way_in = way_in(m, latest.get(m.pk), sso)


def _no_way_in(org: Organization):
    """Members of the org who cannot sign in and have no open invitation (an
    expired one does not count), in id order. Empty when the org's SSO signs
    its members in."""
    open_invitation = Invitation.objects.pending().filter(membership_id=OuterRef("pk"))
    return (
        Membership.objects.filter(
            organization=org, active=True, pending=False, user__is_active=True,
            user__password__startswith=UNUSABLE_PASSWORD_PREFIX,
        )
        .exclude(Exists(open_invitation))
        .order_by("pk")
    )


def send_invitation(membership: Membership, *, actor: Actor) -> Invitation:
    """One click on "Send invitation": a new link (any older one stops working)."""
    if not membership.active:
        raise services.ServiceError(f"{membership.user.email} is deactivated; reactivate them first.")
    if not membership.pending and membership.user.has_usable_password():
        raise services.ServiceError(
            f"{membership.user.email} already has a password and can sign in "
            "(\"Forgotten your password?\" on the sign-in page if they lost it)."
        )
    return create_invitation(membership, source=InvitationSource.MANUAL, actor=actor)


# ---- everyone without a way in, in the background ------------------------------------------


def _progress_key(org: Organization | int) -> str:
    return f"orgdesk:ways-in:bulk:{org if isinstance(org, int) else org.pk}"


def progress(org: Organization) -> dict | None:
    """The last bulk sending of this org: {"status": "running"|"done"|"failed",
    "sent", "total", "started_at", "finished_at", "by"}, or None. Kept in the
    cache (Redis, shared by web and workers) for a day; no database query."""
    try:
        return cache.get(_progress_key(org))
    except Exception:  # the cache is down: the page still renders
        logger.warning("Bulk invitation progress unavailable", exc_info=True)
        return None


def _save_progress(org_id: int, record: dict) -> None:
    try:
        cache.set(_progress_key(org_id), record, PROGRESS_SECONDS)
    except Exception:
        logger.warning("Bulk invitation progress not saved", exc_info=True)


def start_bulk_invitations(org: Organization, *, actor: User) -> dict:
    """Schedule the background sending; refused while one is running."""
    current = progress(org)
    if current and current.get("status") == "running":
        raise services.ServiceError("Invitations are already being sent to everyone without a way in.")
    if sso_signin_available(org):
        raise services.ServiceError(f"Everyone in {org.name} can sign in through single sign-on.")
    record = {
        "status": "running", "sent": 0, "total": None, "by": actor.email,
        "started_at": timezone.now().isoformat(), "finished_at": None,
    }
    _save_progress(org.pk, record)
    transaction.on_commit(lambda: enqueue(send_invitations_to_members_without_way_in, org.pk, actor.pk))
    return record


def send_missing_invitations(org_id: int, actor_id: int | None) -> int:
    """The worker's part: invite every member without a way in, BATCH_SIZE at a
    time (each batch its own transaction, resuming after the last id), updating
    the progress record after each batch. Idempotent: a member invited by an
    earlier run has an open invitation and is skipped."""
    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        return 0
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    record = progress(org) or {"status": "running", "sent": 0, "by": actor.email if actor else "", "started_at":
                                timezone.now().isoformat(), "finished_at": None}
    try:
        record["total"] = 0 if sso_signin_available(org) else _no_way_in(org).count()
        record["sent"] = 0
        _save_progress(org.pk, record)
        after = 0
        while record["total"]:
            with transaction.atomic():
                batch = list(_no_way_in(org).filter(pk__gt=after).select_related("user", "organization")[:BATCH_SIZE])
                if not batch:
                    break
                for membership in batch:
                    create_invitation(membership, source=InvitationSource.MANUAL, actor=actor)
                after = batch[-1].pk
            record["sent"] += len(batch)
            _save_progress(org.pk, record)
    except Exception:
        record.update(status="failed", finished_at=timezone.now().isoformat())
        _save_progress(org.pk, record)
        raise
    record.update(status="done", finished_at=timezone.now().isoformat())
    _save_progress(org.pk, record)
    return record["sent"]


@shared_task(acks_late=True)
def send_invitations_to_members_without_way_in(org_id: int, actor_id: int | None) -> int:
    """"Send invitations to everyone without a way in" (Members tab): pages
    through the org in batches and keeps a progress record (send_missing_invitations)."""
    return send_missing_invitations(org_id, actor_id)
