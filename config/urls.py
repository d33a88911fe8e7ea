from django.contrib import admin
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path, re_path

from config.metrics import metrics_view
from config.views import healthz, readyz
from scim.api.views import route_not_found

urlpatterns = [
    path("", lambda request: redirect("admin:index")),
    # Browsers ask for /favicon.ico whatever the page links: the SVG icon.
    path("favicon.ico", lambda request: redirect(static("orgdesk/favicon.svg")), name="favicon"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("scim/v2/organizations/<str:org_uid>/", include("scim.api.urls")),
    # Anything else under /scim/ is a SCIM JSON 404 (and never an APPEND_SLASH redirect).
    re_path(r"^scim(?:/.*)?$", route_not_found),
    path("api/", include("mappings.api_urls")),
    path("sso/", include("organizations.signin.saml.urls")),
    path("", include("organizations.signin.urls")),
]

# Branded error pages with a way back (organizations/signin/errors.py), 403 under DEBUG too.
handler403 = "organizations.signin.errors.permission_denied"
handler404 = "organizations.signin.errors.page_not_found"
handler500 = "organizations.signin.errors.server_error"
