"""django-scim2 adapters for Orgdesk: a SCIM User is a Membership, a SCIM Group a
ScimGroup. Thin translation layer: parsing and rendering here, every write in
scim.provisioning. We keep django-scim2's PATCH driver (`handle_operations`,
op-name lower-casing, the `remove` needs a path rule) and override what it
gets wrong for real IdPs (docs/ARCHITECTURE.md, "Where each IdP quirk is handled")."""
from __future__ import annotations

from .adapter_base import absolute, get_membership_model, resource_location, resource_url, translate_service_errors
from .group_adapter import ScimGroupAdapter
from .user_adapter import ScimUserAdapter

__all__ = [
    "ScimGroupAdapter",
    "ScimUserAdapter",
    "absolute",
    "get_membership_model",
    "resource_location",
    "resource_url",
    "translate_service_errors",
]
