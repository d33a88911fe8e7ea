"""Members and stacks managed by hand: a member's page (role, deactivate,
reactivate, remove), the stack and custom stack role rename and delete pages, and the org-scoped
JSON behind the member pickers.

Every view starts with the tenant gate, so a Member or another org's admin gets
a 404 and nothing changes. Confirmations are pages: GET shows them, only POST
acts. Every change goes through organizations.services (which audits it)."""
from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET

from . import directory, services
from .admin_views import org_settings_context
from .guardrails import last_admin_message, last_capable_managers, self_loss_consequence
from .outcomes import LOSS_CONFIRMED_FIELD, Outcome, finish, lost_own_access, loss_confirmed
from .signin.saml.members import sso_link_context
from .signin.ways_in import annotate_ways_in
from .permissions import can_manage, get_managed_org_or_404
from .forms import MemberRoleForm, RenameStackForm, RenameStackRoleForm, member_version
from .models import Membership, Organization, OrgRole, Stack, StackAccess, StackRole
from .pickers import picker_response
from .role_sources import annotate_org_role_sources, role_change_outcome

MEMBER_ACTIONS = ("deactivate", "reactivate", "remove")
PICKER_SCOPES = {
    "": {},
    "non-owner": {"exclude_owner": True},
    "transfer": {"exclude_owner": True, "active_only": True},
}


def _members_url(org: Organization) -> str:
    return reverse("admin:org-settings-members", args=[org.uid])


def _next_url(request: HttpRequest, org: Organization) -> str:
    """Back to the list the action started from (its search and page), if that is ours."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(candidate, {request.get_host()}, request.is_secure()):
        if candidate.startswith(_members_url(org)):
            return candidate
    return _members_url(org)


# For other apps' member pages (the "why" page): the same back link to the Members list.
back_to_members = _next_url


def _get_member(org: Organization, membership_id: int) -> Membership:
    """A member of *this* org; another org's id is a 404."""
    return get_object_or_404(Membership.objects.select_related("user"), organization=org, pk=membership_id)


# Per action: the question, what happens, the button, and whether it takes access away.
CONFIRMATIONS = {
    "remove": ("Remove {email} from {org}?", "The membership and every role it holds in {org} are removed. The person's "
               "account, their other organizations and the audit trail stay.", "Remove member", True),
    "deactivate": ("Deactivate {email}?", "The member loses all access at once (roles from SCIM groups included); the "
                   "record stays and can be reactivated.", "Deactivate member", True),
    "reactivate": ("Reactivate {email}?", "The member gets back the access their groups and grants made by hand give.",
                   "Reactivate member", False),
    services.DEMOTE: ("Change your own role in {org} to {role}?", "Your role granted by hand becomes {role}. An Owner "
                      "or another Admin can make you an Admin again.", "Change my role", True),
}


def confirm_page(
    request: HttpRequest, site, org: Organization, member: Membership, *, action: str, next_url: str,
    consequence: str = "", hidden_fields: list[tuple[str, str]] | None = None, role_label: str = "",
) -> TemplateResponse:
    """The confirmation of deactivate, reactivate, remove, or of a change of one's
    own role; when the person loses their own access, it says what they lose."""
    hidden = [("next", next_url), *(hidden_fields or [])]
    if consequence:
        hidden.append((LOSS_CONFIRMED_FIELD, "yes"))
    question, explanation, button, danger = (
        text.format(email=member.user.email, org=org.name, role=role_label) if isinstance(text, str) else text
        for text in CONFIRMATIONS[action]
    )
    context = org_settings_context(
        request, site, org, "members", member=member, action=action, next_url=next_url, consequence=consequence,
        hidden_fields=hidden, question=question, explanation=explanation, button=button, danger=danger,
        title=question,
    )
    return TemplateResponse(request, "admin/orgdesk/member_confirm.html", context)


def change_role_outcome(
    request: HttpRequest, site, org: Organization, member: Membership, role: str, *, next_url: str,
    hidden_fields: list[tuple[str, str]],
) -> Outcome | HttpResponse:
    """Change the role granted by hand and say the role the member really has and
    why; ask first when the person is about to demote themselves. Other refusals
    raise services.ServiceError for the caller's form."""
    try:
        member = services.change_role(member, role, actor=request.user, confirmed=loss_confirmed(request))
    except services.ConfirmationRequired as exc:
        return confirm_page(
            request, site, org, member, action=services.DEMOTE, next_url=next_url, consequence=str(exc),
            hidden_fields=hidden_fields, role_label=OrgRole(role).label,
        )
    became, message = role_change_outcome(member, role)
    if member.user_id == request.user.pk and not can_manage(request.user, org):
        return lost_own_access(request, f"You now have the role {member.get_role_display()} in {org.name} "
                                f"({member.role_source}); you can no longer open its Organization Settings.")
    return Outcome(message, messages.SUCCESS if became else messages.WARNING)


