"""The SCIM API's views, one module per concern: `base` (request guards, the
generic resource CRUD, search), `users`, `groups` and `discovery`."""
from .base import NotImplementedView, RootSearchView, ScimApiView, note_activity, route_not_found, scim_json
from .discovery import ResourceTypesView, SchemasView, ServiceProviderConfigView
from .groups import GroupsSearchView, GroupsView
from .users import UsersSearchView, UsersView

__all__ = [
    "GroupsSearchView",
    "GroupsView",
    "NotImplementedView",
    "ResourceTypesView",
    "RootSearchView",
    "SchemasView",
    "ScimApiView",
    "ServiceProviderConfigView",
    "UsersSearchView",
    "UsersView",
    "note_activity",
    "route_not_found",
    "scim_json",
]
