"""Organization Settings > Stacks: the one rename page of an org's named thing on the tab (a stack, a
custom stack role): GET shows the form with the current name, POST renames
through organizations.services and goes back to the tab; a name that is taken
or empty is a form error (400). The tenant gate comes first: a Member or another
org's admin gets a 404, and so does another org's stack or a built-in role."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from organizations import services
from organizations.forms import RenameStackForm, RenameStackRoleForm
from organizations.models import Organization, Stack, StackRole
from organizations.permissions import get_managed_org_or_404

from .shell import org_settings_context


def get_stack(org: Organization, stack_id: int) -> Stack:
    return get_object_or_404(Stack, organization=org, pk=stack_id)


def get_custom_role(org: Organization, role_id: int) -> StackRole:
    """A custom stack role of this org; a built-in role (no org) or another org's is a 404."""
    return get_object_or_404(StackRole, organization=org, builtin=False, pk=role_id)


@dataclass(frozen=True)
class Renamable:
    noun: str  # in the heading, the title and the message
    element_id: str  # the page's element ids: "<element_id>" and "<element_id>-form"
    explanation: str  # what happens to what points at it
    form_class: type[forms.Form]  # a `name` field as long as the model's
    get: Callable[[Organization, int], models.Model]
    rename: Callable[..., models.Model]
    tab_anchor: str = ""


STACK = Renamable(
    noun="stack", element_id="stack-rename", form_class=RenameStackForm,
    explanation="Members keep their roles on it; group mappings keep pointing at it.",
    get=get_stack, rename=services.rename_stack,
)
STACK_ROLE = Renamable(
    noun="stack role", element_id="stack-role-rename", form_class=RenameStackRoleForm,
    explanation="Members keep it under its new name; group mappings keep granting it.",
    get=get_custom_role, rename=services.rename_stack_role, tab_anchor="#stack-roles",
)


def rename_view(site, kind: Renamable):
    @require_http_methods(["GET", "HEAD", "POST"])
    def view(request: HttpRequest, org_uid: str, pk: int) -> HttpResponse:
        org = get_managed_org_or_404(request, org_uid)
        renamed = kind.get(org, pk)
        tab = reverse("admin:org-settings-stacks", args=[org.uid]) + kind.tab_anchor
        form = kind.form_class(request.POST or None, initial={"name": renamed.name})
        if request.method == "POST" and form.is_valid():
            old = renamed.name
            try:
                renamed = kind.rename(renamed, form.cleaned_data["name"], actor=request.user)
            except services.ServiceError as exc:
                form.add_error("name", str(exc))
            else:
                messages.success(request, f"{kind.noun.capitalize()} \"{old}\" is now called \"{renamed.name}\".")
                return redirect(tab)
        context = org_settings_context(request, site, org, "stacks", kind=kind, renamed=renamed, form=form,
                                       cancel_url=tab, title=f"Rename {kind.noun} {renamed.name}")
        return TemplateResponse(request, "admin/orgdesk/rename.html", context, status=400 if form.errors else 200)

    return view
