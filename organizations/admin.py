"""The raw model admin for organizations, members, stacks, stack roles and the
audit log: for operators (superusers) only.

Owners and Admins run their orgs in Organization Settings (the General, Members,
Stacks, SCIM, Single Sign-On and Audit log tabs), never here: every ModelAdmin
below answers 403 to them and lists nothing on the admin index. The querysets
stay scoped to managed orgs all the same (for a superuser that is every org),
so a permission slip would still not show another tenant. Saves go through
organizations.services."""
from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.paginator import Paginator
from django.utils.functional import cached_property
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.http import HttpRequest

from . import permissions, services
from .admin_filters import ActionKindFilter, ManagedOrganizationFilter
from .audit_log import sentence
from .directory import MIN_SEARCH_LENGTH, search_members
from .guardrails import last_capable_managers
from .paging import COUNT_CAP, capped_count
from .forms import (
    MembershipAddForm,
    MembershipChangeForm,
    OrganizationAddForm,
    OrganizationChangeForm,
    OrgdeskUserChangeForm,
    OrgdeskUserCreationForm,
    StackAddForm,
    StackRoleAddForm,
)
from .models import AuditEvent, Membership, Organization, OrgRole, Stack, StackAccess, StackRole, User
from .signin.invitations import invite_member

class CappedCountPaginator(Paginator):
    """Counts at most COUNT_CAP + 1 rows: a search or filter over 100,000 members
    must not cost a full count on every page."""

    @cached_property
    def count(self) -> int:
        return capped_count(self.object_list, COUNT_CAP)[0]


class BoundedChangeListMixin:
    """Changelists of big tables: no second count of the unfiltered table, an
    exact count only when unfiltered (an index-only scan), a capped one otherwise."""

    show_full_result_count = False
    list_per_page = 50

    always_capped = False  # tables that grow without bound (the audit log)

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        filtered = any(k not in ("p", "o") for k in request.GET)
        cls = CappedCountPaginator if filtered or self.always_capped else Paginator
        return cls(queryset, per_page, orphans, allow_empty_first_page)


