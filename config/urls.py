from django.contrib import admin
from django.shortcuts import redirect
from django.urls import include, path

from config.views import healthz

urlpatterns = [
    path("", lambda request: redirect("admin:index")),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("scim/v2/organizations/<str:org_uid>/", include("scim.api.urls")),
    path("api/", include("mappings.api_urls")),
]
