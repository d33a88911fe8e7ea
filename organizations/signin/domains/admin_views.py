"""Organization Settings > Single Sign-On > Verified domains. The Owner adds,
verifies and removes; an Admin reads. The section is rendered by the SSO tab
(saml.admin_views.sso_tab_view, with tab_context below); its forms post here
and come back to the tab with a message. Mounted by saml.admin_views.get_urls."""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from organizations.models import Organization
from organizations.permissions import get_managed_org_or_404
from organizations.services import ServiceError

from ..saml.services import can_configure_sso
from . import services
from .models import VerifiedDomain


class DomainForm(forms.Form):
    domain = forms.CharField(
        label="Domain", max_length=300,
        widget=forms.TextInput(attrs={"placeholder": "acme.example", "spellcheck": "false", "autocomplete": "off"}),
        help_text="The part after @ in your people's e-mail addresses.",
    )

    def clean_domain(self) -> str:
        try:
            return services.normalize_domain(self.cleaned_data["domain"])
        except ServiceError as exc:
            raise forms.ValidationError(str(exc)) from exc


def _tab_url(org: Organization) -> str:
    return reverse("admin:org-settings-sso", args=[org.uid]) + "#sso-domains"


def tab_context(org: Organization) -> dict:
    """What the SSO tab's Verified domains section shows."""
    rows = services.domains_of(org)
    return {
        "domains": rows,
        "verified_domains": [row.domain for row in rows if row.verified],
        "domain_form": DomainForm(),
        "max_domains": services.MAX_DOMAINS_PER_ORG,
    }


def _owner_org(request: HttpRequest, org_uid: str) -> Organization:
    org = get_managed_org_or_404(request, org_uid)
    if not can_configure_sso(request.user, org):
        raise PermissionDenied("Only the Owner adds, verifies and removes domains.")
    return org


def domain_add_view(site):
    def view(request: HttpRequest, org_uid: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        org = _owner_org(request, org_uid)
        form = DomainForm(request.POST)
        if not form.is_valid():
            messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
            return redirect(_tab_url(org))
        try:
            row = services.add_domain(org, form.cleaned_data["domain"], actor=request.user)
        except ServiceError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Publish the TXT record below in the DNS of {row.domain}, then press Verify.")
        return redirect(_tab_url(org))

    return view


def domain_verify_view(site):
    def view(request: HttpRequest, org_uid: str, domain_id: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        org = _owner_org(request, org_uid)
        row = get_object_or_404(VerifiedDomain, pk=domain_id, organization=org)
        try:
            services.verify_domain(org, row.domain, actor=request.user)
        except ServiceError as exc:
            messages.error(request, f"{row.domain} is not verified. {exc}")
        else:
            messages.success(request, f"{row.domain} is verified for {org.name}.")
        return redirect(_tab_url(org))

    return view


def domain_remove_view(site):
    """GET: the confirmation; POST: remove."""

    def view(request: HttpRequest, org_uid: str, domain_id: int) -> HttpResponse:
        if request.method not in ("GET", "HEAD", "POST"):
            return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
        org = _owner_org(request, org_uid)
        row = get_object_or_404(VerifiedDomain, pk=domain_id, organization=org)
        tab_url = _tab_url(org)
        if request.method in ("GET", "HEAD"):
            effect = (
                f"{org.name}'s identity provider will no longer link accounts at {row.domain} without proof nor create "
                f"people there, and \"Sign in with SSO\" will no longer find {org.name} from an address at {row.domain}."
                if row.verified else f"{row.domain} is not verified yet; nothing else changes."
            )
            context = {
                **site.each_context(request), "org": org, "title": f"Remove the domain {row.domain}?",
                "message": effect, "button": "Remove domain", "danger": row.verified, "cancel_url": tab_url,
                "crumb_url": tab_url, "crumb_label": "Single Sign-On",
            }
            return TemplateResponse(request, "admin/scim/confirm.html", context)
        try:
            services.remove_domain(org, row.domain, actor=request.user)
        except ServiceError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"{row.domain} was removed.")
        return redirect(tab_url)

    return view


def get_urls(site) -> list:
    wrap = site.admin_view
    return [
        path("settings/sso/domains/add/", wrap(domain_add_view(site)), name="org-settings-domain-add"),
        path("settings/sso/domains/<int:domain_id>/verify/", wrap(domain_verify_view(site)),
             name="org-settings-domain-verify"),
        path("settings/sso/domains/<int:domain_id>/remove/", wrap(domain_remove_view(site)),
             name="org-settings-domain-remove"),
    ]
