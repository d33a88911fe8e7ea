"""Organization Settings > SCIM tab and the Marketplace pages.

Views parse and render; scim.installations decides and writes. Every view starts
with get_managed_org_or_404, so a Member or another org's admin gets a 404 and
nothing changes. Confirmations are pages: GET shows them, only POST acts."""
from __future__ import annotations

from django.contrib import messages
from django.db.models import F, Max, Prefetch, Q
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.safestring import mark_safe

from organizations.settings_pages.shell import org_settings_context
from organizations.permissions import get_managed_org_or_404
from organizations.models import Organization
from organizations.services import ServiceError

from . import installations, signals
from .activity_list import activity_context
from .health import health_context
from .forms import MarketplaceSearchForm
from .models import AppInstallation, MarketplaceApp, SecretToken
from .tokens import TOKEN_MARKER, IssuedToken

SAFE_METHODS = ("GET", "HEAD")


# The SCIM tab lists live installations first, then the most recently
# uninstalled ones, greyed, up to this many in all (a page, however often apps
# were installed and removed).
INSTALLATIONS_LISTED = 20


def _live_tokens() -> Prefetch:
    return Prefetch("tokens", queryset=SecretToken.objects.filter(revoked_at__isnull=True), to_attr="live_tokens")


def _installations(org: Organization):
    """Installations with their live token and `last_used`: when any of their
    tokens, revoked ones included, was last used (an uninstalled app's tokens
    are all revoked, yet it was used)."""
    return (
        AppInstallation.objects.filter(organization=org)
        .select_related("app", "installed_by")
        .prefetch_related(_live_tokens())
        .annotate(last_used=Max("tokens__last_used_at"))
    )


def _page_context(request: HttpRequest, site, org: Organization, title: str, **extra) -> dict:
    """Context for Marketplace pages (not a settings tab, but the same admin chrome)."""
    return {**site.each_context(request), "org": org, "title": title, "token_marker": TOKEN_MARKER, **extra}


def _only(request: HttpRequest, *methods: str) -> HttpResponse | None:
    if request.method not in methods:
        return HttpResponseNotAllowed(methods)
    return None


def _confirmation(request, site, org, *, title, message, button, cancel_url, danger=False, **extra) -> HttpResponse:
    context = _page_context(
        request, site, org, title, message=message, button=button, cancel_url=cancel_url, danger=danger, **extra
    )
    return TemplateResponse(request, "admin/scim/confirm.html", context)


# Post/Redirect/Get for a new token: the POST that issues it keeps the secret
# in the session and redirects; the GET of the token page shows it and removes
# it from the session, so it is shown once and a reload (or Back) shows it no more.
ISSUED_SESSION_KEY = "scim_issued_token"


def _issued_redirect(request, org, installation: AppInstallation, issued: IssuedToken, *, heading: str):
    # Keyed by installation, so two apps installed in two browser tabs each show their own.
    pending = dict(request.session.get(ISSUED_SESSION_KEY) or {})
    pending[str(installation.pk)] = {"org": org.uid, "secret": issued.secret, "heading": heading}
    request.session[ISSUED_SESSION_KEY] = pending
    return redirect("admin:marketplace-installation-token", org.uid, installation.pk)


def token_issued_view(site):
    def view(request: HttpRequest, org_uid: str, installation_id: int) -> HttpResponse:
        """The only page that ever shows a secret, once: admin_view adds no-cache headers."""
        org = get_managed_org_or_404(request, org_uid)
        if refused := _only(request, "GET", "HEAD"):
            return refused
        installation = _get_installation(org, installation_id)
        pending = dict(request.session.get(ISSUED_SESSION_KEY) or {})
        stored = pending.get(str(installation.pk))
        secret, heading = "", "Secret Token"
        if stored and stored.get("org") == org.uid:
            secret, heading = stored["secret"], stored["heading"]
            if request.method == "GET":  # shown once: gone from the session now
                del pending[str(installation.pk)]
                if pending:
                    request.session[ISSUED_SESSION_KEY] = pending
                else:
                    del request.session[ISSUED_SESSION_KEY]
        context = _page_context(
            request, site, org, heading, installation=installation, scim_url=installations.scim_url(org),
            secret_token=secret,
        )
        return TemplateResponse(request, "admin/scim/token_issued.html", context)

    return view


