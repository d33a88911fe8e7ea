"""Two-factor on other apps' pages without touching their views: the Members
tab's column (`mfa_enrolled`: one query for the page's accounts), the member
page's status and Reset button, and the General tab's policy switch."""
from __future__ import annotations

from django import template

from ..models import OrgMfaPolicy
from .. import services

register = template.Library()


@register.simple_tag
def mfa_enrolled(memberships) -> set[int]:
    """The ids of the accounts with two-factor on among these memberships (one query)."""
    return services.enrolled_user_ids(m.user_id for m in memberships)


@register.inclusion_tag("admin/signin_mfa/_member_row.html", takes_context=True)
def mfa_member_row(context, org, member) -> dict:
    request = context["request"]
    return {
        "org": org,
        "member": member,
        "enabled": services.has_mfa(member.user),
        "can_reset": services.reset_refusal(request.user, org, member) is None,
    }


@register.inclusion_tag("admin/signin_mfa/_policy.html", takes_context=True)
def mfa_policy_section(context, org) -> dict:
    request = context["request"]
    policy = OrgMfaPolicy.objects.filter(organization=org).first()
    return {
        "org": org,
        "required": bool(policy and policy.required),
        "can_change": services.can_set_policy(request.user, org),
        "csrf_token": context.get("csrf_token"),
    }
