"""Group Mapping section of the SCIM tab, and the member access ("why") page.
Filled in by the Group mapping work."""
from __future__ import annotations


def scim_tab_context(request, org) -> dict:
    """Extra context the SCIM tab passes to admin/mappings/_group_mapping_section.html."""
    return {}


def get_urls(site):
    return []