def _get_installation(org: Organization, installation_id: int) -> AppInstallation:
    """An installation of *this* org; another org's id is a 404."""
    return get_object_or_404(_installations(org), pk=installation_id)


def _listed_app(slug: str) -> MarketplaceApp:
    return get_object_or_404(MarketplaceApp, slug=slug, listed=True)


# ---- SCIM tab -------------------------------------------------------------


def scim_tab_view(site):
    def view(request: HttpRequest, org_uid: str) -> HttpResponse:
        org = get_managed_org_or_404(request, org_uid)
        listed = list(_installations(org).order_by(F("uninstalled_at").desc(nulls_first=True), "-pk")[:INSTALLATIONS_LISTED])
        # While SCIM is disabled what it did stays visible, read-only and greyed:
        # installed apps, mappings and Provisioning activity (Okta's 401s included).
        show_history = org.scim_enabled or bool(listed)
        context = org_settings_context(
            request,
            site,
            org,
            "scim",
            plan_has_scim=org.has_feature(installations.SCIM_FEATURE),
            scim_url=installations.scim_url(org),
            installations=listed,
            show_history=show_history,
            scim_read_only=not org.scim_enabled,
            token_marker=TOKEN_MARKER,
        )
        if show_history:
            # Sections of higher apps (the Group Mapping section of mappings),
            # read-only while SCIM is disabled (they read org.scim_enabled).
            responses = signals.scim_tab_sections.send(sender=Organization, request=request, organization=org)
            context["extra_sections"] = [mark_safe(html) for _, html in responses if html]
            context.update(activity_context(request, org))
            context.update(health_context(org))
        return TemplateResponse(request, "admin/scim/scim_tab.html", context)

    return view


def scim_toggle_view(site, *, enable: bool):
    def view(request: HttpRequest, org_uid: str) -> HttpResponse:
        org = get_managed_org_or_404(request, org_uid)
        if refused := _only(request, "GET", "HEAD", "POST"):
            return refused
        tab_url = reverse("admin:org-settings-scim", args=[org.uid])
        if not org.has_feature(installations.SCIM_FEATURE):
            messages.error(request, f"The {org.get_plan_display()} plan does not include SCIM.")
            return redirect(tab_url)
        if request.method in SAFE_METHODS:
            if enable:
                message = (
                    f"Turn on SCIM provisioning for {org.name}? Installed identity-provider apps can then "
                    "create, update and deactivate members and push groups."
                )
                return _confirmation(
                    request, site, org, title="Enable SCIM", message=message, button="Enable", cancel_url=tab_url
                )
            message = (
                f"Turn off SCIM provisioning for {org.name}? Every SCIM request is refused (401) until you "
                "enable it again. Nothing is deleted: members, groups, mappings and installations stay."
            )
            return _confirmation(
                request, site, org, title="Disable SCIM", message=message, button="Disable", cancel_url=tab_url,
                danger=True,
            )
        try:
            if enable:
                installations.enable_scim(org, actor=request.user)
                messages.success(request, _enabled_message(org))
            else:
                installations.disable_scim(org, actor=request.user)
                messages.success(request, "SCIM is disabled. SCIM requests are refused until you enable it again.")
        except ServiceError as exc:
            messages.error(request, str(exc))
        return redirect(tab_url)

    return view


def _enabled_message(org: Organization) -> str:
    names = list(
        AppInstallation.objects.filter(organization=org, uninstalled_at__isnull=True)
        .order_by("app__position", "app__name")
        .values_list("app__name", flat=True)[:4]
    )
    if not names:
        return "SCIM is enabled. Install an app from the Marketplace to connect your IdP."
    apps = ", ".join(names[:3]) + (" and others" if len(names) > 3 else "")
    return f"SCIM is enabled. {apps} can provision again with {'its' if len(names) == 1 else 'their'} current token."


# ---- Marketplace ------------------------------------------------------------


