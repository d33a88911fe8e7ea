"""Provisioning activity: what the SCIM tab shows of recent SCIM calls.
Filled in by the SCIM API work."""
from __future__ import annotations


def activity_context(request, org) -> dict:
    """Extra context the SCIM tab passes to admin/scim/_provisioning_activity.html."""
    return {}
