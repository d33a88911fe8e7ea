"""The SCIM 2.0 API of one org, mounted at /scim/v2/organizations/<org_uid>/ (no
trailing slash in the base URL clients are given; `/Users` and `/Users/` both work).
Names are namespaced `scim_api:` so nothing can resolve django-scim2's org-less
`scim:*` names by accident."""
from django.urls import re_path

from . import views

app_name = "scim_api"

_ID = r"(?P<uuid>[^/]+)"

urlpatterns = [
    re_path(r"^\.search/?$", views.RootSearchView.as_view(), name="search"),
    re_path(r"^Users/\.search/?$", views.UsersSearchView.as_view(), name="users-search"),
    re_path(r"^Users/?$", views.UsersView.as_view(), name="users"),
    re_path(rf"^Users/{_ID}/?$", views.UsersView.as_view(), name="user"),
    re_path(r"^Groups/\.search/?$", views.GroupsSearchView.as_view(), name="groups-search"),
    re_path(r"^Groups/?$", views.GroupsView.as_view(), name="groups"),
    re_path(rf"^Groups/{_ID}/?$", views.GroupsView.as_view(), name="group"),
    re_path(r"^ServiceProviderConfig/?$", views.ServiceProviderConfigView.as_view(), name="service-provider-config"),
    re_path(r"^ResourceTypes/?$", views.ResourceTypesView.as_view(), name="resource-types"),
    re_path(rf"^ResourceTypes/{_ID}/?$", views.ResourceTypesView.as_view(), name="resource-type"),
    re_path(r"^Schemas/?$", views.SchemasView.as_view(), name="schemas"),
    re_path(rf"^Schemas/{_ID}/?$", views.SchemasView.as_view(), name="schema"),
    re_path(r"^(?:Bulk|Me)/?$", views.NotImplementedView.as_view(), name="not-implemented"),
    re_path(r"^.*$", views.route_not_found, name="not-found"),
]