def member_view(site):
    def view(request: HttpRequest, org_uid: str, membership_id: int) -> HttpResponse:
        org = get_managed_org_or_404(request, org_uid)
        member = _get_member(org, membership_id)
        form = MemberRoleForm(request.POST or None, initial={"role": member.manual_role, "version": member_version(member)})
        next_url = _next_url(request, org)
        if request.method == "POST":
            if member.role == OrgRole.OWNER:
                form.add_error(None, "The Owner's role changes only by transferring ownership.")
            elif form.is_valid() and not form.refuse_if_stale(member):
                role = form.cleaned_data["role"]
                try:
                    result = change_role_outcome(
                        request, site, org, member, role, next_url=next_url,
                        hidden_fields=[("role", role), ("version", form.cleaned_data["version"])],
                    )
                except services.ServiceError as exc:
                    form.add_error(None, str(exc))
                else:
                    return finish(request, result, reverse("admin:member-detail", args=[org.uid, member.pk]))
        elif request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
        stack_access = StackAccess.objects.filter(membership=member).select_related("stack", "role")[:200]
        annotate_org_role_sources([member])
        annotate_ways_in(org, [member])
        context = org_settings_context(
            request, site, org, "members", member=member, role_form=form, stack_access=stack_access,
            next_url=next_url, title=f"Member: {member.user.email}", **sso_link_context(request, org, member),
        )
        return TemplateResponse(request, "admin/orgdesk/member_detail.html", context, status=400 if form.errors else 200)

    return view


def member_action_view(site, *, action: str):
    def view(request: HttpRequest, org_uid: str, membership_id: int) -> HttpResponse:
        org = get_managed_org_or_404(request, org_uid)
        if request.method not in ("GET", "HEAD", "POST"):
            return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
        member = _get_member(org, membership_id)
        back = _next_url(request, org)
        if member.role == OrgRole.OWNER and action != "reactivate":
            messages.error(request, f"The Owner cannot be {action}d; transfer ownership first.")
            return redirect(back)
        own = member.user_id == request.user.pk and not request.user.is_superuser and action != "reactivate"
        if action != "reactivate" and request.method != "POST" and last_capable_managers([member]):
            messages.error(request, last_admin_message(member, own=own))  # refused before asking
            return redirect(back)
        loses_own_access = own and member.active and member.role == OrgRole.ADMIN
        consequence = self_loss_consequence(member, action) if loses_own_access else ""
        if request.method == "POST":
            email = member.user.email
            try:
                if action == "remove":
                    services.remove_member(member, actor=request.user, confirmed=loss_confirmed(request))
                    message = f"Member {email} was removed from {org.name}."
                else:
                    services.set_member_active(
                        member, action == "reactivate", actor=request.user, confirmed=loss_confirmed(request)
                    )
                    message = f"Member {email} was {action}d."
            except services.ConfirmationRequired as exc:
                return confirm_page(request, site, org, member, action=action, next_url=back, consequence=str(exc))
            except services.ServiceError as exc:
                messages.error(request, str(exc))
                return redirect(back)
            if own and not can_manage(request.user, org):
                you = "You were removed from" if action == "remove" else "You were deactivated in"
                return finish(request, lost_own_access(request, f"{you} {org.name}."), back)
            return finish(request, Outcome(message), back)
        return confirm_page(request, site, org, member, action=action, next_url=back, consequence=consequence)

    return view


def member_picker_view(site):
    @require_GET
    def view(request: HttpRequest, org_uid: str) -> HttpResponse:
        """Members of this org matching `term`, for the pickers of the Members tab."""
        org = get_managed_org_or_404(request, org_uid)
        scope = PICKER_SCOPES.get(request.GET.get("scope", ""), PICKER_SCOPES[""])
        return picker_response(
            request,
            lambda term, offset, limit: directory.member_choices(org, term, offset, limit, **scope),
            directory.member_label,
        )

    return view


