"""Read-only REST API: the access report of an org, for scripts and audits.

Session or token auth (settings.REST_FRAMEWORK); only an active Owner/Admin of
the org (or a superuser) gets an answer, anyone else a 404 so another org's
existence never leaks."""
from __future__ import annotations

from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from organizations.models import Membership
from organizations.permissions import SignInRequired, get_managed_org_or_404

from .report import access_report


class AccessReportPagination(PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class OrgAccessReportView(APIView):
    """GET /api/orgs/<org_uid>/access/: every member with org role, stack roles per
    stack, groups, and what grants each role. Paginated (`page`, `page_size`)."""

    permission_classes = [IsAuthenticated]
    pagination_class = AccessReportPagination

    def get(self, request: Request, org_uid: str) -> Response:
        try:
            org = get_managed_org_or_404(request, org_uid)
        except SignInRequired as exc:  # a machine client gets a machine answer, never a sign-in redirect
            raise PermissionDenied(exc.message) from exc
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            Membership.objects.filter(organization=org).select_related("user").order_by("pk"), request, view=self
        )
        return paginator.get_paginated_response(access_report(org, list(page)))
