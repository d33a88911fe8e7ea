"""Organization Settings > Members: the tab (list, filter, add a member, change
a role, transfer ownership), a member's page (role, deactivate, reactivate,
remove) with its confirmations, and the org-scoped JSON behind the member
pickers.

Every view starts with the tenant gate, so a Member or another org's admin gets
a 404 and nothing changes. Confirmations are pages: GET shows them, only POST
acts. Every change goes through organizations.services (which audits it)."""
from __future__ import annotations

from django.contrib import messages
from django.db.models import Prefetch, prefetch_related_objects
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET

from organizations import directory, services
from organizations.directory import MemberFilterForm
from organizations.forms import (
    FORM_ACTION_FIELD,
    ActionForm,
    AddMemberForm,
    ChangeRoleForm,
    MemberRoleForm,
    TransferOwnershipForm,
    member_version,
)
from organizations.guardrails import last_admin_message, last_capable_managers, self_loss_consequence
from organizations.models import Membership, Organization, OrgRole, StackAccess
from organizations.outcomes import LOSS_CONFIRMED_FIELD, Outcome, finish, lost_own_access, loss_confirmed
from organizations.permissions import can_manage, can_transfer_ownership, get_managed_org_or_404
from organizations.pickers import picker_response
from organizations.role_sources import annotate_org_role_sources, role_change_outcome
from organizations.signin.access import sso_signin_available as org_sso_signin_available
from organizations.signin.invitations import invite_member
from organizations.signin.members_tab import pending_invitations_context
from organizations.signin.saml.members import sso_link_context
from organizations.signin.ways_in import annotate_ways_in
from organizations.signin.ways_in import progress as bulk_invitation_progress

from .row_links import RowLinks
from .shell import handle_post, org_settings_context, render_tab, tab_forms

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
        member = directory.member_or_404(org, membership_id)
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
        member = directory.member_or_404(org, membership_id)
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


# The links of each row of the Members tab (row_links), back to the list it was opened from.
MEMBER_ROW_LINKS = {
    "detail": "admin:member-detail",
    "access": "admin:member-access",
    "deactivate": "admin:member-deactivate",
    "reactivate": "admin:member-reactivate",
    "remove": "admin:member-remove",
}


def members_view(site):
    def view(request: HttpRequest, org_uid: str) -> HttpResponse:
        org = get_managed_org_or_404(request, org_uid)
        can_transfer = can_transfer_ownership(request.user, org)
        classes: list[type[ActionForm]] = [AddMemberForm, ChangeRoleForm]
        if can_transfer:
            classes.append(TransferOwnershipForm)
        scoped = {"organization": org}
        forms = tab_forms(request, classes, **{"change-role": scoped, "transfer-ownership": scoped})

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
            member, role = data["membership"], data["role"]
            hidden = [(FORM_ACTION_FIELD, ChangeRoleForm.action), ("change-role-membership", str(member.pk)),
                      ("change-role-role", role)]
            return change_role_outcome(
                request, site, org, member, role, next_url=request.path, hidden_fields=hidden
            )

        def transfer(data: dict) -> str:
            m = services.transfer_ownership(org, data["membership"], actor=request.user, typed_name=data["typed_name"])
            return f"{m.user.email} is now the Owner of {org.name} and has been told by e-mail; you are now an Admin."

        handlers = {"add-member": add, "change-role": change}
        if can_transfer:
            handlers["transfer-ownership"] = transfer
        response = handle_post(request, forms, handlers)
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
        list_url = request.get_full_path()
        RowLinks(org.uid, MEMBER_ROW_LINKS, next_url=list_url).annotate(page.rows)
        RowLinks(org.uid, {"invite": "admin:member-invite"}).annotate(page.rows, "invite_links")
        return render_tab(
            request,
            site,
            "admin/orgdesk/org_settings_members.html",
            org,
            "members",
            page=page,
            memberships=page.rows,
            filter_form=filter_form,
            filtered=bool(params),
            list_url=list_url,
            add_form=forms["add-member"],
            change_role_form=forms["change-role"],
            transfer_form=forms.get("transfer-ownership"),
            sso_signin=org_sso_signin_available(org),
            bulk_invitations=bulk_invitation_progress(org),
            **pending_invitations_context(request, org),
        )

    return view


def already_member_message(org: Organization, member, list_url: str):
    """"Add a member" for someone who is one already: say in which state, and
    link to their page, where Reactivate or Send invitation is."""
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
