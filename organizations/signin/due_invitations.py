"""Invitations owed by SCIM writes, built and sent by the worker.

A SCIM push (or reactivation) records only that an invitation is owed
(Membership.invitation_due, written in the same INSERT or UPDATE); the worker
builds the invitation, its token and e-mail. The request enqueues at most one
task per INVITATION_BATCH_SECONDS (a cache key added with SET NX semantics),
which picks up every owed invitation of the burst; beat sweeps every
INVITATION_SWEEP_SECONDS in case that task was lost. Each e-mail is sent while
its invitation row is locked, and marked sent in the same transaction, so a
worker that dies mid-way leaves it unsent (rolled back) for the next sweep."""
from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from organizations import audit
from organizations.audit_actions import INVITATION_CREATE, INVITATION_REVOKE
from organizations.background import enqueue, tasks_run_eagerly
from organizations.models import Membership

from .invitations import REASON_EXPIRED, REASON_REPLACED, _label
from .models import Invitation, InvitationSource
from .tasks import deliver_unsent

logger = logging.getLogger("orgdesk.signin")

DUE_KICK_KEY = "invitations-due-kick"
DUE_BATCH = 200


def schedule_due_delivery() -> None:
    """Once the write commits: make sure a delivery run is coming (see above)."""
    transaction.on_commit(_kick_due_delivery)


def _kick_due_delivery() -> None:
    if tasks_run_eagerly():
        enqueue(deliver_due_invitations)
        return
    delay = settings.INVITATION_BATCH_SECONDS
    try:
        first = cache.add(DUE_KICK_KEY, 1, timeout=delay + 5)
    except Exception:  # the cache is down: enqueue (the beat sweep is the safety net)
        first = True
    if first:
        enqueue(deliver_due_invitations, countdown=delay)


def _owed(membership: Membership) -> bool:
    """A due membership still gets its invitation: active, and either asked to
    join or without a password of its own (a person who set one signs in)."""
    return membership.active and (membership.pending or not membership.user.has_usable_password())


def create_due_invitations() -> int:
    """Build the invitations owed (Membership.invitation_due), a batch per
    transaction: any open link of those members is replaced, the flag cleared.
    Rows another run holds are skipped. Returns how many were created."""
    created = 0
    while True:
        with transaction.atomic():
            due = list(
                Membership.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(invitation_due=True)
                .select_related("organization", "user")
                .order_by("pk")[:DUE_BATCH]
            )
            if not due:
                return created
            Membership.objects.filter(pk__in=[m.pk for m in due]).update(invitation_due=False)
            owed = [m for m in due if _owed(m)]
            if not owed:
                continue
            now = timezone.now()
            events = []
            replaced = list(
                Invitation.objects.select_for_update()
                .filter(Q(revoked_at__isnull=True) | Q(revoked_reason=REASON_EXPIRED))
                .filter(membership__in=owed, accepted_at__isnull=True)
            )
            if replaced:
                Invitation.objects.filter(pk__in=[i.pk for i in replaced]).update(
                    revoked_at=now, revoked_reason=REASON_REPLACED
                )
                by_member = {m.pk: m for m in owed}
                events += [
                    audit.build_event(
                        by_member[i.membership_id].organization, None, INVITATION_REVOKE,
                        target_type=Invitation._meta.label_lower, target_id=str(i.pk), target_label=_label(i),
                        after={"reason": REASON_REPLACED},
                    )
                    for i in replaced if i.revoked_at is None
                ]
            expires = now + timedelta(days=settings.INVITATION_VALID_DAYS)
            invitations = Invitation.objects.bulk_create(
                Invitation(
                    organization=m.organization, membership=m, email=m.user.email, source=InvitationSource.SCIM,
                    expires_at=expires,
                )
                for m in owed
            )
            events += [
                audit.build_event(
                    i.organization, None, INVITATION_CREATE, target_type=Invitation._meta.label_lower,
                    target_id=str(i.pk), target_label=_label(i),
                    after={"email": i.email, "source": i.source, "expires_at": i.expires_at.isoformat()},
                )
                for i in invitations
            ]
            audit.bulk_record(events)
            created += len(invitations)


def deliver_due() -> tuple[int, int]:
    """The delivery run: build what is owed, then send every open invitation
    never attempted. Returns (created, sent)."""
    return create_due_invitations(), deliver_unsent()


@shared_task(acks_late=True)
def deliver_due_invitations() -> tuple[int, int]:
    """The one task of a burst of SCIM pushes (and beat's sweep): build every
    owed invitation and send them (deliver_due above).
    Idempotent; a run killed mid-way is run again (acks late) or swept."""
    try:
        cache.delete(DUE_KICK_KEY)  # writes from now on schedule the next run
    except Exception:
        logger.warning("Could not clear the invitation kick key", exc_info=True)
    return deliver_due()