def marketplace_apps_view(site):
    def view(request: HttpRequest, org_uid: str) -> HttpResponse:
        org = get_managed_org_or_404(request, org_uid)
        form = MarketplaceSearchForm(request.GET or None)
        valid = form.is_valid() or not form.is_bound
        query = form.cleaned_data["q"] if form.is_bound and valid else ""
        cards = []
        if valid:  # a refused search lists nothing (its error says why), never every app
            apps = MarketplaceApp.objects.filter(listed=True)
            if query:
                apps = apps.filter(Q(name__icontains=query) | Q(vendor__icontains=query) | Q(summary__icontains=query))
            installed = dict(
                AppInstallation.objects.filter(organization=org, uninstalled_at__isnull=True).values_list("app_id", "id")
            )
            cards = [(app, installed.get(app.pk)) for app in apps]
        context = _page_context(request, site, org, "Marketplace: Apps", form=form, query=query, cards=cards)
        return TemplateResponse(request, "admin/scim/marketplace_apps.html", context)

    return view


def marketplace_app_view(site):
    def view(request: HttpRequest, org_uid: str, slug: str) -> HttpResponse:
        org = get_managed_org_or_404(request, org_uid)
        app = _listed_app(slug)
        context = _page_context(
            request,
            site,
            org,
            app.name,
            app=app,
            installation=installations.live_installation(org, app),
            uninstalled=AppInstallation.objects.filter(organization=org, app=app, uninstalled_at__isnull=False)
            .order_by("-uninstalled_at", "-pk")
            .first(),
            plan_has_scim=org.has_feature(app.requires_feature) if app.requires_feature else True,
        )
        return TemplateResponse(request, "admin/scim/marketplace_app.html", context)

    return view


def marketplace_install_view(site):
    def view(request: HttpRequest, org_uid: str, slug: str) -> HttpResponse:
        org = get_managed_org_or_404(request, org_uid)
        if refused := _only(request, "GET", "HEAD", "POST"):
            return refused
        app = _listed_app(slug)
        existing = installations.live_installation(org, app)
        plan_has_scim = org.has_feature(app.requires_feature) if app.requires_feature else True
        error = ""
        if request.method == "POST":
            if existing is None:
                try:
                    installation, issued = installations.install_app(org, app, actor=request.user)
                except installations.AlreadyInstalled as exc:
                    existing = exc.installation
                except ServiceError as exc:
                    error = str(exc)
                else:
                    return _issued_redirect(request, org, installation, issued, heading=f"{app.name} installed")
            if existing is not None:
                # A second POST (a double click, a form re-sent): say it
                # once, on the installation's page, and never issue a token again.
                messages.info(
                    request,
                    f"{app.name} is already installed in {org.name}. Its Secret Token is shown only once: "
                    "if you did not copy it, regenerate it here.",
                )
                return redirect("admin:marketplace-installation", org.uid, existing.pk)
        context = _page_context(
            request,
            site,
            org,
            f"Authorize {app.name}",
            app=app,
            installation=existing,
            plan_has_scim=plan_has_scim,
            error=error,
        )
        return TemplateResponse(request, "admin/scim/marketplace_install.html", context, status=400 if error else 200)

    return view


def installation_view(site):
    def view(request: HttpRequest, org_uid: str, installation_id: int) -> HttpResponse:
        org = get_managed_org_or_404(request, org_uid)
        installation = _get_installation(org, installation_id)
        tokens = installation.live_tokens
        context = _page_context(
            request,
            site,
            org,
            f"{installation.app.name} installation",
            installation=installation,
            token=tokens[0] if tokens else None,
            scim_url=installations.scim_url(org),
            activity_url=reverse("admin:org-settings-scim", args=[org.uid])
            + f"?app={installation.pk}#provisioning-activity",
        )
        return TemplateResponse(request, "admin/scim/installation.html", context)

    return view


# The regenerate form posts the prefix of the token it replaces (never a secret).
REGENERATE_FIELD = "token"


def _live_prefix(installation: AppInstallation) -> str:
    return installation.live_tokens[0].prefix if installation.live_tokens else ""


