"""The URLs of the Organization Settings pages of this package, mounted by the
admin site under orgs/<org_uid>/ (config.admin_site.OrgdeskAdminSite.get_urls).
The names are what templates and redirects reverse."""
from __future__ import annotations

from django.urls import path

from .audit import audit_log_view
from .general import general_view
from .members import MEMBER_ACTIONS, member_action_view, member_picker_view, member_view, members_view
from .rename import STACK, STACK_ROLE, rename_view
from .stack_grants import get_urls as stack_grant_urls
from .stacks import stack_delete_view, stack_role_delete_view, stacks_view


def get_urls(site) -> list:
    wrap = site.admin_view
    urls = [
        path("members/<int:membership_id>/", wrap(member_view(site)), name="member-detail"),
        path("members/picker/", wrap(member_picker_view(site)), name="member-picker"),
        path("stacks/<int:pk>/rename/", wrap(rename_view(site, STACK)), name="stack-rename"),
        path("stacks/<int:stack_id>/delete/", wrap(stack_delete_view(site)), name="stack-delete"),
        path("stack-roles/<int:pk>/rename/", wrap(rename_view(site, STACK_ROLE)), name="stack-role-rename"),
        path("stack-roles/<int:role_id>/delete/", wrap(stack_role_delete_view(site)), name="stack-role-delete"),
    ]
    for action in MEMBER_ACTIONS:
        urls.append(
            path(f"members/<int:membership_id>/{action}/", wrap(member_action_view(site, action=action)),
                 name=f"member-{action}")
        )
    return urls + [
        path("settings/audit/", wrap(audit_log_view(site)), name="org-settings-audit"),
        path("settings/", wrap(general_view(site)), name="org-settings"),
        path("settings/members/", wrap(members_view(site)), name="org-settings-members"),
        path("settings/stacks/", wrap(stacks_view(site)), name="org-settings-stacks"),
    ] + stack_grant_urls(site)
