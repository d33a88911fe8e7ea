"""Organization Settings pages: the General, Members and Stacks tabs.

Shared helpers for every settings tab (the SCIM tab lives in scim.admin_views).
Views parse forms and render; every change goes through organizations.services."""
from __future__ import annotations

from typing import Callable

from django.contrib import messages
from django.db.models import Prefetch, prefetch_related_objects
from django.db.models.expressions import RawSQL
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.http import urlencode

from . import directory, services
from .directory import MemberFilterForm
from .paging import paginate
from .forms import (
    FORM_ACTION_FIELD,
    ActionForm,
    AddMemberForm,
    ChangeRoleForm,
    CreateStackForm,
    CreateStackRoleForm,
    RenameOrganizationForm,
    TransferOwnershipForm,
)
from .models import Organization, OrgRole, Stack, StackAccess, StackRole
from .outcomes import Outcome, finish
from .permissions import can_transfer_ownership, get_managed_org_or_404
from .role_sources import annotate_org_role_sources
from .signin.access import sso_signin_available as org_sso_signin_available
from .signin.invitations import invite_member
from .signin.members_tab import pending_invitations_context
from .signin.ways_in import annotate_ways_in
from .signin.ways_in import progress as bulk_invitation_progress

SETTINGS_TABS = [
    ("general", "General", "admin:org-settings"),
    ("members", "Members", "admin:org-settings-members"),
    ("stacks", "Stacks", "admin:org-settings-stacks"),
    ("scim", "SCIM", "admin:org-settings-scim"),
    ("sso", "Single Sign-On", "admin:org-settings-sso"),
    ("audit", "Audit log", "admin:org-settings-audit"),
]


def org_settings_context(request: HttpRequest, site, org: Organization, active_tab: str, **extra) -> dict:
    """Context for templates extending admin/orgdesk/org_settings_base.html."""
    return {
        **site.each_context(request),
        "org": org,
        "active_tab": active_tab,
        "settings_tabs": SETTINGS_TABS,
        "title": f"Organization Settings: {org.name}",
        **extra,
    }


# A handler gets the cleaned data and returns the success message, an Outcome
# (message, level, where to go) or a whole response (a confirmation page).
Handler = Callable[[dict], "str | Outcome | HttpResponse"]


class OrgSettingsViews:
    """The tabs of one admin site. Each tab may hold several forms; the posted one
    is named by the hidden `form` field, the others stay unbound."""

    def __init__(self, site):
        self.site = site

    # --- plumbing -----------------------------------------------------------

    def _forms(self, request: HttpRequest, classes: list[type[ActionForm]], **kwargs) -> dict[str, ActionForm]:
        posted = request.POST.get(FORM_ACTION_FIELD) if request.method == "POST" else None
        return {cls.action: cls(request.POST if cls.action == posted else None, **kwargs.get(cls.action, {}))
                for cls in classes}

    def _handle_post(
        self, request: HttpRequest, forms: dict[str, ActionForm], handlers: dict[str, Handler]
    ) -> HttpResponse | None:
        """Run the posted form's handler; a redirect on success, None to re-render
        the page with the form's errors."""
        if request.method != "POST":
            return None
        action = request.POST.get(FORM_ACTION_FIELD, "")
        form = forms.get(action)
        if form is None or action not in handlers:
            messages.error(request, "Unknown form; nothing was changed.")
            return None
        if not form.is_valid():
            return None
        try:
            result = handlers[action](form.cleaned_data)
        except services.ServiceError as exc:
            form.add_error(None, str(exc))
            return None
        return finish(request, Outcome(result) if isinstance(result, str) else result, request.path)

    def _render(self, request, template: str, org: Organization, tab: str, **extra) -> TemplateResponse:
        context = org_settings_context(request, self.site, org, tab, form_action_field=FORM_ACTION_FIELD, **extra)
        return TemplateResponse(request, template, context)

    # --- tabs ---------------------------------------------------------------

    def general(self, request: HttpRequest, org_uid: str) -> HttpResponse:
        org = get_managed_org_or_404(request, org_uid)
        forms = self._forms(request, [RenameOrganizationForm], rename={"initial": {"name": org.name}})

        def rename(data: dict) -> str:
            services.rename_organization(org, data["name"], actor=request.user)
            return f"The organization is now called “{org.name}”."

        response = self._handle_post(request, forms, {"rename": rename})
        if response is not None:
            return response
        owner = org.memberships.filter(role=OrgRole.OWNER).select_related("user").first()
        return self._render(
            request,
            "admin/orgdesk/org_settings_general.html",
            org,
            "general",
            rename_form=forms["rename"],
            owner=owner,
            member_count=org.memberships.count(),
            stack_count=org.stacks.count(),
        )

    def members(self, request: HttpRequest, org_uid: str) -> HttpResponse:
        org = get_managed_org_or_404(request, org_uid)
        can_transfer = can_transfer_ownership(request.user, org)
        classes: list[type[ActionForm]] = [AddMemberForm, ChangeRoleForm]
        if can_transfer:
            classes.append(TransferOwnershipForm)
        scoped = {"organization": org}
        forms = self._forms(request, classes, **{"change-role": scoped, "transfer-ownership": scoped})

        def add(data: dict) -> str:
            try:
                m, _ = invite_member(
                    org, data["email"], role=data["role"], first_name=data["first_name"],
                    last_name=data["last_name"], actor=request.user,
                )
            except services.AlreadyMember as exc:
                raise services.ServiceError(already_member_message(org, exc.membership, request.get_full_path()))
            return f"{m.user.email} was added as {m.get_role_display()}. An invitation e-mail is on its way."

        def change(data: dict) -> Outcome | HttpResponse:
            from .member_views import change_role_outcome  # member_views builds on this module

            member, role = data["membership"], data["role"]
            hidden = [(FORM_ACTION_FIELD, ChangeRoleForm.action), ("change-role-membership", str(member.pk)),
                      ("change-role-role", role)]
            return change_role_outcome(
                request, self.site, org, member, role, next_url=request.path, hidden_fields=hidden
            )

        def transfer(data: dict) -> str:
            m = services.transfer_ownership(org, data["membership"], actor=request.user, typed_name=data["typed_name"])
            return f"{m.user.email} is now the Owner of {org.name} and has been told by e-mail; you are now an Admin."

        handlers = {"add-member": add, "change-role": change}
        if can_transfer:
            handlers["transfer-ownership"] = transfer
        response = self._handle_post(request, forms, handlers)
        if response is not None:
            return response
        filter_form = MemberFilterForm(request.GET or None)
        params = filter_form.params()
        page = directory.members_page(org, params, request.GET.get("page"))
        prefetch_related_objects(
            page.rows, Prefetch("stack_access", queryset=StackAccess.objects.select_related("stack", "role"))
        )
        annotate_org_role_sources(page.rows)
        annotate_ways_in(org, page.rows)
        return self._render(
            request,
            "admin/orgdesk/org_settings_members.html",
            org,
            "members",
            page=page,
            memberships=page.rows,
            filter_form=filter_form,
            filtered=bool(params),
            list_url=request.get_full_path(),
            add_form=forms["add-member"],
            change_role_form=forms["change-role"],
            transfer_form=forms.get("transfer-ownership"),
            sso_signin=org_sso_signin_available(org),
            bulk_invitations=bulk_invitation_progress(org),
            **pending_invitations_context(request, org),
        )

    def stacks(self, request: HttpRequest, org_uid: str) -> HttpResponse:
        org = get_managed_org_or_404(request, org_uid)
        forms = self._forms(request, [CreateStackForm, CreateStackRoleForm])

        def create_stack(data: dict) -> str:
            stack = services.create_stack(org, data["name"], actor=request.user)
            return f"Stack “{stack.name}” was created."

        def create_role(data: dict) -> str:
            role = services.create_stack_role(org, data["name"], actor=request.user)
            return f"Stack role “{role.name}” was created."

        response = self._handle_post(
            request, forms, {"create-stack": create_stack, "create-stack-role": create_role}
        )
        if response is not None:
            return response
        stacks = paginate(Stack.objects.filter(organization=org).order_by("name", "pk"), request.GET.get("page"))
        people = stack_people_counts([stack.pk for stack in stacks.rows])
        for stack in stacks.rows:
            stack.people, stack.people_capped = people.get(stack.pk, (0, False))
        return self._render(
            request,
            "admin/orgdesk/org_settings_stacks.html",
            org,
            "stacks",
            page=stacks,
            stacks=stacks.rows,
            stack_roles=StackRole.available_to(org)[:200],
            stack_form=forms["create-stack"],
            role_form=forms["create-stack-role"],
        )


