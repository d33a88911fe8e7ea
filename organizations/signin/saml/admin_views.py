"""Organization Settings > Single Sign-On. The Owner edits; an Admin reads.
Views parse and render; organizations.signin.saml.services decides and
writes. Enabling, disabling and Strict mode are confirmation pages: GET shows
them, only POST acts (the SCIM tab's pattern)."""
from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from organizations.settings_pages.shell import org_settings_context
from organizations.forms import FORM_ACTION_FIELD, SsoExceptionForm
from organizations.permissions import get_managed_org_or_404
from organizations.models import Membership, Organization
from organizations.services import ServiceError

from ..domains import admin_views as domain_views
from . import config, linking, services
from .forms import (
    IdentityProviderForm, MetadataForm, MetadataUrlForm, OptionsForm, SecurityOptionsForm, SessionPolicyForm,
    SigninNameForm,
)


def _tab_url(org: Organization) -> str:
    return reverse("admin:org-settings-sso", args=[org.uid])


def _owner_only(*methods: str):
    """For the views only the Owner uses: the org (a 404 unless the user manages
    it), then the method (405), then the Owner check (403); the view gets the org."""

    def wrap(view):
        @wraps(view)
        def checked(request: HttpRequest, org_uid: str, **kwargs) -> HttpResponse:
            org = get_managed_org_or_404(request, org_uid)
            if request.method not in methods:
                return HttpResponseNotAllowed(list(methods))
            if not services.can_configure_sso(request.user, org):
                raise PermissionDenied("Only the Owner changes single sign-on.")
            return view(request, org, **kwargs)

        return checked

    return wrap


def _forms(request: HttpRequest, sso) -> dict:
    """The tab's forms; only the posted one (named by the hidden field) is bound."""
    posted = request.POST.get(FORM_ACTION_FIELD) if request.method == "POST" else None
    initial = {
        IdentityProviderForm: {"idp_sso_url": sso.idp_sso_url, "idp_entity_id": sso.idp_entity_id,
                               "idp_x509_cert": sso.idp_x509_cert, "idp_x509_cert_next": sso.idp_x509_cert_next,
                               "idp_slo_url": sso.idp_slo_url} if sso else {},
        MetadataUrlForm: {"metadata_url": sso.metadata_url} if sso else {},
        SecurityOptionsForm: {"sign_authn_requests": bool(sso and sso.sign_authn_requests),
                              "want_assertions_encrypted": bool(sso and sso.want_assertions_encrypted)},
        OptionsForm: {"jit_provisioning": bool(sso and sso.jit_provisioning)},
        SessionPolicyForm: {
            "allow_idp_initiated": sso.allow_idp_initiated if sso else True,
            "session_timeout_minutes": sso.session_timeout_minutes if sso else 12 * 60,
        },
    }
    forms = {}
    for cls in (SigninNameForm, MetadataForm, MetadataUrlForm, IdentityProviderForm, OptionsForm,
                SecurityOptionsForm, SessionPolicyForm):
        bound = cls.action == posted
        forms[cls.action] = cls(request.POST if bound else None, request.FILES if bound else None,
                                initial=initial.get(cls, {}))
    return forms


def _handle(request: HttpRequest, org: Organization, forms: dict) -> HttpResponse | None:
    action = request.POST.get(FORM_ACTION_FIELD, "")
    form = forms.get(action)
    if form is None:
        messages.error(request, "Unknown form; nothing was changed.")
        return None
    if not form.is_valid():
        return None
    data, actor = form.cleaned_data, request.user
    if action == "name":
        # The sign-in name is permanent: a confirmation page comes first
        # (Post/Redirect/Get: the name waits in the session).
        request.session[SIGNIN_NAME_SESSION_KEY] = {"org": org.uid, "name": data["signin_name"]}
        return redirect("admin:org-settings-sso-name", org.uid)
    level = messages.SUCCESS
    try:
        if action in ("metadata", "metadata_url", "idp"):
            if action == "metadata":
                sso = services.import_metadata(org, data["xml"], actor=actor)
                message = "The IdP metadata was imported."
            elif action == "metadata_url":
                sso = services.set_metadata_url(org, data["metadata_url"], actor=actor)
                message = ("The IdP metadata was fetched from its URL; it is refreshed every night." if sso.metadata_url
                           else "The metadata URL was removed; the current identity provider values stay.")
            else:
                sso = services.set_identity_provider(
                    org, entity_id=data["idp_entity_id"], sso_url=data["idp_sso_url"],
                    certificate=data["idp_x509_cert"], next_certificate=data["idp_x509_cert_next"],
                    slo_url=data["idp_slo_url"], actor=actor,
                )
                message = "The identity provider settings were saved."
            notice = services.certificate_notice(sso) if sso.idp_configured else None
            if notice is not None:  # said in the message itself, not a green "imported"
                level = messages.ERROR if notice[0] == "error" else messages.WARNING
                message = f"{message[:-1]}, but: {notice[1]}"
            elif action != "metadata_url" or sso.metadata_url:
                message += " Run Test SSO before enabling SSO."
        elif action == "security":
            sso = services.set_security_options(
                org, sign_authn_requests=data["sign_authn_requests"],
                want_assertions_encrypted=data["want_assertions_encrypted"], actor=actor,
            )
            message = "The request signing and encryption settings were saved."
            if sso.sign_authn_requests or sso.want_assertions_encrypted:
                message += " Give your identity provider Orgdesk's certificate (below, or the SP metadata URL)."
        elif action == "session":
            services.set_session_policy(
                org, allow_idp_initiated=data["allow_idp_initiated"],
                session_timeout_minutes=data["session_timeout_minutes"], actor=actor,
            )
            message = "The session settings were saved."
        else:
            services.set_jit_provisioning(org, data["jit_provisioning"], actor=actor)
            message = "Just-in-time creation is " + ("on." if data["jit_provisioning"] else "off.")
    except ServiceError as exc:
        form.add_error(None, str(exc))
        return None
    messages.add_message(request, level, message)
    return redirect(_tab_url(org))


