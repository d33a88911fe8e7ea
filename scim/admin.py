"""Superuser-only admin for the marketplace catalog. Org admins never see it here:
they browse the catalog through Marketplace > Apps (scim.admin_views)."""
from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from organizations.permissions import is_operator

from .models import MarketplaceApp


class SuperuserOnlyAdmin(admin.ModelAdmin):
    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.has_module_permission(request)

    has_change_permission = has_view_permission

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_module_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # installations PROTECT their app; unlist it instead


@admin.register(MarketplaceApp)
class MarketplaceAppAdmin(SuperuserOnlyAdmin):
    list_display = ["name", "slug", "vendor", "listed", "position"]
    list_editable = ["listed", "position"]
    search_fields = ["name", "slug", "vendor"]
    prepopulated_fields = {"slug": ["name"]}
