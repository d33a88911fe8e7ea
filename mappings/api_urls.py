"""Read-only REST API, mounted at /api/ by config/urls.py."""
from django.urls import path

from .api import OrgAccessReportView

urlpatterns = [
    path("orgs/<str:org_uid>/access/", OrgAccessReportView.as_view(), name="api-org-access"),
]