SIGNIN_NAME_SESSION_KEY = "sso_signin_name"


def sso_signin_name_view(site):
    """The permanent SSO sign-in name: GET confirms the name the tab's form posted
    (kept in the session), POST creates the settings with it."""

    @_owner_only("GET", "HEAD", "POST")
    def view(request: HttpRequest, org: Organization) -> HttpResponse:
        tab_url = _tab_url(org)
        if request.method == "POST":
            name = request.POST.get("signin_name", "")
            try:
                sso = services.create_settings(org, actor=request.user, signin_name=name)
            except ServiceError as exc:
                messages.error(request, str(exc))
            else:
                request.session.pop(SIGNIN_NAME_SESSION_KEY, None)
                messages.success(request, f"The SSO sign-in name is \"{sso.signin_name}\". Paste the values below into your IdP.")
            return redirect(tab_url)
        pending = request.session.get(SIGNIN_NAME_SESSION_KEY) or {}
        if pending.get("org") != org.uid or services.get_settings(org) is not None:
            return redirect(tab_url)
        name = pending["name"]
        context = {
            **site.each_context(request), "org": org, "title": f"Use \"{name}\" as the SSO sign-in name?",
            "message": f"People of {org.name} will type \"{name}\" at \"Sign in with SSO\", and your identity provider "
            "is set up with URLs that contain it. It cannot change later.",
            "button": "Create sign-in name", "danger": False, "cancel_url": tab_url,
            "hidden_fields": [("signin_name", name)], "crumb_url": tab_url, "crumb_label": "Single Sign-On",
        }
        return TemplateResponse(request, "admin/scim/confirm.html", context)

    return view


def sso_tab_view(site):
    def view(request: HttpRequest, org_uid: str) -> HttpResponse:
        org = get_managed_org_or_404(request, org_uid)
        if request.method not in ("GET", "HEAD", "POST"):
            return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
        can_edit = services.can_configure_sso(request.user, org)
        sso = services.get_settings(org)
        forms = _forms(request, sso)
        if request.method == "POST":
            if not can_edit:
                raise PermissionDenied("Only the Owner changes single sign-on.")
            response = _handle(request, org, forms)
            if response is not None:
                return response
        if sso is None and not forms["name"].is_bound:
            forms["name"].initial = {"signin_name": services.suggested_signin_name(org)}
        context = org_settings_context(
            request, site, org, "sso",
            sso=sso,
            can_edit=can_edit,
            forms=forms,
            form_action_field=FORM_ACTION_FIELD,
            sp=config.sp_urls(org) if sso else None,
            nameid_format=config.NAMEID_FORMAT,
            cert=services.certificate_info(sso.idp_x509_cert) if sso else None,
            next_cert=services.certificate_info(sso.idp_x509_cert_next) if sso else None,
            cert_in_use=services.certificate_in_use(sso) if sso and sso.idp_configured else None,
            cert_notice=services.certificate_notice(sso) if sso and sso.idp_configured else None,
            sp_cert=services.certificate_info(sso.sp_x509_cert) if sso else None,
            cert_warning_days=services.CERT_WARNING_DAYS,
            jit_effective=bool(sso and linking.jit_allowed(sso)),
            exception_form=SsoExceptionForm(organization=org) if can_edit and sso else None,
            exceptions=_exceptions(org) if sso else [],
            **domain_views.tab_context(org),
        )
        status = 400 if any(f.is_bound and f.errors for f in forms.values()) else 200
        return TemplateResponse(request, "admin/saml/sso_tab.html", context, status=status)

    return view


EXCEPTIONS_SHOWN = 50


def _exceptions(org: Organization) -> list[Membership]:
    """The org's Strict mode exceptions, a page of them (a partial index keeps it a
    point query at 100,000 members)."""
    return list(
        Membership.objects.filter(organization=org, sso_exempt=True).select_related("user").order_by("pk")[
            : EXCEPTIONS_SHOWN + 1
        ]
    )


