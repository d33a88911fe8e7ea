"""A comparable picture of every table a request could change, so a test can
assert "a refused request changed nothing" without knowing what it might have
touched. Columns that legitimately move on every authenticated call (a token's
last_used_at, the provisioning activity log, sessions) are left out."""
from __future__ import annotations

from typing import Any

from django.apps import apps

# (app_label.Model, columns left out)
WATCHED: tuple[tuple[str, frozenset[str]], ...] = (
    ("organizations.Organization", frozenset()),
    ("organizations.User", frozenset({"last_login"})),
    ("organizations.Membership", frozenset()),
    ("organizations.MembershipEmail", frozenset()),
    ("organizations.Stack", frozenset()),
    ("organizations.StackRole", frozenset()),
    ("organizations.StackAccess", frozenset()),
    ("organizations.AuditEvent", frozenset()),
    ("scim.AppInstallation", frozenset()),
    ("scim.SecretToken", frozenset({"last_used_at"})),
    ("scim.ScimGroup", frozenset()),
    ("scim.ScimGroupMember", frozenset()),
    ("mappings.GroupMapping", frozenset()),
    ("mappings.GroupMappingStackRole", frozenset()),
    ("mappings.RecomputeJob", frozenset()),
)


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every watched table, ordered by primary key."""
    state: dict[str, list[tuple[Any, ...]]] = {}
    for label, skipped in WATCHED:
        model = apps.get_model(label)
        columns = [f.attname for f in model._meta.concrete_fields if f.attname not in skipped]
        state[label] = [tuple(map(repr, row)) for row in model.objects.order_by("pk").values_list(*columns)]
    return state


def diff(before: dict, after: dict) -> dict[str, tuple[int, int]]:
    """Tables whose rows differ, with their row counts before and after (for messages)."""
    return {
        label: (len(before[label]), len(after[label]))
        for label in before
        if before[label] != after[label]
    }
