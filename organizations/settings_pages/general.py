"""Organization Settings > General: the org's name, its Owner and its size."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from organizations import services
from organizations.forms import RenameOrganizationForm
from organizations.models import OrgRole
from organizations.permissions import get_managed_org_or_404

from .shell import handle_post, render_tab, tab_forms


def general_view(site):
    def view(request: HttpRequest, org_uid: str) -> HttpResponse:
        org = get_managed_org_or_404(request, org_uid)
        forms = tab_forms(request, [RenameOrganizationForm], rename={"initial": {"name": org.name}})

        def rename(data: dict) -> str:
            services.rename_organization(org, data["name"], actor=request.user)
            return f"The organization is now called \"{org.name}\"."

        response = handle_post(request, forms, {"rename": rename})
        if response is not None:
            return response
        owner = org.memberships.filter(role=OrgRole.OWNER).select_related("user").first()
        return render_tab(
            request,
            site,
            "admin/orgdesk/org_settings_general.html",
            org,
            "general",
            rename_form=forms["rename"],
            owner=owner,
            member_count=org.memberships.count(),
            stack_count=org.stacks.count(),
        )

    return view
