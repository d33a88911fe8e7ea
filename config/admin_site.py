"""The tenant-aware admin site: the product UI.

Access is decided by org roles, not by Django's per-model permissions: a
superuser sees everything, an active Owner or Admin of some org sees only the
orgs they manage, anyone else is not let in."""
from __future__ import annotations

from django.contrib import admin, messages
from django.shortcuts import redirect
from django.urls import include, path
from django.utils.decorators import method_decorator

from mappings.admin_views import get_urls as mapping_urls
from organizations.permissions import can_use_admin, is_operator, managed_organizations
from organizations.settings_pages.urls import get_urls as org_urls
from organizations.signin.admin_views import get_urls as signin_urls
from organizations.signin.csp import form_may_reach_identity_provider
from organizations.signin.forms import OrgdeskAuthenticationForm
from organizations.signin.mfa.challenge import SecondFactorRequired, begin
from organizations.signin.mfa.views import get_urls as mfa_urls
from organizations.signin.saml.admin_views import get_urls as sso_urls
from scim.admin_views import get_urls as scim_urls


# Said to a Member who opens an admin URL, on their home page.
MEMBERS_NOT_ADMINS = "Organization Settings are for Owners and Admins; here is your access."


class OrgdeskAdminSite(admin.AdminSite):
    site_header = "Orgdesk"
    site_title = "Orgdesk"
    index_title = "Organizations"
    login_form = OrgdeskAuthenticationForm
    index_template = "admin/orgdesk_index.html"

    def has_permission(self, request) -> bool:
        return can_use_admin(request.user)

    @method_decorator(form_may_reach_identity_provider)
    def login(self, request, extra_context=None):
        """Members (no org to manage) are sent to their home page instead of the
        admin's "not authorized" login form, before and after signing in. Signing
        in may continue at an org's IdP (SSO Strict mode, organizations/signin/csp.py)."""
        if request.method in ("GET", "HEAD") and request.user.is_authenticated and not self.has_permission(request):
            if request.method == "GET":
                messages.info(request, MEMBERS_NOT_ADMINS)
            return redirect("member_home")
        try:
            response = super().login(request, {"title": "Sign in", **(extra_context or {})})
        except SecondFactorRequired as second_step:  # right password, two-factor on: not signed in yet
            return begin(request, second_step.user)
        if request.method == "POST" and response.status_code == 302 and not self.has_permission(request):
            return redirect("member_home")
        return response

    def get_urls(self):
        custom = [
            # Change password is one page for everyone, outside the admin (Members too).
            path("password_change/", lambda request: redirect("account_password_change"), name="password_change"),
            path(
                "orgs/<str:org_uid>/",
                include(org_urls(self) + signin_urls(self) + scim_urls(self) + mapping_urls(self) + sso_urls(self)
                        + mfa_urls(self)),
            ),
        ]
        return custom + super().get_urls()

    def _build_app_dict(self, request, label=None):
        """The raw model admin's app list (index, sidebar, /admin/<app>/) exists
        for operators only: for anyone else it is empty, so the app pages are 404."""
        if not is_operator(request.user):
            return {}
        return super()._build_app_dict(request, label)

    def each_context(self, request):
        context = super().each_context(request)
        if request.user.is_authenticated:
            context["managed_orgs"] = list(
                managed_organizations(request.user).order_by("name", "pk").only("uid", "name")[:50]
            )
        # The raw model admin (its sidebar, app list and recent actions) is the
        # operators' tool; Owners and Admins see Organization Settings only.
        context["is_operator"] = is_operator(request.user)
        context["is_nav_sidebar_enabled"] = context["is_operator"]
        return context
