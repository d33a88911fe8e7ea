from __future__ import annotations

from django import forms

from organizations.forms import ActionForm

from .models import SIGNIN_NAME_RE


class SsoStartForm(forms.Form):
    identifier = forms.CharField(
        label="Organization sign-in name or work e-mail",
        max_length=254,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username", "spellcheck": "false"}),
    )

    def clean_identifier(self) -> str:
        return self.cleaned_data["identifier"].strip()


class SigninNameForm(ActionForm):
    action = "name"
    signin_name = forms.RegexField(
        regex=SIGNIN_NAME_RE,
        max_length=50,
        label="SSO sign-in name",
        help_text="Lowercase letters, digits and hyphens. People type it at \"Sign in with SSO\"; it cannot change later.",
        error_messages={"invalid": "Use lowercase letters, digits and hyphens (not at the start or end)."},
    )


class MetadataForm(ActionForm):
    action = "metadata"
    metadata_xml = forms.CharField(
        label="IdP metadata XML", required=False, widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"})
    )
    metadata_file = forms.FileField(label="or upload the metadata file", required=False)

    def clean(self):
        data = super().clean()
        upload = data.get("metadata_file")
        if upload is not None:
            if upload.size > 512 * 1024:
                raise forms.ValidationError("The metadata file is larger than 512 KB.")
            data["xml"] = upload.read()
        elif (data.get("metadata_xml") or "").strip():
            data["xml"] = data["metadata_xml"]
        else:
            raise forms.ValidationError("Paste the IdP metadata XML or choose the metadata file.")
        return data


class MetadataUrlForm(ActionForm):
    action = "metadata_url"
    metadata_url = forms.URLField(
        label="IdP metadata URL", max_length=1024, required=False, assume_scheme="https",
        help_text="HTTPS. Fetched now and every night, so a new signing certificate is trusted as soon as the "
                  "identity provider publishes it. Leave empty to stop refreshing (the current values stay).",
    )


class IdentityProviderForm(ActionForm):
    action = "idp"
    idp_sso_url = forms.URLField(label="Identity Provider Single Sign-On URL", max_length=1024, assume_scheme="https")
    idp_entity_id = forms.CharField(label="Identity Provider Issuer (entity ID)", max_length=1024)
    idp_x509_cert = forms.CharField(
        label="X.509 signing certificate (PEM or base64)",
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        max_length=20000,
    )
    idp_x509_cert_next = forms.CharField(
        label="Next signing certificate (optional)", required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}), max_length=20000,
        help_text="During a rollover: the identity provider's new (or previous) certificate, trusted next to the "
                  "first until it expires.",
    )
    idp_slo_url = forms.URLField(
        label="Identity Provider Single Logout URL (optional)", max_length=1024, required=False,
        assume_scheme="https", help_text="Sign out then also signs the person out at the identity provider.",
    )


class OptionsForm(ActionForm):
    action = "options"
    jit_provisioning = forms.BooleanField(
        required=False,
        label="Create people at their first sign-in (as Member) when SCIM is off",
    )


class SecurityOptionsForm(ActionForm):
    action = "security"
    sign_authn_requests = forms.BooleanField(
        required=False, label="Sign AuthnRequests (and logout messages) with Orgdesk's key",
    )
    want_assertions_encrypted = forms.BooleanField(
        required=False, label="Require encrypted assertions (to Orgdesk's certificate)",
    )


class SessionPolicyForm(ActionForm):
    action = "session"
    allow_idp_initiated = forms.BooleanField(
        required=False,
        label="Allow sign-in from the IdP's dashboard (IdP-initiated, such as the Okta tile)",
    )
    session_timeout_minutes = forms.IntegerField(
        label="Session timeout (minutes)", min_value=5, max_value=14 * 24 * 60,
        help_text="An SSO session for this organization ends this long after signing in; the next page goes back "
                  "through the identity provider.",
    )
