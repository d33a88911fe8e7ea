"""Organization Settings > Stacks: the org's stacks and custom stack roles, how
many people hold a role on each stack, and the delete pages of a stack and of a
custom stack role (their rename page is settings_pages.rename).

Every view starts with the tenant gate, so a Member or another org's admin gets
a 404 and nothing changes. Confirmations are pages: GET shows them, only POST
acts. Every change goes through organizations.services (which audits it)."""
from __future__ import annotations

from django.contrib import messages
from django.db.models.expressions import RawSQL
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from organizations import services
from organizations.forms import CreateStackForm, CreateStackRoleForm
from organizations.models import Stack, StackAccess, StackRole
from organizations.paging import paginate
from organizations.permissions import get_managed_org_or_404

from .rename import get_custom_role, get_stack
from .shell import handle_post, org_settings_context, render_tab, tab_forms


def stacks_view(site):
    def view(request: HttpRequest, org_uid: str) -> HttpResponse:
        org = get_managed_org_or_404(request, org_uid)
        forms = tab_forms(request, [CreateStackForm, CreateStackRoleForm])

        def create_stack(data: dict) -> str:
            stack = services.create_stack(org, data["name"], actor=request.user)
            return f"Stack \"{stack.name}\" was created."

        def create_role(data: dict) -> str:
            role = services.create_stack_role(org, data["name"], actor=request.user)
            return f"Stack role \"{role.name}\" was created."

        response = handle_post(
            request, forms, {"create-stack": create_stack, "create-stack-role": create_role}
        )
        if response is not None:
            return response
        stacks = paginate(Stack.objects.filter(organization=org).order_by("name", "pk"), request.GET.get("page"))
        people = stack_people_counts([stack.pk for stack in stacks.rows])
        for stack in stacks.rows:
            stack.people, stack.people_capped = people.get(stack.pk, (0, False))
        return render_tab(
            request,
            site,
            "admin/orgdesk/org_settings_stacks.html",
            org,
            "stacks",
            page=stacks,
            stacks=stacks.rows,
            stack_roles=StackRole.available_to(org)[:200],
            stack_form=forms["create-stack"],
            role_form=forms["create-stack-role"],
        )

    return view


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


def stack_delete_view(site):
    def view(request: HttpRequest, org_uid: str, stack_id: int) -> HttpResponse:
        org = get_managed_org_or_404(request, org_uid)
        if request.method not in ("GET", "HEAD", "POST"):
            return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
        stack = get_stack(org, stack_id)
        tab = reverse("admin:org-settings-stacks", args=[org.uid])
        if request.method == "POST":
            name = stack.name
            try:
                affected = services.delete_stack(stack, actor=request.user)
            except services.ServiceError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(
                    request, f"Stack \"{name}\" was deleted; {affected:,} member{'s' if affected != 1 else ''} "
                    "lost the roles they held on it."
                )
            return redirect(tab)
        context = org_settings_context(
            request, site, org, "stacks", stack=stack, cancel_url=tab,
            member_count=services.stack_member_count(stack),
            title=f"Delete stack {stack.name}",
        )
        return TemplateResponse(request, "admin/orgdesk/stack_confirm_delete.html", context)

    return view


def stack_role_delete_view(site):
    def view(request: HttpRequest, org_uid: str, role_id: int) -> HttpResponse:
        org = get_managed_org_or_404(request, org_uid)
        if request.method not in ("GET", "HEAD", "POST"):
            return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
        role = get_custom_role(org, role_id)
        tab = reverse("admin:org-settings-stacks", args=[org.uid]) + "#stack-roles"
        if request.method == "POST":
            name = role.name
            try:
                usage = services.delete_stack_role(role, actor=request.user)
            except services.ServiceError as exc:
                messages.error(request, str(exc))
            else:
                n = usage.members
                messages.success(
                    request, f"Stack role \"{name}\" was deleted; {n:,}{'+' if usage.members_capped else ''} "
                    f"member{'s' if n != 1 else ''} lost it."
                )
            return redirect(tab)
        usage = services.stack_role_usage(role)
        context = org_settings_context(
            request, site, org, "stacks", role=role, usage=usage, cancel_url=tab,
            in_use_message=services.stack_role_in_use_message(role.name, usage) if usage.users_total else "",
            title=f"Delete stack role {role.name}",
        )
        return TemplateResponse(request, "admin/orgdesk/stack_role_confirm_delete.html", context)

    return view
