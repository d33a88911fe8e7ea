"""The Members tab's pending-invitations section: this context plus the include
admin/signin/_pending_invitations.html. Kept apart from signin.admin_views so
the Members tab (organizations.settings_pages.members) imports only this."""
from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest

from organizations.models import Organization

from .models import OPEN_OR_EXPIRED, Invitation

INVITATIONS_PER_PAGE = 20
PAGE_PARAM = "invitations_page"


def pending_invitations_context(request: HttpRequest, org: Organization) -> dict:
    """Context for admin/signin/_pending_invitations.html: one page of the org's
    open invitations (expired ones included, so they can be resent), newest first."""
    queryset = (
        Invitation.objects.filter(OPEN_OR_EXPIRED, organization=org)
        .select_related("membership")
        .order_by("-created_at", "-id")
    )
    page = Paginator(queryset, INVITATIONS_PER_PAGE).get_page(request.GET.get(PAGE_PARAM))
    return {"pending_invitations": page, "invitations_page_param": PAGE_PARAM}
