"""Sign-in's e-mail, sent by Celery workers. Tasks take ids and are idempotent:
a delivered invitation is not sent again, an SMTP failure retries with backoff
and leaves the invitation open (the Members tab shows it undelivered, with
Resend), so an outage loses nothing.

Requests that must not reveal whether an address has an account (password
reset, "Sign in with SSO" by e-mail) enqueue a task with the address typed, the
same for every address, with `organizations.background.enqueue_after_response`;
the task looks the account up and decides."""
from __future__ import annotations

import logging
import smtplib

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from organizations import audit
from organizations.audit import Actor
from organizations.audit_actions import (
    ACCOUNT_PASSWORD_RESET_REQUEST, ACCOUNT_SIGNIN_ALERT_SENT, INVITATION_DELIVER, INVITATION_DELIVERY_FAILED,
)
from organizations.background import enqueue
from organizations.models import Membership, Organization, OrgRole, User
from organizations.services import find_account
from organizations.tokens import hash_token, new_token

from . import mail
from .access import can_sign_in, may_choose_password
from .models import Invitation

logger = logging.getLogger("orgdesk.mail")

# What an SMTP outage looks like: refused or dropped connections, timeouts,
# temporary (4xx) and permanent server answers alike (retrying is cheap).
MAIL_ERRORS = (smtplib.SMTPException, OSError)


def _retry_delay(retries: int) -> int:
    return min(settings.EMAIL_RETRY_DELAY * 2**retries, 3600)


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
                invitation.organization, None, INVITATION_DELIVERY_FAILED, invitation,
                target_label=invitation.email, after={"attempts": invitation.send_attempts, "error": error},
            )
        raise self.retry(exc=exc, countdown=_retry_delay(self.request.retries))
    _mark_sent(invitation)
    return True


def _mark_sent(invitation: Invitation) -> None:
    Invitation.objects.filter(pk=invitation.pk).update(sent_at=timezone.now(), last_error="")
    audit.record(
        invitation.organization, None, INVITATION_DELIVER, invitation, target_label=invitation.email,
        after={"attempts": invitation.send_attempts},
    )


def _send_one_unsent() -> bool | None:
    """Lock one open invitation never attempted (skipping those another run
    holds), give it a token and send it, in one transaction: a worker killed
    mid-way rolls it back, and the next run sends it. None: none left."""
    failed = None
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("organization", "membership__user")
            .filter(sent_at__isnull=True, send_attempts=0, accepted_at__isnull=True, revoked_at__isnull=True,
                    expires_at__gt=timezone.now(), membership__active=True)
            .order_by("pk")
            .first()
        )
        if invitation is None:
            return None
        token = new_token()
        invitation.token_hash = hash_token(token)
        invitation.send_attempts += 1
        try:
            mail.send_invitation(invitation, token)
        except MAIL_ERRORS as exc:
            failed = f"{type(exc).__name__}: {exc}"[:500]
            invitation.last_error = failed
            invitation.save(update_fields=["token_hash", "send_attempts", "last_error"])
        else:
            invitation.save(update_fields=["token_hash", "send_attempts"])
            _mark_sent(invitation)
    if failed is not None:
        # Retried with backoff by the one-invitation task, as any delivery failure.
        logger.warning("Invitation %s not delivered (attempt 1): %s", invitation.pk, failed)
        enqueue(send_invitation_email, invitation.pk, countdown=_retry_delay(0))
        return False
    return True


def deliver_unsent() -> int:
    """Send every open invitation never attempted; returns how many were sent."""
    sent = 0
    while (outcome := _send_one_unsent()) is not None:
        sent += bool(outcome)
    return sent


@shared_task(bind=True, acks_late=True, max_retries=5)
def send_password_reset_email(self, user_id: int) -> bool:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not (user.has_usable_password() or may_choose_password(user)):
        return False
    try:
        mail.send_password_reset(user)
    except MAIL_ERRORS as exc:
        logger.warning("Password reset e-mail for account %s not delivered: %s", user_id, exc)
        raise self.retry(exc=exc, countdown=_retry_delay(self.request.retries))
    return True


@shared_task
def send_password_reset_email_to(email: str) -> bool:
    """A password-reset request, whatever the address: the account is looked up
    here, not in the request. Only an account that may sign in with a password
    is audited and e-mailed (by send_password_reset_email, which retries). An
    account with no password yet (provisioned, or invited and not joined) gets
    the same link to choose one when an org it is in allows passwords to it
    (access.may_choose_password): otherwise it would be told "we've e-mailed
    you" and get nothing, with no way in."""
    user = find_account(email)
    if user is None or not can_sign_in(user):
        return False
    if not user.has_usable_password() and not may_choose_password(user):
        return False
    audit.record(None, user, ACCOUNT_PASSWORD_RESET_REQUEST, user)
    enqueue(send_password_reset_email, user.pk)
    return True


@shared_task(bind=True, acks_late=True, max_retries=5)
def send_signin_alert_email(self, user_id: int, failures: int, when: str, address: str) -> bool:
    """Tell the holder that someone keeps failing to sign in as them (sent at
    most once per throttle window, organizations.signin.throttle)."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return False
    try:
        mail.send_signin_alert(user, failures=failures, when=when, address=address)
    except MAIL_ERRORS as exc:
        logger.warning("Sign-in alert for account %s not delivered: %s", user_id, exc)
        raise self.retry(exc=exc, countdown=_retry_delay(self.request.retries))
    audit.record(None, user, ACCOUNT_SIGNIN_ALERT_SENT, user, after={"failures": failures})
    return True


def sso_orgs_of(user: User) -> list[Organization]:
    """The orgs with SSO enabled where the account is an active member (joined:
    an org that only asked an existing account to join is not theirs yet)."""
    return list(
        Organization.objects.filter(
            memberships__user=user, memberships__active=True, memberships__pending=False, sso__enabled=True
        )
        .distinct()
        .order_by("name", "pk")
    )


@shared_task(bind=True, acks_late=True, max_retries=5)
def send_sso_signin_links(self, email: str) -> bool:
    """"Sign in with SSO" by e-mail, whatever the address: one message listing
    each org with SSO enabled where the account is active, with its SSO sign-in
    URL; nothing for an address with no such org."""
    user = find_account(email)
    if user is None or not user.is_active:
        return False
    orgs = sso_orgs_of(user)
    if not orgs:
        return False
    try:
        mail.send_sso_links(user, orgs)
    except MAIL_ERRORS as exc:
        logger.warning("SSO sign-in links for account %s not delivered: %s", user.pk, exc)
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
