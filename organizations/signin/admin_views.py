"""The admin side of invitations: Resend and Revoke (the Members tab's
pending-invitations section is members_tab.py), Send invitation to a member
with no way in, the bulk "Send invitations to everyone without a way in", and
the SCIM tab's "Send invitations to provisioned members" switch."""
from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.http import urlencode

from organizations.permissions import get_managed_org_or_404
from organizations.models import Organization
from organizations.services import ServiceError
from organizations.directory import member_or_404
from organizations.settings_pages.members import _next_url

from . import invitations, ways_in
from .models import Invitation

def _post_only(request: HttpRequest) -> HttpResponse | None:
    return None if request.method == "POST" else HttpResponseNotAllowed(["POST"])


def _members_tab(org: Organization) -> HttpResponse:
    return redirect(reverse("admin:org-settings-members", args=[org.uid]) + "#pending-invitations")


def _invitation_action(request: HttpRequest, org_uid: str, invitation_id: int, act) -> HttpResponse:
    """The shared shape of Resend and Revoke: POST only, the tenant gate, the
    invitation of that org, the service's answer as a message, back to Members."""
    org = get_managed_org_or_404(request, org_uid)
    if refused := _post_only(request):
        return refused
    invitation = get_object_or_404(Invitation, pk=invitation_id, organization=org)
    try:
        message = act(invitation)
    except ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, message)
    return _members_tab(org)


def resend_view(request: HttpRequest, org_uid: str, invitation_id: int) -> HttpResponse:
    def act(invitation: Invitation) -> str:
        new = invitations.resend_invitation(invitation, actor=request.user)
        return f"A new invitation is on its way to {new.email}; the previous link no longer works."

    return _invitation_action(request, org_uid, invitation_id, act)


def revoke_view(request: HttpRequest, org_uid: str, invitation_id: int) -> HttpResponse:
    def act(invitation: Invitation) -> str:
        invitations.revoke_invitation(invitation, actor=request.user)
        return f"The invitation of {invitation.email} was revoked; its link no longer works."

    return _invitation_action(request, org_uid, invitation_id, act)


def member_invite_view(request: HttpRequest, org_uid: str, membership_id: int) -> HttpResponse:
    """"Send invitation" for a member with no way in (the Members tab's Sign-in
    column, or the member's page): one click, a POST, back where it came from."""
    org = get_managed_org_or_404(request, org_uid)
    if refused := _post_only(request):
        return refused
    member = member_or_404(org, membership_id)
    try:
        invitation = ways_in.send_invitation(member, actor=request.user)
    except ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"An invitation is on its way to {invitation.email}: its link lets them choose a password."
        )
    back = _next_url(request, org)
    if request.POST.get("back") == "member":
        return redirect(reverse("admin:member-detail", args=[org.uid, member.pk]) + "?" + urlencode({"next": back}))
    return redirect(back)


def bulk_invite_view(request: HttpRequest, org_uid: str) -> HttpResponse:
    """"Send invitations to everyone without a way in": a background task."""
    org = get_managed_org_or_404(request, org_uid)
    if refused := _post_only(request):
        return refused
    try:
        ways_in.start_bulk_invitations(org, actor=request.user)
    except ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, "Invitations are being sent to every member without a way in; the progress shows below."
        )
    return redirect(reverse("admin:org-settings-members", args=[org.uid]) + "#ways-in")


def provisioned_setting_view(request: HttpRequest, org_uid: str) -> HttpResponse:
    org = get_managed_org_or_404(request, org_uid)
    if refused := _post_only(request):
        return refused
    enabled = request.POST.get("invite_provisioned_members") == "on"
    invitations.set_invite_provisioned_members(org, enabled, actor=request.user)
    messages.success(
        request,
        "Members created over SCIM now get an invitation e-mail."
        if enabled
        else "Members created over SCIM no longer get an invitation e-mail.",
    )
    return redirect(reverse("admin:org-settings-scim", args=[org.uid]) + "#provisioned-invitations")


def get_urls(site) -> list:
    return [
        path("invitations/<int:invitation_id>/resend/", site.admin_view(resend_view), name="invitation-resend"),
        path("invitations/<int:invitation_id>/revoke/", site.admin_view(revoke_view), name="invitation-revoke"),
        path("members/<int:membership_id>/invite/", site.admin_view(member_invite_view), name="member-invite"),
        path("members/invite-all/", site.admin_view(bulk_invite_view), name="members-invite-all"),
        path(
            "settings/scim/provisioned-invitations/",
            site.admin_view(provisioned_setting_view),
            name="org-settings-provisioned-invitations",
        ),
    ]