def already_member_message(org: Organization, member, list_url: str):
    """"Add a member" for someone who is one already: say in which state, and
    link to their page, where Reactivate or Send invitation is."""
    from django.urls import reverse
    from django.utils.html import format_html

    from .signin.ways_in import annotate_ways_in

    url = reverse("admin:member-detail", args=[org.uid, member.pk]) + "?" + urlencode({"next": list_url})
    email = member.user.email
    if not member.active:
        state, hint = "deactivated", "Reactivate them on their page"
    elif member.pending:
        state, hint = "invited, not joined yet", "Resend the invitation below, or open their page"
    else:
        annotate_ways_in(org, [member])
        if member.way_in.needs_invitation:
            state, hint = "with no way in yet", "Send them an invitation on their page"
        else:
            state, hint = "active", "Open their page"
    return format_html(
        "{} is already a member of {} ({}). {}: <a href=\"{}\" class=\"already-member-link\">{}</a>.",
        email, org.name, state, hint, url, email,
    )


STACK_PEOPLE_CAP = 1_000


def stack_people_counts(stack_ids: list[int]) -> dict[int, tuple[int, bool]]:
    """{stack id: (people holding a role on it, capped)} in one statement; each
    count stops at cap + 1 distinct members, so a stack that 20,000 members of a
    mapped group reach costs what one of 1,000 does ("1,000+")."""
    table, cap = StackAccess._meta.db_table, STACK_PEOPLE_CAP
    counted = Stack.objects.filter(pk__in=stack_ids).annotate(
        n=RawSQL(
            f"SELECT COUNT(*) FROM (SELECT DISTINCT sa.membership_id FROM {table} sa "
            f"WHERE sa.stack_id = {Stack._meta.db_table}.id LIMIT %s) capped",
            (cap + 1,),
        )
    )
    return {pk: ((cap, True) if n > cap else (n, False)) for pk, n in counted.values_list("pk", "n")}


def get_urls(site) -> list:
    from .audit_views import get_urls as audit_urls
    from .member_views import get_urls as member_urls

    views = OrgSettingsViews(site)
    return member_urls(site) + audit_urls(site) + [
        path("settings/", site.admin_view(views.general), name="org-settings"),
        path("settings/members/", site.admin_view(views.members), name="org-settings-members"),
        path("settings/stacks/", site.admin_view(views.stacks), name="org-settings-stacks"),
    ]
