"""How an IdP sign-in ends: a session for the linked person (for this org
only), or first the proof that links the NameID to an account the org does not
own (linking.py says when).

The proof happens in the browser that came back from the IdP, within
LINK_SECONDS: the account's password, or a one-time link e-mailed to the
account's address and opened in this same browser (the session holds only its
hash), or — when this browser is already signed in with that account's
password — a confirmation. A link e-mailed to the victim of someone else's IdP
is useless to that someone: it works only in the session that started it."""
from __future__ import annotations

import secrets
import time

from django import forms
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from organizations import audit
from organizations.audit_actions import SSO_LINK_PROOF_SENT, SSO_LINK_REFUSED, SSO_SIGNIN
from organizations.background import enqueue
from organizations.models import Membership
from organizations.permissions import can_manage
from organizations.signin import sessions, throttle
from organizations.tokens import hash_token, new_token

from . import acs, linking
from .logout import record_session
from .models import SsoIdentity, SsoSettings
from .tasks import send_sso_link_email

PENDING_LINK_KEY = "saml_link"  # {"sso", "org", "membership", "name_id", "flow", "at", "email_token"}
LINK_SECONDS = 15 * 60


def remember(request: HttpRequest, sso: SsoSettings, membership: Membership, name_id: str, *, flow: str,
             session_index: str = "") -> None:
    """The IdP vouched for `name_id`; the link to `membership` waits for proof."""
    request.session[PENDING_LINK_KEY] = {
        "sso": sso.pk, "org": sso.organization.uid, "membership": membership.pk, "name_id": name_id,
        "flow": flow, "at": time.time(), "email_token": None, "session_index": session_index,
    }


def landing_url(membership: Membership) -> str:
    if can_manage(membership.user, membership.organization):
        return reverse("admin:org-settings", args=[membership.organization.uid])
    return reverse("member_home")


def sign_in(request: HttpRequest, sso: SsoSettings, identity: SsoIdentity, *, flow: str,
            session_index: str = "") -> HttpResponse:
    """Open a session for the linked person that opens this org only, and note
    it for single logout (its NameID and the IdP's SessionIndex)."""
    membership = identity.membership
    user = membership.user
    login(request, user, backend=sessions.SSO_BACKEND)
    sessions.add_sso_org(request, sso.organization)
    record_session(request, sso, user, identity.name_id, session_index)
    linking.mark_used(identity)
    audit.record(
        sso.organization, user, SSO_SIGNIN, membership, target_label=user.email,
        after={"flow": flow, "name_id": identity.name_id, "role": membership.role},
    )
    return HttpResponseRedirect(landing_url(membership))


