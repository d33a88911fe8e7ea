"""List filters that only ever offer the orgs the viewer manages. Django's
RelatedFieldListFilter would list every Organization in the database (their
names leaking to other tenants' admins), so the admin uses this instead."""
from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from . import permissions


class ManagedOrganizationFilter(admin.SimpleListFilter):
    title = "organization"
    parameter_name = "org"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        orgs = permissions.managed_organizations(request.user)  # every org for a superuser
        return [(org.uid, org.name) for org in orgs.order_by("name", "pk").only("uid", "name")[:200]]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        # The changelist queryset is already limited to managed orgs, so an
        # unmanaged uid here matches nothing.
        return queryset.filter(organization__uid=self.value()) if self.value() else queryset


class ActionKindFilter(admin.SimpleListFilter):
    """Audit events by kind of action. A fixed list: Django's own filter on
    `action` would read every distinct action of the table on each page."""

    title = "action"
    parameter_name = "kind"
    KINDS = [
        ("membership.", "Members changed by hand"),
        ("scim.user.", "Users changed over SCIM"),
        ("scim.group.", "Groups changed over SCIM"),
        ("group_mapping.", "Group mappings"),
        ("access.", "Access re-derived"),
        ("stack", "Stacks and stack roles"),
        ("organization.", "Organization"),
        ("scim.", "SCIM settings and apps"),
    ]

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return self.KINDS

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value in dict(self.KINDS):
            return queryset.filter(action__startswith=value)
        return queryset
