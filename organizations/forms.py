"""Forms for the Organization Settings tabs and the tenant-scoped admin.

Forms only parse input; the views hand the cleaned data to organizations.services,
which decides and writes. A ServiceError from a service becomes a form error."""
from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.urls import reverse

from .models import GRANTABLE_ORG_ROLES, Membership, Organization, OrgRole, Stack, StackRole, User
from .pickers import RemoteSelect

# Roles that can be granted by hand: the Owner only changes by a transfer.
GRANTABLE_ROLES = GRANTABLE_ORG_ROLES

# The hidden field that says which of a tab's several forms was posted.
FORM_ACTION_FIELD = "form"


class ActionForm(forms.Form):
    """A settings-tab form; `action` names it in the POST so one view can serve several."""

    action = ""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", self.action)
        super().__init__(*args, **kwargs)


class RenameOrganizationForm(ActionForm):
    action = "rename"
    name = forms.CharField(max_length=200, label="Organization name")


class AddMemberForm(ActionForm):
    action = "add-member"
    email = forms.EmailField(label="E-mail", max_length=254)
    role = forms.ChoiceField(choices=GRANTABLE_ROLES, initial=OrgRole.MEMBER)
    # Asked for: the member is a SCIM user of the org, and IdPs read names.
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)


class _MembershipChoiceForm(ActionForm):
    """A form picking one membership of this org (never another org's), with a
    searchable picker: the page holds the chosen member only, never the org."""

    picker_scope = ""
    membership = forms.ModelChoiceField(queryset=Membership.objects.none(), label="Member")

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["membership"]
        field.queryset = self.membership_queryset(organization)
        field.label_from_instance = lambda m: f"{m.user.email} ({m.get_role_display()})"
        url = reverse("admin:member-picker", args=[organization.uid])
        field.widget = RemoteSelect(f"{url}?scope={self.picker_scope}" if self.picker_scope else url)
        field.widget.choices = field.choices
        field.widget.is_required = field.required

    def membership_queryset(self, organization: Organization):
        return Membership.objects.filter(organization=organization).select_related("user")


class ChangeRoleForm(_MembershipChoiceForm):
    action = "change-role"
    picker_scope = "non-owner"
    role = forms.ChoiceField(choices=GRANTABLE_ROLES)

    def membership_queryset(self, organization: Organization):
        return super().membership_queryset(organization).exclude(role=OrgRole.OWNER)


class TransferOwnershipForm(_MembershipChoiceForm):
    action = "transfer-ownership"
    picker_scope = "transfer"
    typed_name = forms.CharField(
        label="Organization name", max_length=200,
        help_text="Type the organization's name to confirm. The current Owner becomes an Admin; only the new Owner "
        "can hand ownership on again.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def membership_queryset(self, organization: Organization):
        return super().membership_queryset(organization).exclude(role=OrgRole.OWNER).filter(active=True)


class SsoExceptionForm(_MembershipChoiceForm):
    """The SSO tab: a member who may keep signing in with a password in Strict mode."""

    action = "sso-exception"
    picker_scope = "non-owner"

    def membership_queryset(self, organization: Organization):
        return super().membership_queryset(organization).exclude(role=OrgRole.OWNER)


STALE_MEMBER = "This member changed since you opened this page; review it and try again."


def member_version(membership) -> str:
    """The version of a member its page was opened at: the updated_at every
    change of the membership moves (a role granted by hand, SCIM updates,
    (de)activation). Compared when the role edit is posted."""
    return membership.updated_at.isoformat()


class MemberRoleForm(forms.Form):
    """The role granted by hand, on a member's page."""

    role = forms.ChoiceField(choices=GRANTABLE_ROLES, label="Role granted by hand")
    # The version of the member the page was opened at (member_version).
    version = forms.CharField(widget=forms.HiddenInput, required=False)

    def refuse_if_stale(self, membership) -> bool:
        """True (with a form error, and the version brought up to date so a second
        submit applies) when the member changed since the page was opened. A
        post without a version (an old page, a script) is not refused."""
        posted = self.cleaned_data.get("version") or ""
        current = member_version(membership)
        if not posted or posted == current:
            return False
        self.add_error(None, STALE_MEMBER)
        self.data = self.data.copy()
        self.data["version"] = current
        return True


class RenameStackForm(forms.Form):
    name = forms.CharField(max_length=200, label="New name")


class CreateStackForm(ActionForm):
    action = "create-stack"
    name = forms.CharField(max_length=200, label="Stack name")


class CreateStackRoleForm(ActionForm):
    action = "create-stack-role"
    name = forms.CharField(max_length=100, label="Role name")


# --- ModelAdmin forms -------------------------------------------------------


class OrganizationChangeForm(forms.ModelForm):
    class Meta:
        model = Organization
        fields = ["name", "plan"]


class OrganizationAddForm(OrganizationChangeForm):
    """Creating an org always creates its Owner, so the form asks for one."""

    owner_email = forms.EmailField(label="Owner e-mail", max_length=254)


class MembershipAddForm(forms.ModelForm):
    """Adding a person by e-mail: the account is found or created by the service."""

    email = forms.EmailField(label="E-mail", max_length=254)
    role = forms.ChoiceField(choices=GRANTABLE_ROLES, initial=OrgRole.MEMBER)

    class Meta:
        model = Membership
        fields = ["organization"]


class MembershipChangeForm(forms.ModelForm):
    """Only the hand-granted role is edited here, and never to or from Owner."""

    manual_role = forms.ChoiceField(choices=GRANTABLE_ROLES, label="Role granted by hand")

    class Meta:
        model = Membership
        fields = ["manual_role"]


class StackAddForm(forms.ModelForm):
    class Meta:
        model = Stack
        fields = ["organization", "name"]


class StackRoleAddForm(forms.ModelForm):
    class Meta:
        model = StackRole
        fields = ["organization", "name"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A custom role always belongs to an org; built-ins come from a migration.
        if "organization" in self.fields:
            self.fields["organization"].required = True


class OrgdeskUserCreationForm(AdminUserCreationForm):
    """Names are asked for: every membership of the account is a SCIM user, and
    identity providers read names."""

    class Meta:
        model = User
        fields = ("email", "first_name", "last_name")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("first_name", "last_name"):
            self.fields[name].required = True


class OrgdeskUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"

