"""The e-mails sign-in sends, built and sent with Django's e-mail framework.
Called only from Celery tasks (organizations.signin.tasks), never in a request."""
from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from organizations.formats import format_datetime
from organizations.models import Membership, User

from .models import Invitation
from .saml.config import sp_urls


def absolute(path: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}{path}"


def invitation_url(invitation: Invitation, token: str) -> str:
    return absolute(reverse("invitation_accept", args=[invitation.organization.uid, token]))


def _send(subject: str, template: str, context: dict, to: str) -> None:
    body = render_to_string(template, context)
    message = EmailMultiAlternatives(subject=subject, body=body, to=[to])
    message.send(fail_silently=False)


def send_invitation(invitation: Invitation, token: str) -> None:
    """Greets the person by the first name this org knows them by (typed by the
    admin who added them, or sent by the identity provider), if any."""
    membership = invitation.membership
    context = {
        "first_name": (membership.given_name or membership.user.first_name).strip() if membership else "",
        "org_name": invitation.organization.name,
        "invited_by": invitation.invited_by if "@" in invitation.invited_by else "",
        "provisioned": invitation.source == "scim",
        "url": invitation_url(invitation, token),
        "days": settings.INVITATION_VALID_DAYS,
        "has_password": membership.user.has_usable_password() if membership else False,
    }
    _send(f"You are invited to {invitation.organization.name} on Orgdesk", "signin/email/invitation.txt", context,
          invitation.email)


def password_reset_url(user: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return absolute(reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": token}))


def send_password_reset(user: User) -> None:
    """The token is made here, in the worker, from the account's current state
    (Django's generator): it never travels through the broker."""
    first = not user.has_usable_password()  # provisioned or invited: no password yet
    context = {"url": password_reset_url(user), "email": user.email, "first_password": first}
    subject = "Choose your Orgdesk password" if first else "Reset your Orgdesk password"
    _send(subject, "signin/email/password_reset.txt", context, user.email)


def send_signin_alert(user: User, *, failures: int, when: str, address: str) -> None:
    """Tell the holder of an account that it is being guessed; no detail beyond
    the client address of the attempt that crossed the threshold."""
    try:
        at = format_datetime(datetime.fromisoformat(when))
    except (TypeError, ValueError):
        at = when
    context = {
        "email": user.email,
        "failures": failures,
        "when": at,
        "address": address,
        "reset_url": absolute(reverse("password_reset")),
    }
    _send("Someone is trying to sign in as you", "signin/email/signin_alert.txt", context, user.email)


def send_sso_links(user: User, orgs: list) -> None:
    """One message: each org's name with its SSO sign-in URL."""
    context = {"email": user.email, "orgs": [{"name": org.name, "url": sp_urls(org).login_url} for org in orgs]}
    _send("Your Orgdesk single sign-on links", "signin/email/sso_links.txt", context, user.email)


def send_ownership_received(membership: Membership, given_by: str) -> None:
    """Tell the new Owner: ownership is the one change nobody else can undo."""
    org = membership.organization
    context = {
        "org_name": org.name,
        "given_by": given_by if "@" in given_by else "",
        "url": absolute(reverse("admin:org-settings", args=[org.uid])),
    }
    _send(f"You are now the Owner of {org.name} on Orgdesk", "signin/email/ownership.txt", context, membership.user.email)


def send_sso_link_proof(membership: Membership, url: str) -> None:
    """Ask the account holder to confirm that an org's IdP may sign them in."""
    org = membership.organization
    context = {"org_name": org.name, "email": membership.user.email, "url": url}
    _send(f"Link your Orgdesk account to {org.name}'s single sign-on", "signin/email/sso_link.txt", context,
          membership.user.email)


def send_sso_certificate_warning(membership: Membership, cert, days: int, metadata_url: str) -> None:
    """The IdP's signing certificate in use expires soon: sign-ins stop then."""
    org = membership.organization
    context = {
        "org_name": org.name, "days": days, "days_left": max(cert.days_left, 0),
        "expires": cert.not_after.strftime("%Y-%m-%d %H:%M UTC"), "subject": cert.subject,
        "sha256": cert.sha256, "metadata_url": metadata_url,
        "url": absolute(reverse("admin:org-settings-sso", args=[org.uid])),
    }
    when = "tomorrow" if days == 1 else f"within {days} days"
    _send(f"{org.name}: the single sign-on certificate expires {when}", "signin/email/sso_certificate.txt",
          context, membership.user.email)
