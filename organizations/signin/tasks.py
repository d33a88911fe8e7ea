"""Sign-in's e-mail, sent by Celery workers. Tasks take ids and are idempotent:
a delivered invitation is not sent again, an SMTP failure retries with backoff
and leaves the invitation open (the Members tab shows it undelivered, with
Resend), so an outage loses nothing."""
from __future__ import annotations

import logging
import smtplib

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from organizations import audit
from organizations.audit import Actor
from organizations.models import Membership, OrgRole, User

from . import mail
from .invitations import new_token
from .models import Invitation, hash_token

logger = logging.getLogger("orgdesk.mail")

# What an SMTP outage looks like: refused or dropped connections, timeouts,
# temporary (4xx) and permanent server answers alike (retrying is cheap).
MAIL_ERRORS = (smtplib.SMTPException, OSError)


def _retry_delay(retries: int) -> int:
    return min(settings.EMAIL_RETRY_DELAY * 2**retries, 3600)


def _broker_errors() -> tuple[type[BaseException], ...]:
    from kombu.exceptions import OperationalError as KombuOperationalError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return (KombuOperationalError, RedisConnectionError, RedisTimeoutError)


def enqueue(task, *args) -> None:
    """Hand a task to a worker after commit. If the broker is unreachable, or tasks
    run eagerly (no broker configured), it runs here; a failure is logged, never
    raised into the request that scheduled it (the invitation stays open and
    shows as undelivered)."""
    try:
        task.delay(*args)
    except _broker_errors():
        logger.warning("Celery broker unavailable: sending %s%s in this process", task.name, args, exc_info=True)
        try:
            task.apply(args=args, throw=True)
        except Exception:
            logger.exception("%s%s failed", task.name, args)
    except Exception:
        logger.exception("%s%s failed", task.name, args)


def _claim(invitation_id: int) -> tuple[Invitation, str] | None:
    """Give the invitation a fresh token (only its hash is kept) unless it is
    delivered or closed. A token of an earlier failed attempt was never sent."""
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update(of=("self",))
            .select_related("organization", "membership__user")
            .filter(pk=invitation_id)
            .first()
        )
        if invitation is None or invitation.sent_at is not None or not invitation.is_open:
            return None
        if invitation.membership is None or not invitation.membership.active:
            return None
        token = new_token()
        invitation.token_hash = hash_token(token)
        invitation.send_attempts += 1
        invitation.save(update_fields=["token_hash", "send_attempts"])
    return invitation, token


@shared_task(bind=True, acks_late=True, max_retries=8)
def send_invitation_email(self, invitation_id: int) -> bool:
    claimed = _claim(invitation_id)
    if claimed is None:
        return False
    invitation, token = claimed
    try:
        mail.send_invitation(invitation, token)
    except MAIL_ERRORS as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
        Invitation.objects.filter(pk=invitation.pk).update(last_error=error)
        logger.warning("Invitation %s not delivered (attempt %s): %s", invitation.pk, invitation.send_attempts, error)
        if self.request.retries >= self.max_retries:
            audit.record(
                invitation.organization, None, "invitation.delivery_failed", invitation,
                target_label=invitation.email, after={"attempts": invitation.send_attempts, "error": error},
            )
        raise self.retry(exc=exc, countdown=_retry_delay(self.request.retries))
    Invitation.objects.filter(pk=invitation.pk).update(sent_at=timezone.now(), last_error="")
    audit.record(
        invitation.organization, None, "invitation.deliver", invitation, target_label=invitation.email,
        after={"attempts": invitation.send_attempts},
    )
    return True


@shared_task(bind=True, acks_late=True, max_retries=5)
def send_password_reset_email(self, user_id: int) -> bool:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.has_usable_password():
        return False
    try:
        mail.send_password_reset(user)
    except MAIL_ERRORS as exc:
        logger.warning("Password reset e-mail for account %s not delivered: %s", user_id, exc)
        raise self.retry(exc=exc, countdown=_retry_delay(self.request.retries))
    return True


@shared_task(bind=True, acks_late=True, max_retries=8)
def send_ownership_email(self, membership_id: int, given_by: str) -> bool:
    """Tell a new Owner. Nothing to tell once they are no longer the Owner."""
    membership = (
        Membership.objects.select_related("organization", "user").filter(pk=membership_id, role=OrgRole.OWNER).first()
    )
    if membership is None:
        return False
    try:
        mail.send_ownership_received(membership, given_by)
    except MAIL_ERRORS as exc:
        logger.warning("Ownership e-mail for membership %s not delivered: %s", membership_id, exc)
        raise self.retry(exc=exc, countdown=_retry_delay(self.request.retries))
    return True


def on_ownership_transferred(sender, *, organization, new_owner: Membership, actor: Actor, **kwargs) -> None:
    """Subscriber of organizations.signals.ownership_transferred: the e-mail leaves
    once the transfer commits (a refused or rolled-back transfer sends nothing)."""
    given_by = audit.describe_actor(actor)[2]
    transaction.on_commit(lambda: enqueue(send_ownership_email, new_owner.pk, given_by))
