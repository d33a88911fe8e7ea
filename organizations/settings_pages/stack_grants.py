"""Organization Settings > Members, a member's page: stack roles granted by hand.
An Owner or Admin grants a member a role on a stack (the stack from a paged
picker, the role one of the org's), and revokes a role granted that way.

Such a grant is kept apart from the roles mapped SCIM groups give (rule 4 in
mappings/engine.py): a recompute never writes it, and revoking it leaves the
roles a group gives untouched. Every view starts with the tenant gate, so a
Member or another org's admin gets a 404; a stack or role of another org is
refused by the form. Changes go through organizations.services, which audits
them ("stack_access.grant", "stack_access.revoke")."""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db.models.functions import Lower
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods

from organizations import services
from organizations.directory import member_or_404
from organizations.forms import FORM_ACTION_FIELD, ActionForm
from organizations.models import AccessSource, Membership, Organization, Stack, StackAccess, StackRole
from organizations.permissions import get_managed_org_or_404
from organizations.pickers import RemoteSelect, picker_response

from .members import back_to_members
from .shell import org_settings_context


class StackGrantForm(ActionForm):
    """A stack of this org (a searchable picker: an org may hold many stacks, the
    page holds the chosen one only) and a stack role available to it."""

    action = "stack-grant"

    stack = forms.ModelChoiceField(
        queryset=Stack.objects.none(),
        error_messages={"invalid_choice": "Choose one of this organization's stacks."},
    )
    role = forms.ModelChoiceField(
        queryset=StackRole.objects.none(),
        label="Stack role",
        error_messages={"invalid_choice": "Choose a built-in stack role or one of this organization's."},
    )

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        stack = self.fields["stack"]
        stack.queryset = Stack.objects.filter(organization=organization)
        stack.widget = RemoteSelect(reverse("admin:stack-picker", args=[organization.uid]),
                                    placeholder="Type a stack's name…")
        stack.widget.choices = stack.choices
        stack.widget.is_required = True
        self.fields["role"].queryset = StackRole.available_to(organization).order_by("-builtin", Lower("name"), "pk")


def stack_choices(org: Organization, term: str, offset: int, limit: int) -> list[Stack]:
    """Stacks of `org` whose name contains `term`, by name: one page."""
    qs = Stack.objects.filter(organization=org)
    term = term.strip()
    if term:
        qs = qs.filter(name__icontains=term)
    return list(qs.order_by(Lower("name"), "pk")[offset : offset + limit])


def _member_url(org: Organization, member: Membership, next_url: str) -> str:
    """The member's page, with the way back to the list it was opened from."""
    return reverse("admin:member-detail", args=[org.uid, member.pk]) + "?" + urlencode({"next": next_url})


def stack_grant_view(site):
    @require_http_methods(["GET", "HEAD", "POST"])
    def view(request: HttpRequest, org_uid: str, membership_id: int) -> HttpResponse:
        org = get_managed_org_or_404(request, org_uid)
        member = member_or_404(org, membership_id)
        next_url = back_to_members(request, org)
        form = StackGrantForm(request.POST or None, organization=org)
        if request.method == "POST" and form.is_valid():
            stack, role = form.cleaned_data["stack"], form.cleaned_data["role"]
            held = StackAccess.objects.filter(membership=member, stack=stack, role=role, source=AccessSource.MANUAL)
            if held.exists():
                form.add_error(None, f"{member.user.email} already holds {role.name} on {stack.name} by hand.")
            else:
                try:
                    services.grant_stack_role(member, stack, role, actor=request.user)
                except services.ServiceError as exc:
                    form.add_error(None, str(exc))
                else:
                    messages.success(request, f"{member.user.email} now holds {role.name} on {stack.name}, "
                                              "granted by hand.")
                    return redirect(_member_url(org, member, next_url))
        context = org_settings_context(
            request, site, org, "members", member=member, form=form, form_action_field=FORM_ACTION_FIELD,
            member_url=_member_url(org, member, next_url), title=f"Grant a stack role to {member.user.email}",
        )
        return TemplateResponse(request, "admin/orgdesk/member_stack_grant.html", context,
                                status=400 if form.errors else 200)

    return view


def stack_revoke_view(site):
    @require_http_methods(["GET", "HEAD", "POST"])
    def view(request: HttpRequest, org_uid: str, membership_id: int, access_id: int) -> HttpResponse:
        org = get_managed_org_or_404(request, org_uid)
        member = member_or_404(org, membership_id)
        # Only a grant made by hand, of this member: a role a SCIM group gives is
        # taken away by changing the group or its mapping, never here.
        access = get_object_or_404(
            StackAccess.objects.select_related("stack", "role"), pk=access_id, membership=member,
            source=AccessSource.MANUAL,
        )
        next_url = back_to_members(request, org)
        member_url = _member_url(org, member, next_url)
        if request.method == "POST":
            services.revoke_stack_role(member, access.stack, access.role, actor=request.user)
            messages.success(request, f"{member.user.email} no longer holds {access.role.name} on "
                                      f"{access.stack.name} by hand.")
            return redirect(member_url)
        context = org_settings_context(
            request, site, org, "members", member=member, access=access, member_url=member_url,
            hidden_fields=[("next", next_url)], title=f"Revoke {access.role.name} on {access.stack.name}?",
        )
        return TemplateResponse(request, "admin/orgdesk/member_stack_revoke.html", context)

    return view


def stack_picker_view(site):
    @require_GET
    def view(request: HttpRequest, org_uid: str) -> HttpResponse:
        """Stacks of this org matching `term`, for the stack picker of the grant page."""
        org = get_managed_org_or_404(request, org_uid)
        return picker_response(
            request, lambda term, offset, limit: stack_choices(org, term, offset, limit), lambda s: s.name
        )

    return view


def get_urls(site) -> list:
    wrap = site.admin_view
    return [
        path("members/<int:membership_id>/stack-roles/grant/", wrap(stack_grant_view(site)),
             name="member-stack-grant"),
        path("members/<int:membership_id>/stack-roles/<int:access_id>/revoke/", wrap(stack_revoke_view(site)),
             name="member-stack-revoke"),
        path("stacks/picker/", wrap(stack_picker_view(site)), name="stack-picker"),
    ]
