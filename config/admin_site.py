"""The tenant-aware admin site: the product UI.

Access is decided by org roles, not by Django's per-model permissions: a
superuser sees everything, an active Owner or Admin of some org sees only the
orgs they manage, anyone else is not let in."""
from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.urls import include, path

from organizations.throttle import ThrottledLoginFormMixin


def can_use_admin(user) -> bool:
    from organizations.permissions import is_operator, managed_organizations

    return is_operator(user) or managed_organizations(user).exists()


class OrgdeskAuthenticationForm(ThrottledLoginFormMixin, AdminAuthenticationForm):
    def confirm_login_allowed(self, user):
        from organizations.signin.saml.policy import password_signin_refusal

        if user.is_active and (refusal := password_signin_refusal(user)):
            raise ValidationError(refusal, code="sso_required")
        if not user.is_active or not can_use_admin(user):
            raise ValidationError(
                "This account cannot open Orgdesk settings: only an organization's Owner or Admin can.",
                code="invalid_login",
            )


class OrgdeskAdminSite(admin.AdminSite):
    site_header = "Orgdesk"
    site_title = "Orgdesk"
    index_title = "Organizations"
    login_form = OrgdeskAuthenticationForm
    index_template = "admin/orgdesk_index.html"

    def has_permission(self, request) -> bool:
        return can_use_admin(request.user)

    def get_urls(self):
        from mappings.admin_views import get_urls as mapping_urls
        from organizations.admin_views import get_urls as org_urls
        from organizations.signin.saml.admin_views import get_urls as sso_urls
        from scim.admin_views import get_urls as scim_urls

        custom = [
            path("orgs/<str:org_uid>/", include(org_urls(self) + scim_urls(self) + mapping_urls(self) + sso_urls(self))),
        ]
        return custom + super().get_urls()

    def each_context(self, request):
        context = super().each_context(request)
        from organizations.permissions import managed_organizations

        if request.user.is_authenticated:
            context["managed_orgs"] = list(managed_organizations(request.user).only("uid", "name")[:50])
        return context
