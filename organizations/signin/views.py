"""Sign-in pages outside the admin: following an invitation, the member's home,
signing out, and Django's password reset with our form."""
from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.password_validation import password_validators_help_texts
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from organizations import audit
from organizations.audit_actions import (
    ACCOUNT_PASSWORD_CHANGE, ACCOUNT_PASSWORD_CONFIRMED, ACCOUNT_PASSWORD_RESET,
)
from organizations.models import MANAGER_ROLES, Membership
from organizations.permissions import managed_organizations
from organizations.services import ServiceError

from . import invitations, sessions
from .forms import ConfirmPasswordForm, InvitationPasswordForm, ThrottledPasswordChangeForm, ThrottledPasswordResetForm
from .home import home_context
from .invitations import Refusal
from .access import requires_sso
from .saml.logout import sp_logout_url
from .saml.policy import password_signin_refusal
from .mfa import challenge as mfa_challenge, enforcement as mfa_enforcement, services as mfa

REFUSALS = {
    Refusal.INVALID: (404, "This invitation link is not valid",
                      "The link is incomplete, was changed, or was replaced by a newer invitation. "
                      "Use the link in the most recent invitation e-mail, or ask an admin to send a new one."),
    Refusal.FOREIGN: (404, "This invitation link is not valid",
                      "The link does not belong to this organization. Use the link exactly as it is in the e-mail."),
    Refusal.USED: (410, "This invitation has already been used",
                   "Each invitation link works once. Sign in with your e-mail and password, or use "
                   "\"Forgotten your password?\" on the sign-in page."),
    Refusal.REVOKED: (410, "This invitation was revoked",
                      "An admin of the organization withdrew it. Ask them to send a new one if you should have access."),
    Refusal.REPLACED: (410, "This invitation was replaced by a newer invitation",
                       "A newer invitation was sent to you, and only its link works. Use the link in the most "
                       "recent invitation e-mail, or ask an admin of the organization to send a new one."),
    Refusal.EXPIRED: (410, "This invitation has expired",
                      "Invitation links are valid for a limited time. Ask an admin of the organization to resend it."),
    Refusal.GONE: (410, "This invitation is no longer valid",
                   "Your membership in the organization was removed or deactivated."),
}


def admin_chrome(request: HttpRequest) -> dict:
    """The admin's look without its model sidebar (these pages are for anyone)."""
    return {**admin.site.each_context(request), "is_nav_sidebar_enabled": False}


def page_context(request: HttpRequest, title: str, **extra) -> dict:
    return {**admin_chrome(request), "title": title, **extra}


def landing_url(user, org=None) -> str:
    """Owners and Admins land in Organization Settings; everyone else at home."""
    if org is not None and Membership.objects.filter(
        user=user, organization=org, active=True, pending=False, role__in=MANAGER_ROLES
    ).exists():
        return reverse("admin:org-settings", args=[org.uid])
    if user.is_superuser or managed_organizations(user).exists():
        return reverse("admin:index")
    return reverse("member_home")


def _refuse(request: HttpRequest, check: invitations.LinkCheck) -> HttpResponse:
    invitations.record_refusal(check)
    status, heading, text = REFUSALS[check.refusal]
    context = page_context(request, heading, heading=heading, text=text, refusal=check.refusal)
    return TemplateResponse(request, "signin/invitation_refused.html", context, status=status)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def invitation_accept(request: HttpRequest, org_uid: str, token: str) -> HttpResponse:
    check = invitations.check_link(org_uid, token)
    if check.refusal:
        return _refuse(request, check)
    invitation = check.invitation
    user = invitation.membership.user
    org = invitation.organization
    if request.user.is_authenticated and request.user.pk != user.pk:
        context = page_context(
            request, "This invitation is for someone else", heading="This invitation is for someone else",
            text=f"You are signed in as {request.user.email}, but this invitation is for {invitation.email}. "
                 "Sign out first, then open the link again.",
            refusal="other-account",
        )
        return TemplateResponse(request, "signin/invitation_refused.html", context, status=403)
    # An org in SSO Strict mode: its members sign in through its IdP, so the
    # invitation asks for no password and joining leads to that sign-in.
    sso_only = requires_sso(org)
    needs_password = not user.has_usable_password() and not sso_only
    form = InvitationPasswordForm(user, request.POST if request.method == "POST" and needs_password else None)
    if request.method == "POST" and (not needs_password or form.is_valid()):
        return _accept(request, check, password=form.cleaned_data["new_password1"] if needs_password else None)
    context = page_context(
        request, f"Join {org.name}", org=org, invitation=invitation, form=form, needs_password=needs_password,
        sso_only=sso_only, password_rules=password_rules(),
    )
    # The token is in this page's URL: Django's Referrer-Policy "same-origin" keeps
    # it from other sites ("no-referrer" would make browsers send Origin: null,
    # which CSRF protection rightly refuses).
    return TemplateResponse(request, "signin/invitation_accept.html", context)