class LinkPasswordForm(forms.Form):
    password = forms.CharField(label="Password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


def _pending(request: HttpRequest, org_uid: str) -> tuple[dict, SsoSettings, Membership] | None:
    """The link waiting for proof in this browser, if it is still good."""
    pending = request.session.get(PENDING_LINK_KEY)
    if not pending or pending.get("org") != org_uid or time.time() - pending.get("at", 0) > LINK_SECONDS:
        return None
    sso = SsoSettings.objects.select_related("organization").filter(pk=pending["sso"], enabled=True).first()
    membership = (
        Membership.objects.select_related("user", "organization").filter(pk=pending["membership"]).first()
        if sso is not None else None
    )
    if membership is None or membership.organization_id != sso.organization_id:
        return None
    return pending, sso, membership


def _expired(request: HttpRequest, org_uid: str) -> HttpResponse:
    sso = get_object_or_404(SsoSettings.objects.select_related("organization"), organization__uid=org_uid)
    context = {"org": sso.organization, "message": acs.Refused("link_expired").message(sso.organization.name),
               "reason": "link_expired"}
    return TemplateResponse(request, "signin/saml/refused.html", context, status=410)


def _link_and_sign_in(request: HttpRequest, pending: dict, sso: SsoSettings, membership: Membership, how: str) -> HttpResponse:
    try:
        linking.check_usable(membership, pending["name_id"])
        identity = linking.link(sso, membership, pending["name_id"], how=how, actor=membership.user)
    except acs.Refused as refusal:
        request.session.pop(PENDING_LINK_KEY, None)
        context = {"org": sso.organization, "message": refusal.message(sso.organization.name), "reason": refusal.reason}
        return TemplateResponse(request, "signin/saml/refused.html", context, status=403)
    request.session.pop(PENDING_LINK_KEY, None)
    return sign_in(request, sso, identity, flow=pending["flow"], session_index=pending.get("session_index") or "")


def _signed_in_as(request: HttpRequest, membership: Membership) -> bool:
    state = sessions.SignInState.of(request)
    return (
        request.user.is_authenticated and request.user.pk == membership.user_id
        and state is not None and state.password
    )


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def link_view(request: HttpRequest, org_uid: str) -> HttpResponse:
    found = _pending(request, org_uid)
    if found is None:
        return _expired(request, org_uid)
    pending, sso, membership = found
    email = membership.user.email
    form = LinkPasswordForm(request.POST if request.POST.get("action") == "password" else None)
    sent = bool(pending.get("email_token"))
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "confirm" and _signed_in_as(request, membership):
            return _link_and_sign_in(request, pending, sso, membership, "session")
        if action == "password" and form.is_valid():
            # A password attempt like any sign-in (organizations.signin.throttle): the pair
            # and address pauses and the account-wide delay apply.
            refusal = throttle.signin_refusal(request, email)
            if refusal:
                form.add_error(None, refusal.message())
            elif membership.user.check_password(form.cleaned_data["password"]):
                throttle.record_signin_success(request, email)
                return _link_and_sign_in(request, pending, sso, membership, "password")
            else:
                throttle.record_signin_failure(request, email)
                audit.record(sso.organization, None, SSO_LINK_REFUSED, membership, target_label=email,
                             after={"name_id": pending["name_id"], "reason": "wrong_password"})
                form.add_error("password", "That is not the password of this account.")
        if action == "email":
            token = new_token()
            pending["email_token"] = hash_token(token)
            request.session[PENDING_LINK_KEY] = pending
            url = reverse("saml:link-confirm", args=[org_uid, token])
            # The raw token travels through the broker to the worker that e-mails
            # it; alone it is worthless: it works only in this browser's session.
            enqueue(send_sso_link_email, membership.pk, url)
            audit.record(sso.organization, None, SSO_LINK_PROOF_SENT, membership, target_label=email,
                         after={"name_id": pending["name_id"]})
            sent = True
    context = {
        "org": sso.organization, "email": email, "name_id": pending["name_id"], "form": form, "sent": sent,
        "signed_in_as": _signed_in_as(request, membership), "has_password": membership.user.has_usable_password(),
    }
    return TemplateResponse(request, "signin/saml/link.html", context, status=200 if not form.errors else 400)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def link_confirm_view(request: HttpRequest, org_uid: str, token: str) -> HttpResponse:
    """The e-mailed link: GET shows a button (mail scanners follow links), POST links."""
    found = _pending(request, org_uid)
    if found is None or not found[0].get("email_token") or not secrets.compare_digest(found[0]["email_token"], hash_token(token)):
        sso = get_object_or_404(SsoSettings.objects.select_related("organization"), organization__uid=org_uid)
        context = {
            "org": sso.organization, "reason": "other_browser",
            "message": "This link works only in the browser where you signed in through your identity provider, "
                       f"within {LINK_SECONDS // 60} minutes. Open it there, or sign in through your identity provider again.",
        }
        return TemplateResponse(request, "signin/saml/refused.html", context, status=403)
    pending, sso, membership = found
    if request.method == "POST":
        return _link_and_sign_in(request, pending, sso, membership, "email")
    context = {"org": sso.organization, "email": membership.user.email, "name_id": pending["name_id"]}
    return TemplateResponse(request, "signin/saml/link_confirm.html", context)
