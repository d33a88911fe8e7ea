"""Two-factor pages: the person's own (enrol, disable, new recovery codes), the
second step of a password sign-in, and the admin side (the Owner's policy
switch, the reset of a member's lost device)."""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from organizations import audit
from organizations.audit_actions import ACCOUNT_PASSWORD_CONFIRMED
from organizations.models import Membership, User
from organizations.permissions import can_use_admin, get_managed_org_or_404
from organizations.settings_pages.shell import org_settings_context

from .. import sessions
from ..access import can_sign_in
from ..saml.policy import password_signin_refusal
from ..views import page_context
from . import challenge, enforcement, services


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code", max_length=32, strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True, "inputmode": "text",
                                      "spellcheck": "false", "autocapitalize": "off"}),
    )


# --- the person's own page --------------------------------------------------------------------

@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def manage(request: HttpRequest) -> HttpResponse:
    user = request.user
    action = request.POST.get("action", "") if request.method == "POST" else ""
    form = CodeForm(request.POST if action else None)
    enabled = services.has_mfa(user)
    if action and form.is_valid():
        code = form.cleaned_data["code"]
        try:
            if action == "enrol" and not enabled:
                codes = services.confirm_enrolment(request, user, code)
                enforcement.enrolled(request)
                messages.success(request, "Two-factor authentication is on. Keep your recovery codes somewhere safe.")
                return _render_codes(request, codes)
            if action == "recovery-codes" and enabled:
                return _render_codes(request, services.renew_recovery_codes(request, user, code))
            if action == "disable" and enabled:
                services.disable(request, user, code)
                if request.session.get(sessions.AUTH_KEY, {}).get("password"):
                    enforcement.note_password_signin(request, user)
                messages.success(request, "Two-factor authentication is off.")
                return HttpResponseRedirect(reverse("mfa_manage"))
            form.add_error(None, "That action is not available; reload the page.")
        except services.CodeRefused as exc:
            form.add_error("code", str(exc))
    context = {"form": form, "enabled": enabled, "required": request.session.get(enforcement.ENROL_KEY) or []}
    if enabled:
        device = services.confirmed_devices(user).first()
        context.update(device=device, recovery_left=services.recovery_codes_left(user))
    else:
        device = services.pending_device(user)
        context.update(secret=services.secret_of(device), qr=services.qr_data_uri(device))
    return TemplateResponse(
        request, "signin/mfa/manage.html", page_context(request, "Two-factor authentication", **context),
        status=400 if form.errors else 200,
    )


def _render_codes(request: HttpRequest, codes: list[str]) -> HttpResponse:
    context = page_context(request, "Your recovery codes", codes=codes)
    return TemplateResponse(request, "signin/mfa/recovery_codes.html", context)


# --- the second step of signing in -------------------------------------------------------

def _landing(user: User, next_url: str) -> str:
    return next_url if can_use_admin(user) else reverse("member_home")


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def challenge_view(request: HttpRequest) -> HttpResponse:
    state = challenge.pending(request)
    if state is None:
        messages.info(request, "Your sign-in took too long or was not started here. Sign in again.")
        return HttpResponseRedirect(reverse("admin:login"))
    user = User.objects.filter(pk=state["user"], is_active=True).first()
    if user is None or not services.has_mfa(user):
        challenge.finish(request)
        return HttpResponseRedirect(reverse("admin:login"))
    confirming = state.get("purpose") == challenge.CONFIRM
    form = CodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            verified = services.verify(
                request, user, form.cleaned_data["code"], purpose="password confirmation" if confirming else "sign-in"
            )
        except services.CodeRefused as exc:
            form.add_error("code", str(exc))
        else:
            challenge.finish(request)
            if confirming:
                sessions.confirm_password(request)
                audit.record(None, user, ACCOUNT_PASSWORD_CONFIRMED, user)
                destination = state["next"]
            else:
                refusal = _signin_refusal(user)
                if refusal:
                    messages.error(request, refusal)
                    return HttpResponseRedirect(reverse("admin:login"))
                login(request, user, backend=sessions.PASSWORD_BACKEND)
                destination = _landing(user, state["next"])
            if verified.how == "recovery":
                messages.warning(
                    request, f"You used a recovery code; {verified.recovery_left} left. If your device is lost, "
                    "turn two-factor off and on again with a new device on your Two-factor authentication page.",
                )
            return HttpResponseRedirect(destination)
    context = page_context(request, "Two-factor authentication", form=form, confirming=confirming, email=user.email)
    return TemplateResponse(request, "signin/mfa/challenge.html", context, status=400 if form.errors else 200)


def _signin_refusal(user: User) -> str | None:
    """What the sign-in form checks, again (minutes may have passed since the password)."""
    if refusal := password_signin_refusal(user):
        return refusal
    if not can_sign_in(user):
        return "This account cannot sign in: it is not an active member of any organization."
    return None


# --- Organization Settings ----------------------------------------------------------------

@require_POST
def policy_view(request: HttpRequest, org_uid: str) -> HttpResponse:
    org = get_managed_org_or_404(request, org_uid)
    back = reverse("admin:org-settings", args=[org.uid]) + "#mfa-policy"
    if not services.can_set_policy(request.user, org):
        messages.error(request, f"Only the Owner of {org.name} can change this.")
        return HttpResponseRedirect(back)
    required = request.POST.get("required") == "on"
    if services.set_required(org, required, actor=request.user):
        messages.success(
            request,
            f"{org.name} now requires two-factor authentication: members without it set it up at their next "
            "password sign-in. Sign-ins through your identity provider are not affected."
            if required else f"{org.name} no longer requires two-factor authentication.",
        )
    return HttpResponseRedirect(back)


def reset_view(site):
    def view(request: HttpRequest, org_uid: str, membership_id: int) -> HttpResponse:
        org = get_managed_org_or_404(request, org_uid)
        if request.method not in ("GET", "HEAD", "POST"):
            return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
        member = get_object_or_404(Membership.objects.select_related("user"), organization=org, pk=membership_id)
        detail = reverse("admin:member-detail", args=[org.uid, member.pk])
        if refusal := services.reset_refusal(request.user, org, member):
            messages.error(request, refusal)
            return HttpResponseRedirect(detail)
        if request.method == "POST":
            services.reset(request.user, org, member)
            messages.success(request, f"The two-factor authentication of {member.user.email} was reset. They sign in "
                             "with their password and set it up again.")
            return HttpResponseRedirect(detail)
        context = org_settings_context(
            request, site, org, "members", member=member, cancel_url=detail,
            title=f"Reset the two-factor authentication of {member.user.email}?",
        )
        return TemplateResponse(request, "admin/signin_mfa/reset_confirm.html", context)

    return view


def get_urls(site) -> list:
    """Under admin/orgs/<org_uid>/ (config.admin_site)."""
    return [
        path("settings/two-factor/", site.admin_view(policy_view), name="org-mfa-policy"),
        path("members/<int:membership_id>/two-factor/reset/", site.admin_view(reset_view(site)), name="member-mfa-reset"),
    ]