def _accept(request: HttpRequest, check: invitations.LinkCheck, *, password: str | None) -> HttpResponse:
    invitation, org = check.invitation, check.invitation.organization
    try:
        user = invitations.accept_invitation(invitation, password=password)
    except ServiceError:  # used or revoked by a concurrent request since the check
        return _refuse(request, invitations.LinkCheck(invitation, Refusal.USED))
    # The link reached the account's address: this browser holds the account, so
    # the org's IdP may link it at a sign-in started here soon after.
    sessions.remember_proof(request, user.pk)
    if user.is_superuser:  # operator rights never come from an invitation link
        messages.success(request, f"You joined {org.name}.")
        messages.info(request, "Operators sign in with their password.")
        return HttpResponseRedirect(f"{reverse('admin:login')}?next={landing_url(user, org)}")
    if refusal := password_signin_refusal(user):  # this org (or another of theirs) is SSO-only
        messages.success(request, f"You joined {org.name}.")
        messages.info(request, refusal)
        if requires_sso(org):
            return HttpResponseRedirect(reverse("saml:login", args=[org.uid]))
        return HttpResponseRedirect(reverse("saml:start"))
    if password and not mfa.has_mfa(user):  # the password just chosen: a password session (sessions)
        login(request, user, backend=sessions.PASSWORD_BACKEND)
        messages.success(request, f"Welcome to {org.name}. Your password is set and you are signed in.")
        return HttpResponseRedirect(landing_url(user, org))
    messages.success(request, f"You joined {org.name}.")
    if request.user.is_authenticated:
        return HttpResponseRedirect(landing_url(user, org))
    messages.info(request, "Sign in with your e-mail and password.")
    return HttpResponseRedirect(f"{reverse('admin:login')}?next={landing_url(user, org)}")


@login_required
def member_home(request: HttpRequest) -> HttpResponse:
    context = page_context(
        request, "Your organizations and access",
        **home_context(
            request.user, openable=sessions.openable(request), orgs_page=request.GET.get("orgs"),
            grants_page=request.GET.get("grants"),
        ),
    )
    return TemplateResponse(request, "signin/home.html", context)


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def confirm_password(request: HttpRequest) -> HttpResponse:
    """A session one org's IdP signed in opens another org that allows passwords
    once the person types their password here (sessions.SignInRequired)."""
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        next_url = reverse("member_home")
    form = ConfirmPasswordForm(request.user, request.POST if request.method == "POST" else None, request=request)
    if request.method == "POST" and form.is_valid():
        if mfa.has_mfa(request.user):  # the password is half of it: the code next (signin/mfa/challenge.py)
            return mfa_challenge.begin(request, request.user, purpose=mfa_challenge.CONFIRM, next_url=next_url)
        sessions.confirm_password(request)
        mfa_enforcement.note_password_signin(request, request.user)
        audit.record(None, request.user, ACCOUNT_PASSWORD_CONFIRMED, request.user)
        return HttpResponseRedirect(next_url)
    context = page_context(
        request, "Confirm your password", form=form, next=next_url,
        has_password=request.user.has_usable_password(),
    )
    return TemplateResponse(request, "signin/confirm_password.html", context, status=400 if form.errors else 200)


@require_POST
def signout(request: HttpRequest) -> HttpResponse:
    """End the session; when an org's IdP signed it in and has single logout,
    go on to the IdP with a LogoutRequest (organizations.signin.saml.logout)."""
    found = sp_logout_url(request) if request.user.is_authenticated else None
    logout(request)
    if found:
        # Not a redirect: browsers check the sign-out form's form-action ('self')
        # on redirects too; this page navigates to the IdP instead.
        org_name, idp_url = found
        return TemplateResponse(request, "signin/saml/slo_redirect.html", {"url": idp_url, "org_name": org_name})
    return redirect("admin:login")


def password_rules() -> list[str]:
    """The password rules, as the validators state them (AUTH_PASSWORD_VALIDATORS),
    with Orgdesk's straight apostrophes ("can't") instead of Django's curly ones."""
    return [rule.replace("\u2019", "'") for rule in password_validators_help_texts()]


class PasswordChangeView(auth_views.PasswordChangeView):
    """Change password, for everyone signed in (Members too; the admin's own
    /admin/password_change/ redirects here). An account without a usable
    password (signs in through SSO, or never chose one) is told how it signs in."""

    template_name = "signin/password_change.html"
    success_url = reverse_lazy("member_home")
    form_class = ThrottledPasswordChangeForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not request.user.has_usable_password():
            context = page_context(request, "Change password", has_password=False)
            return TemplateResponse(request, self.template_name, context)
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form):
        response = super().form_valid(form)
        audit.record(None, self.request.user, ACCOUNT_PASSWORD_CHANGE, self.request.user)
        messages.success(self.request, "Your password was changed. Other sessions of your account were signed out.")
        return response

    def get_context_data(self, **kwargs):
        return {
            **admin_chrome(self.request), **super().get_context_data(**kwargs), "title": "Change password",
            "has_password": True, "password_rules": password_rules(),
        }


class PasswordResetView(auth_views.PasswordResetView):
    form_class = ThrottledPasswordResetForm
    template_name = "signin/password_reset_form.html"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}

    def get_context_data(self, **kwargs):
        return {**admin_chrome(self.request), **super().get_context_data(**kwargs)}


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "signin/password_reset_confirm.html"
    form_class = InvitationPasswordForm

    def form_valid(self, form):
        response = super().form_valid(form)
        audit.record(None, form.user, ACCOUNT_PASSWORD_RESET, form.user)
        return response

    def get_context_data(self, **kwargs):
        return {**admin_chrome(self.request), **super().get_context_data(**kwargs), "password_rules": password_rules()}


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "signin/password_reset_done.html"

    def get_context_data(self, **kwargs):
        return {**admin_chrome(self.request), **super().get_context_data(**kwargs)}


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "signin/password_reset_complete.html"

    def get_context_data(self, **kwargs):
        return {**admin_chrome(self.request), **super().get_context_data(**kwargs)}
