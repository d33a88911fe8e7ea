"""The Group Mapping form of the SCIM tab. Choices are scoped to the org, so an
id of another org's group, stack or role posted by hand is a form error."""
from __future__ import annotations

from django import forms

from django.urls import reverse

from organizations.models import Organization, Stack, StackRole
from organizations.pickers import RemoteSelect
from scim.models import ScimGroup

from .models import MAPPABLE_ORG_ROLES, GroupMapping

STACK_FIELD_PREFIX = "stack_"


STALE_MAPPING = "This mapping changed since you opened this page; review it and try again."


def mapping_version(mapping: GroupMapping | None) -> str:
    """The version of a mapping an edit page was opened at (its id and the
    updated_at every save moves); "" for no mapping. Compared when the edit is
    posted, so an edit made on a stale page is refused."""
    return f"{mapping.pk}:{mapping.updated_at.isoformat()}" if mapping is not None else ""


class GroupMappingForm(forms.Form):
    group = forms.ModelChoiceField(
        queryset=ScimGroup.objects.none(),
        label="SCIM Group",
        empty_label="Choose a group pushed by your identity provider",
    )
    org_role = forms.ChoiceField(choices=MAPPABLE_ORG_ROLES, label="Organization Role", initial="member")
    all_stacks_role = forms.ModelChoiceField(
        queryset=StackRole.objects.none(),
        required=False,
        label="All stacks",
        empty_label="No role on all stacks",
        help_text="Applies to every stack, including stacks created later.",
    )

    # The version of the mapping the edit page was opened at (mapping_version).
    version = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, org: Organization, *args, mapping: GroupMapping | None = None, **kwargs) -> None:
        self.org = org
        self.stacks = list(Stack.objects.filter(organization=org))
        if mapping is not None:
            initial = kwargs.setdefault("initial", {})
            initial.update(
                {
                    "version": mapping_version(mapping),
                    "group": mapping.group_id,
                    "org_role": mapping.org_role,
                    "all_stacks_role": mapping.all_stacks_role_id,
                    **{f"{STACK_FIELD_PREFIX}{sr.stack_id}": sr.role_id for sr in mapping.stack_roles.all()},
                }
            )
        super().__init__(*args, **kwargs)
        roles = StackRole.available_to(org)
        group = self.fields["group"]
        group.queryset = ScimGroup.objects.filter(organization=org).order_by("display_name", "pk")
        # A searchable picker: an org may have 10,000 groups, the page holds the chosen one only.
        group.widget = RemoteSelect(reverse("admin:scim-group-picker", args=[org.uid]), placeholder=group.empty_label)
        group.widget.choices = group.choices
        group.widget.is_required = True
        self.fields["all_stacks_role"].queryset = roles
        # One query for the roles, however many stacks: a ModelChoiceField per
        # stack would run its queryset once per select.
        self.roles = {role.pk: role for role in roles}
        choices = [("", "No role")] + [(pk, role.name) for pk, role in self.roles.items()]
        for stack in self.stacks:
            self.fields[f"{STACK_FIELD_PREFIX}{stack.pk}"] = forms.TypedChoiceField(
                choices=choices, coerce=int, required=False, empty_value=None, label=stack.name
            )

    def refuse_if_stale(self) -> bool:
        """A valid form posted from an edit page: True (with a form error, and the
        version brought up to date so a second submit applies) when the group's
        mapping changed since the page was opened."""
        posted = self.cleaned_data.get("version") or ""
        if not posted:
            return False  # the create form, or a client that does not send one
        current = mapping_version(GroupMapping.objects.filter(group=self.cleaned_data["group"]).first())
        if posted == current:
            return False
        self.add_error(None, STALE_MAPPING)
        self.data = self.data.copy()
        self.data["version"] = current
        return True

    def stack_fields(self):
        return [self[f"{STACK_FIELD_PREFIX}{stack.pk}"] for stack in self.stacks]

    def clean(self):
        cleaned = super().clean()
        known = {f"{STACK_FIELD_PREFIX}{stack.pk}" for stack in self.stacks}
        foreign = [
            key for key in self.data if key.startswith(STACK_FIELD_PREFIX) and key not in known and self.data.get(key)
        ]
        if foreign:
            raise forms.ValidationError(
                "A stack in this form does not belong to this organization.", code="foreign_stack"
            )
        return cleaned

    def stack_roles(self) -> dict[Stack, StackRole | None]:
        chosen = {stack: self.cleaned_data.get(f"{STACK_FIELD_PREFIX}{stack.pk}") for stack in self.stacks}
        return {stack: self.roles[role_id] if role_id is not None else None for stack, role_id in chosen.items()}


class GroupMappingFilterForm(forms.Form):
    """Only here to parse `?edit_mapping=<id>` safely."""

    edit_mapping = forms.IntegerField(required=False, min_value=1)