class TenantScopedAdmin(admin.ModelAdmin):
    """Permissions by org role. `org_field` is the lookup from the model to its
    Organization ("" for Organization itself)."""

    org_field = "organization"
    # Foreign keys limited to the orgs the user manages, by the lookup to the org
    # from the related model.
    scoped_foreign_keys = {"organization": "", "membership": "organization", "stack": "organization"}

    def _org_id(self, obj) -> int | None:
        return obj.pk if not self.org_field else getattr(obj, f"{self.org_field}_id")

    def _may_manage(self, request: HttpRequest, obj=None) -> bool:
        """Operators only: an Owner or Admin uses Organization Settings."""
        if not permissions.is_operator(request.user):
            return False
        return permissions.may_manage_org_id(request, None if obj is None else self._org_id(obj))

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return permissions.scope_to_managed(request, super().get_queryset(request), self.org_field)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._may_manage(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._may_manage(request, obj)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._may_manage(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._may_manage(request)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._may_manage(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        lookup = self.scoped_foreign_keys.get(db_field.name)
        if lookup is not None and "queryset" not in kwargs:
            qs = db_field.remote_field.model._default_manager.all()
            kwargs["queryset"] = permissions.scope_to_managed(request, qs, lookup)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ServiceFormMixin:
    """Saves through a service while the form validates, so a ServiceError (a rule
    the domain refuses) becomes a form error rather than a 500. The admin runs the
    whole change view in one transaction; render_change_form rolls it back if the
    page is re-rendered anyway. Subclasses implement `service_save`."""

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        admin_self = self

        class ServiceForm(form_class):
            def _post_clean(self):
                super()._post_clean()
                if self.errors:
                    return
                try:
                    self._service_result = admin_self.service_save(request, self.instance, self, change)
                except services.ServiceError as exc:
                    self.add_error(None, str(exc))

        return ServiceForm

    def service_save(self, request, obj, form, change):  # pragma: no cover - abstract
        raise NotImplementedError

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # A POST that ends up re-rendering the form (an inline formset was invalid)
        # must not keep what the service wrote while the form validated: roll back
        # the admin's changeform transaction.
        form = getattr(context.get("adminform"), "form", None)
        if request.method == "POST" and hasattr(form, "_service_result"):
            transaction.set_rollback(True)
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def save_form(self, request, form, change):
        # The service already saved; hand the admin the stored object.
        return getattr(form, "_service_result", form.instance)

    def save_model(self, request, obj, form, change):
        """Saved by the service while validating the form (inside the admin's
        transaction), so nothing is left to do here."""

    def save_related(self, request, form, formsets, change):
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)


@admin.register(Organization)
class OrganizationAdmin(ServiceFormMixin, TenantScopedAdmin):
    org_field = ""
    list_display = ["name", "uid", "plan", "scim_enabled", "created_at"]
    list_filter = ["plan", "scim_enabled"]
    search_fields = ["name", "uid"]
    readonly_fields = ["uid", "scim_enabled", "created_at"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = OrganizationChangeForm if obj else OrganizationAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "plan", "owner_email"]
        return ["name", "uid", "plan", "scim_enabled", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(self.readonly_fields)
        if not permissions.is_operator(request.user):
            readonly.append("plan")  # the plan is what the customer pays for
        return readonly

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A new org has a new Owner; only operators create them here (or create_org).
        return permissions.is_operator(request.user)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # no service deletes an org and its audit trail

    def service_save(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            return services.create_organization(
                data["name"], owner_email=data["owner_email"], plan=data["plan"], actor=request.user
            )
        current = Organization.objects.get(pk=obj.pk)
        if data["name"] != current.name:
            services.rename_organization(current, data["name"], actor=request.user)
        if "plan" in data and data["plan"] != current.plan:
            services.change_plan(current, data["plan"], actor=request.user)
        return current


class StackAccessInline(admin.TabularInline):
    """What a member can do on which stack and where it came from; read-only
    here because grants go through services (and SCIM rows belong to the engine)."""

    model = StackAccess
    fields = ["stack", "role", "source", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("stack", "role")

    def has_view_permission(self, request, obj=None) -> bool:
        return True  # the parent admin already scoped obj to a managed org

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Membership)
class MembershipAdmin(BoundedChangeListMixin, ServiceFormMixin, TenantScopedAdmin):
    list_display = ["email", "organization", "role", "manual_role", "active", "scim_managed", "created_at"]
    list_filter = ["role", "active", "scim_managed"]
    search_fields = ["scim_username", "given_name", "family_name", "display_name"]
    search_help_text = f"Part of the userName (e-mail) or name, at least {MIN_SEARCH_LENGTH} characters."
    list_select_related = ["user", "organization"]
    autocomplete_fields = ["organization"]
    inlines = [StackAccessInline]
    # No "transfer ownership" action: ownership passes only on the Members tab,
    # after the Owner types the org's name (services.transfer_ownership).

    @admin.display(ordering="user__email", description="e-mail")
    def email(self, obj: Membership) -> str:
        return obj.user.email

    def get_search_results(self, request, queryset, search_term):
        """The Members tab's indexed search, not Django's icontains on every field
        (a scan of 100,000 rows); a shorter term matches the start of the userName."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if len(term) < MIN_SEARCH_LENGTH:
            return queryset.alias(_u=Lower("scim_username")).filter(_u__startswith=term.lower()), False
        return search_members(queryset, term), False

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = MembershipChangeForm if obj else MembershipAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["organization", "email", "role"]
        # "email", not "user": the account admin is for superusers only.
        fields = ["email", "organization", "role", "active", "scim_username", "scim_external_id"]
        if obj.role != OrgRole.OWNER:
            fields.insert(3, "manual_role")
        return fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["email", "organization", "role", "active", "scim_username", "scim_external_id"]

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def has_change_permission(self, request, obj=None) -> bool:
        # The Owner's role only changes by transferring ownership.
        if obj is not None and obj.role == OrgRole.OWNER:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.role == OrgRole.OWNER:
            return False
        return super().has_delete_permission(request, obj)

    def service_save(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:  # adding by hand sends an invitation, as the Members tab does
            membership, _ = invite_member(data["organization"], data["email"], role=data["role"], actor=request.user)
            return membership
        current = Membership.objects.get(pk=obj.pk)
        if data["manual_role"] != current.manual_role:
            return services.change_role(current, data["manual_role"], actor=request.user)
        return current

    # The admin's delete page is the confirmation (confirmed=True); the last
    # Owner/Admin who can sign in is listed as protected by get_deleted_objects.
    def delete_model(self, request, obj):
        services.remove_member(obj, actor=request.user, confirmed=True)

    def delete_queryset(self, request, queryset):
        for membership in queryset.select_related("user", "organization"):
            services.remove_member(membership, actor=request.user, confirmed=True)

    def get_deleted_objects(self, objs, request):
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Stack access rows go with the membership; our permissions are org roles.
        owners = [m for m in objs if m.role == OrgRole.OWNER]
        if owners:
            protected = list(protected) + [f"{m} (the Owner: transfer ownership first)" for m in owners]
        last = last_capable_managers([m for m in objs if m.role != OrgRole.OWNER])
        if last:
            protected = list(protected) + [f"{m} (the last Owner or Admin who can sign in)" for m in last]
        return deleted, model_count, set(), protected


@admin.register(Stack)
class StackAdmin(BoundedChangeListMixin, ServiceFormMixin, TenantScopedAdmin):
    list_display = ["name", "organization", "created_at"]
    search_fields = ["name", "organization__name"]
    list_select_related = ["organization"]
    autocomplete_fields = ["organization"]
    form = StackAddForm

    def get_readonly_fields(self, request, obj=None):
        return ["organization", "name", "created_at"] if obj is not None else []

    def has_change_permission(self, request, obj=None) -> bool:
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # no service removes a stack and its access yet

    def service_save(self, request, obj, form, change):
        data = form.cleaned_data
        return services.create_stack(data["organization"], data["name"], actor=request.user)


@admin.register(StackRole)
class StackRoleAdmin(ServiceFormMixin, TenantScopedAdmin):
    """Built-in roles are shared by every org and read-only; custom roles belong to one."""

    list_display = ["name", "organization", "builtin"]
    list_filter = ["builtin"]
    search_fields = ["name"]
    list_select_related = ["organization"]
    autocomplete_fields = ["organization"]
    form = StackRoleAddForm

    def get_queryset(self, request):
        qs = admin.ModelAdmin.get_queryset(self, request)
        return permissions.scope_to_managed(request, qs, "organization", shared=True)

    def _may_manage(self, request, obj=None) -> bool:
        if obj is not None and obj.organization_id is None:
            return super()._may_manage(request)  # a built-in: visible to every manager
        return super()._may_manage(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return ["organization", "name", "builtin"] if obj is not None else []

    def has_change_permission(self, request, obj=None) -> bool:
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def service_save(self, request, obj, form, change):
        data = form.cleaned_data
        return services.create_stack_role(data["organization"], data["name"], actor=request.user)


@admin.register(AuditEvent)
class AuditEventAdmin(BoundedChangeListMixin, TenantScopedAdmin):
    """Read-only: the trail is written by services, never edited. No date
    hierarchy and no filter listing every distinct action: both read the whole
    table on each page."""

    list_display = ["created_at", "organization", "what_happened", "action", "client_address"]
    list_filter = [ManagedOrganizationFilter, ActionKindFilter, "actor_type"]
    search_fields = ["actor_label", "target_label", "=request_id"]
    always_capped = True  # a recompute writes one entry per member: millions over time
    list_select_related = ["organization"]
    # Newest first on the primary key: created_at has no index of its own
    # (organizations.models.AuditEvent), and ids grow with it.
    ordering = ["-id"]

    @admin.display(description="what happened")
    def what_happened(self, obj: AuditEvent) -> str:
        """The sentence the org's Audit log tab shows (organizations.audit_log)."""
        return sentence(obj)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Accounts span orgs, so only superusers manage them here."""

    form = OrgdeskUserChangeForm
    add_form = OrgdeskUserCreationForm
    list_display = ["email", "first_name", "last_name", "is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "first_name", "last_name"]
    ordering = ["email"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "first_name", "last_name", "usable_password", "password1", "password2")}),)
    filter_horizontal = ()
    list_filter = ["is_staff", "is_superuser", "is_active"]

    def has_module_permission(self, request) -> bool:
        return permissions.is_operator(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return permissions.is_operator(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        return permissions.is_operator(request.user)

    def has_add_permission(self, request) -> bool:
        return permissions.is_operator(request.user)

    def has_delete_permission(self, request, obj=None) -> bool:
        return permissions.is_operator(request.user)
