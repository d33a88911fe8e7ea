"""How the access engine hears about changes: receivers of the signals the lower
apps send (organizations.signals, scim.signals), connected in
MappingsConfig.ready. Neither organizations nor scim imports mappings
(docs/ARCHITECTURE.md, "Apps"); each receiver hands over to mappings.services."""
from __future__ import annotations

from django.db.models import Q
from django.http import HttpRequest
from django.template.loader import render_to_string

from organizations import signals as org_signals
from organizations.models import Organization
from scim import signals as scim_signals

from . import access, services
from .admin_views import SECTION_TEMPLATE, scim_tab_context
from .models import GroupMapping


def on_stack_created(sender, *, stack, actor, **kwargs) -> None:
    services.stack_created(stack, actor=actor)


def on_member_changed_by_hand(sender, *, membership, actor, **kwargs) -> None:
    """Its manual role changed (by hand): derive its access again."""
    services.recompute_memberships([membership.pk], actor=actor)


def on_member_active_changed(sender, *, membership, active, actor, **kwargs) -> None:
    """Deactivated or reactivated (by hand or over SCIM; the sender locked and read
    the row): only what that requires is read and written (mappings.access)."""
    if active:
        access.recompute_locked(membership, actor=actor)
    else:
        access.apply_deactivation(membership, actor=actor)


def on_group_membership_changed(sender, *, organization, member_ids, actor, group_id=None, **kwargs) -> None:
    services.group_members_changed(member_ids, actor=actor, group_id=group_id, organization=organization)


def group_mapping_section(sender, *, request: HttpRequest, organization: Organization, **kwargs) -> str:
    """The Group Mapping section of the SCIM tab (mappings.admin_views builds its context)."""
    context = {"org": organization, **scim_tab_context(request, organization)}
    return render_to_string(SECTION_TEMPLATE, context, request=request)


# Names of the mappings that use a stack role, on its delete confirmation.
ROLE_USERS_SHOWN = 10


def mappings_using_role(sender, *, role, **kwargs) -> tuple[list[str], int]:
    """The mappings that name the stack role (all stacks or one stack): a few of
    their group names and how many in all."""
    using = (
        GroupMapping.objects.filter(Q(all_stacks_role=role) | Q(stack_roles__role=role))
        .values_list("group__display_name", flat=True)
        .distinct()
        .order_by("group__display_name")
    )
    names = list(using[: ROLE_USERS_SHOWN + 1])
    total = len(names) if len(names) <= ROLE_USERS_SHOWN else using.count()
    return names[:ROLE_USERS_SHOWN], total


def connect() -> None:
    org_signals.stack_created.connect(on_stack_created, dispatch_uid="mappings-stack-created")
    org_signals.manual_role_changed.connect(on_member_changed_by_hand, dispatch_uid="mappings-manual-role")
    org_signals.membership_active_changed.connect(on_member_active_changed, dispatch_uid="mappings-member-active")
    scim_signals.group_membership_changed.connect(on_group_membership_changed, dispatch_uid="mappings-group-members")
    scim_signals.scim_tab_sections.connect(group_mapping_section, dispatch_uid="mappings-scim-tab-section")
    org_signals.stack_role_in_use.connect(mappings_using_role, dispatch_uid="mappings-stack-role-in-use")