def _get_stack(org: Organization, stack_id: int) -> Stack:
    return get_object_or_404(Stack, organization=org, pk=stack_id)


def stack_rename_view(site):
    def view(request: HttpRequest, org_uid: str, stack_id: int) -> HttpResponse:
        org = get_managed_org_or_404(request, org_uid)
        if request.method not in ("GET", "HEAD", "POST"):
            return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
        stack = _get_stack(org, stack_id)
        form = RenameStackForm(request.POST or None, initial={"name": stack.name})
        if request.method == "POST" and form.is_valid():
            old = stack.name
            try:
                stack = services.rename_stack(stack, form.cleaned_data["name"], actor=request.user)
            except services.ServiceError as exc:
                form.add_error("name", str(exc))
            else:
                messages.success(request, f"Stack “{old}” is now called “{stack.name}”.")
                return redirect(reverse("admin:org-settings-stacks", args=[org.uid]))
        context = org_settings_context(request, site, org, "stacks", stack=stack, form=form,
                                       title=f"Rename stack {stack.name}")
        return TemplateResponse(request, "admin/orgdesk/stack_rename.html", context, status=400 if form.errors else 200)

    return view


def stack_delete_view(site):
    def view(request: HttpRequest, org_uid: str, stack_id: int) -> HttpResponse:
        org = get_managed_org_or_404(request, org_uid)
        if request.method not in ("GET", "HEAD", "POST"):
            return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
        stack = _get_stack(org, stack_id)
        tab = reverse("admin:org-settings-stacks", args=[org.uid])
        if request.method == "POST":
            name = stack.name
            try:
                affected = services.delete_stack(stack, actor=request.user)
            except services.ServiceError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(
                    request, f"Stack “{name}” was deleted; {affected:,} member{'s' if affected != 1 else ''} "
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


def _get_custom_role(org: Organization, role_id: int) -> StackRole:
    """A custom stack role of this org; a built-in role (no org) or another org's is a 404."""
    return get_object_or_404(StackRole, organization=org, builtin=False, pk=role_id)


def stack_role_rename_view(site):
    def view(request: HttpRequest, org_uid: str, role_id: int) -> HttpResponse:
        org = get_managed_org_or_404(request, org_uid)
        if request.method not in ("GET", "HEAD", "POST"):
            return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
        role = _get_custom_role(org, role_id)
        form = RenameStackRoleForm(request.POST or None, initial={"name": role.name})
        if request.method == "POST" and form.is_valid():
            old = role.name
            try:
                role = services.rename_stack_role(role, form.cleaned_data["name"], actor=request.user)
            except services.ServiceError as exc:
                form.add_error("name", str(exc))
            else:
                messages.success(request, f"Stack role “{old}” is now called “{role.name}”.")
                return redirect(reverse("admin:org-settings-stacks", args=[org.uid]) + "#stack-roles")
        context = org_settings_context(request, site, org, "stacks", role=role, form=form,
                                       title=f"Rename stack role {role.name}")
        return TemplateResponse(request, "admin/orgdesk/stack_role_rename.html", context,
                                status=400 if form.errors else 200)

    return view


def stack_role_delete_view(site):
    def view(request: HttpRequest, org_uid: str, role_id: int) -> HttpResponse:
        org = get_managed_org_or_404(request, org_uid)
        if request.method not in ("GET", "HEAD", "POST"):
            return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
        role = _get_custom_role(org, role_id)
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
                    request, f"Stack role “{name}” was deleted; {n:,}{'+' if usage.members_capped else ''} "
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


def get_urls(site) -> list:
    wrap = site.admin_view
    urls = [
        path("members/<int:membership_id>/", wrap(member_view(site)), name="member-detail"),
        path("members/picker/", wrap(member_picker_view(site)), name="member-picker"),
        path("stacks/<int:stack_id>/rename/", wrap(stack_rename_view(site)), name="stack-rename"),
        path("stacks/<int:stack_id>/delete/", wrap(stack_delete_view(site)), name="stack-delete"),
        path("stack-roles/<int:role_id>/rename/", wrap(stack_role_rename_view(site)), name="stack-role-rename"),
        path("stack-roles/<int:role_id>/delete/", wrap(stack_role_delete_view(site)), name="stack-role-delete"),
    ]
    for action in MEMBER_ACTIONS:
        urls.append(
            path(f"members/<int:membership_id>/{action}/", wrap(member_action_view(site, action=action)),
                 name=f"member-{action}")
        )
    return urls
