"""The Members tab's pending-invitations section: this context plus the include
admin/signin/_pending_invitations.html. Kept apart from signin.admin_views so
the Members tab (organizations.settings_pages.members) imports only this."""
from __future__ import annotations

from django.http import HttpRequest

from organizations.models import Organization
from organizations.paging import TRAIL_COUNT_CAP, capped_count, in_org, paginate

from .models import OPEN_OR_EXPIRED, Invitation

INVITATIONS_PER_PAGE = 20
PAGE_PARAM = "invitations_page"


def pending_invitations_context(request: HttpRequest, org: Organization) -> dict:
    """Context for admin/signin/_pending_invitations.html: one page of the org's
    open invitations (expired ones included, so they can be resent), newest first
    (invitation_open_idx's order), and their number counted up to a cap: an
    identity provider's import leaves one open invitation per member it pushed,
    and an exact count would read each of them (a "500+" says enough)."""
    open_invitations = Invitation.objects.filter(OPEN_OR_EXPIRED, organization=org)
    # The count compares the org plainly: its own range of the index, stopping at
    # the cap. The page compares it as a parameter (in_org): believed to hold a
    # row or two (provisioned since the last ANALYZE), the org's open invitations
    # were otherwise all read, joined to their members and sorted for a page of
    # 20. (As a parameter, the count of an org with none was a walk of the table.)
    rows = (
        Invitation.objects.filter(OPEN_OR_EXPIRED, in_org(org))
        .select_related("membership")
        .order_by("-created_at", "-id")
    )
    count = capped_count(open_invitations, TRAIL_COUNT_CAP)
    page = paginate(rows, request.GET.get(PAGE_PARAM), size=INVITATIONS_PER_PAGE, count=count)
    if not page.rows and page.number > 1 and page.num_pages:  # past the end (some were accepted): the last page
        page = paginate(rows, page.num_pages, size=INVITATIONS_PER_PAGE, count=count)
    return {"pending_invitations": page, "invitations_page_param": PAGE_PARAM}