def installation_action_view(site, *, action: str):
    """Regenerate the token, uninstall or reinstall: GET confirms, POST acts."""

    def view(request: HttpRequest, org_uid: str, installation_id: int) -> HttpResponse:
        org = get_managed_org_or_404(request, org_uid)
        if refused := _only(request, "GET", "HEAD", "POST"):
            return refused
        installation = _get_installation(org, installation_id)
        name = installation.app.name
        page_url = reverse("admin:marketplace-installation", args=[org.uid, installation.pk])
        if action == "reinstall" and installation.is_live:
            messages.info(request, f"{name} is installed.")
            return redirect(page_url)
        if action != "reinstall" and not installation.is_live:
            messages.error(request, f"{name} has already been uninstalled.")
            return redirect(page_url)
        if request.method in SAFE_METHODS:
            if action == "regenerate":
                return _confirmation(
                    request, site, org, title=f"Regenerate the token of {name}?",
                    message=f"Issue a new Secret Token for {name}? The current token stops "
                    "working at once; paste the new one into your identity provider.",
                    button="Regenerate token", cancel_url=page_url, danger=True, installation=installation,
                    hidden_fields=[(REGENERATE_FIELD, _live_prefix(installation))],
                )
            if action == "reinstall":
                return _confirmation(
                    request, site, org, title=f"Reinstall {name}?",
                    message=f"Install {name} again with a new Secret Token, shown once on the next page. "
                    "Its earlier tokens stay revoked; its history and activity stay with it.",
                    button="Reinstall app", cancel_url=page_url, installation=installation,
                )
            return _confirmation(
                request, site, org, title=f"Uninstall {name}?",
                message=f"Uninstall {name}? All its tokens stop working at once. Members, groups "
                "and mappings it provisioned stay, and it stays listed with its history: you can reinstall it.",
                button="Uninstall app", cancel_url=page_url, danger=True, installation=installation,
            )
        if action == "regenerate" and request.POST.get(REGENERATE_FIELD) != _live_prefix(installation):
            # The form names the token it replaces: the same form sent twice (a
            # double click) must not kill the token just issued.
            messages.info(
                request,
                f"The token of {name} was already regenerated: use the Secret Token shown last, "
                "or regenerate it again here if you did not copy it.",
            )
            return redirect(page_url)
        try:
            if action == "regenerate":
                issued = installations.regenerate_token(installation, actor=request.user)
                return _issued_redirect(request, org, installation, issued, heading="New Secret Token")
            if action == "reinstall":
                issued = installations.reinstall_app(installation, actor=request.user)
                return _issued_redirect(request, org, installation, issued, heading=f"{name} reinstalled")
            installations.uninstall_app(installation, actor=request.user)
            messages.success(request, f"{name} was uninstalled; its tokens no longer work.")
        except installations.AlreadyInstalled as exc:
            messages.error(request, str(exc))
            return redirect("admin:marketplace-installation", org.uid, exc.installation.pk)
        except ServiceError as exc:
            messages.error(request, str(exc))
        return redirect(page_url)

    return view


def get_urls(site) -> list:
    """Mounted under /admin/orgs/<org_uid>/ by OrgdeskAdminSite.get_urls."""
    wrap = site.admin_view
    return [
        path("settings/scim/", wrap(scim_tab_view(site)), name="org-settings-scim"),
        path("settings/scim/enable/", wrap(scim_toggle_view(site, enable=True)), name="org-settings-scim-enable"),
        path("settings/scim/disable/", wrap(scim_toggle_view(site, enable=False)), name="org-settings-scim-disable"),
        path("marketplace/apps/", wrap(marketplace_apps_view(site)), name="marketplace-apps"),
        path("marketplace/apps/<slug:slug>/", wrap(marketplace_app_view(site)), name="marketplace-app"),
        path("marketplace/apps/<slug:slug>/install/", wrap(marketplace_install_view(site)), name="marketplace-install"),
        path(
            "marketplace/installations/<int:installation_id>/",
            wrap(installation_view(site)),
            name="marketplace-installation",
        ),
        path(
            "marketplace/installations/<int:installation_id>/token/",
            wrap(token_issued_view(site)),
            name="marketplace-installation-token",
        ),
        path(
            "marketplace/installations/<int:installation_id>/regenerate/",
            wrap(installation_action_view(site, action="regenerate")),
            name="marketplace-installation-regenerate",
        ),
        path(
            "marketplace/installations/<int:installation_id>/uninstall/",
            wrap(installation_action_view(site, action="uninstall")),
            name="marketplace-installation-uninstall",
        ),
        path(
            "marketplace/installations/<int:installation_id>/reinstall/",
            wrap(installation_action_view(site, action="reinstall")),
            name="marketplace-installation-reinstall",
        ),
    ]