def sso_exception_view(site):
    """POST: the Owner adds (picker) or removes a Strict mode exception."""

    @_owner_only("POST")
    def view(request: HttpRequest, org: Organization) -> HttpResponse:
        tab_url = _tab_url(org) + "#sso-exceptions"
        if request.POST.get("remove"):
            member = get_object_or_404(Membership.objects.select_related("user", "organization"),
                                       pk=request.POST["remove"], organization=org)
            exempt = False
        else:
            form = SsoExceptionForm(request.POST, organization=org)
            if not form.is_valid():
                messages.error(request, "Choose a member of this organization (not the Owner).")
                return redirect(tab_url)
            member, exempt = form.cleaned_data["membership"], True
        try:
            services.set_sso_exemption(member, exempt, actor=request.user)
        except ServiceError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"{member.user.email} may {'now' if exempt else 'no longer'} sign in with a password in Strict mode.")
        return redirect(tab_url)

    return view


# What each confirmation says and does: (title, message, button, danger, service call, success message).
_TOGGLES = {
    "enable": (
        "Enable SSO",
        "Turn on single sign-on for {org}? Members can then sign in through your identity provider "
        "(Sign in with SSO, or its tile). Passwords keep working unless you also turn on Strict mode.",
        "Enable SSO", False,
        lambda org, actor: services.enable_sso(org, actor=actor),
        "SSO is enabled.",
    ),
    "disable": (
        "Disable SSO",
        "Turn off single sign-on for {org}? Sign-ins through the identity provider are refused; everyone stays "
        "in the organization and signs in with a password (reset by e-mail). Strict mode goes off too.",
        "Disable SSO", True,
        lambda org, actor: services.disable_sso(org, actor=actor),
        "SSO is disabled. Members sign in with a password.",
    ),
    "strict-on": (
        "Turn on Strict mode",
        "Members of {org} may then sign in only through your identity provider: the password form refuses "
        "them. You, the Owner, keep password sign-in as the way in when the IdP is down.",
        "Turn on Strict mode", True,
        lambda org, actor: services.set_strict(org, True, actor=actor),
        "Strict mode is on: members sign in only through SSO.",
    ),
    "strict-off": (
        "Turn off Strict mode",
        "Members of {org} may then sign in with a password as well as through SSO.",
        "Turn off Strict mode", False,
        lambda org, actor: services.set_strict(org, False, actor=actor),
        "Strict mode is off.",
    ),
}


def sso_toggle_view(site, *, action: str):
    title, message, button, danger, act, done = _TOGGLES[action]

    @_owner_only("GET", "HEAD", "POST")
    def view(request: HttpRequest, org: Organization) -> HttpResponse:
        tab_url = _tab_url(org)
        if action == "enable" and (refusal := services.enable_refusal(services.get_settings(org))):
            # Refused before its confirmation: the page says why and offers no Enable.
            if request.method == "POST":
                messages.error(request, refusal)
                return redirect(tab_url)
            context = {
                **site.each_context(request), "org": org, "title": "SSO cannot be enabled yet", "message": refusal,
                "tab_url": tab_url, "crumb_url": tab_url, "crumb_label": "Single Sign-On",
            }
            return TemplateResponse(request, "admin/saml/enable_refused.html", context)
        if request.method in ("GET", "HEAD"):
            context = {
                **site.each_context(request), "org": org, "title": title, "message": message.format(org=org.name),
                "button": button, "danger": danger, "cancel_url": tab_url,
                "crumb_url": tab_url, "crumb_label": "Single Sign-On",
            }
            return TemplateResponse(request, "admin/scim/confirm.html", context)
        try:
            act(org, request.user)
        except ServiceError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, done)
        return redirect(tab_url)

    return view


def member_unlink_view(site):
    """POST: the Owner unlinks a member from the org's IdP (they link again, with
    proof unless the org owns the account, at their next SSO sign-in)."""

    @_owner_only("POST")
    def view(request: HttpRequest, org: Organization, membership_id: int) -> HttpResponse:
        member = get_object_or_404(Membership.objects.select_related("user", "organization"), pk=membership_id, organization=org)
        if linking.unlink(member, actor=request.user):
            messages.success(request, f"{member.user.email} is no longer linked to the identity provider; they link again at their next sign-in.")
        return redirect(reverse("admin:member-detail", args=[org.uid, member.pk]))

    return view


def get_urls(site) -> list:
    """Mounted under /admin/orgs/<org_uid>/ by OrgdeskAdminSite.get_urls."""
    wrap = site.admin_view
    return [
        path("settings/sso/", wrap(sso_tab_view(site)), name="org-settings-sso"),
        path("members/<int:membership_id>/sso-unlink/", wrap(member_unlink_view(site)), name="member-sso-unlink"),
        path("settings/sso/exceptions/", wrap(sso_exception_view(site)), name="org-settings-sso-exceptions"),
        path("settings/sso/name/", wrap(sso_signin_name_view(site)), name="org-settings-sso-name"),
        *domain_views.get_urls(site),
        *[
            path(f"settings/sso/{action}/", wrap(sso_toggle_view(site, action=action)), name=f"org-settings-sso-{action}")
            for action in _TOGGLES
        ],
    ]
