"""An organization's SAML settings and the assertions already used. Thin: every
change goes through organizations.signin.saml.services (which audits it)."""
from __future__ import annotations

from django.core.validators import RegexValidator
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower

from organizations.models import Membership, Organization

SIGNIN_NAME_RE = r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$"
signin_name_validator = RegexValidator(
    SIGNIN_NAME_RE, "Use 1-50 lowercase letters, digits and hyphens (not at the start or end)."
)


class SsoSettings(models.Model):
    """One org's identity provider. `signin_name` is what people type at "Sign in
    with SSO"; it is fixed once created (bookmarks and IdP tiles point at it)."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="sso")
    signin_name = models.CharField(max_length=50, unique=True, validators=[signin_name_validator])
    idp_entity_id = models.CharField(max_length=1024, blank=True, default="")
    idp_sso_url = models.URLField(max_length=1024, blank=True, default="")
    # PEM of the IdP's signing certificate (public; never a private key).
    idp_x509_cert = models.TextField(blank=True, default="")
    # A second signing certificate trusted next to the first (the IdP's next or
    # previous one during a rollover), until it expires.
    idp_x509_cert_next = models.TextField(blank=True, default="")
    # The IdP's SingleLogoutService (HTTP-Redirect); empty: sign-out stays local.
    idp_slo_url = models.URLField(max_length=1024, blank=True, default="")
    # Where the IdP publishes its metadata; refreshed nightly (services.refresh_metadata).
    metadata_url = models.URLField(max_length=1024, blank=True, default="")
    metadata_refreshed_at = models.DateTimeField(null=True, blank=True)  # last success
    metadata_error = models.CharField(max_length=500, blank=True, default="")  # last failure, "" after a success
    metadata_error_at = models.DateTimeField(null=True, blank=True)
    # Expiry warnings already e-mailed: {"sha256": fingerprint, "days": [30, 7]}.
    cert_warnings_sent = models.JSONField(default=dict, blank=True)
    # The SP's own key pair (signed AuthnRequests, encrypted assertions),
    # generated at first need. The private key never leaves the server.
    sp_x509_cert = models.TextField(blank=True, default="")
    sp_private_key = models.TextField(blank=True, default="", editable=False)
    sign_authn_requests = models.BooleanField("Sign AuthnRequests", default=False)
    want_assertions_encrypted = models.BooleanField("Require encrypted assertions", default=False)
    enabled = models.BooleanField(default=False)
    enabled_at = models.DateTimeField(null=True, blank=True)
    # Members may only sign in through SSO; the Owner keeps the password (break-glass).
    strict = models.BooleanField(default=False)
    # Create an unknown person as a Member at first sign-in; never while SCIM is on.
    jit_provisioning = models.BooleanField(default=False)
    # IdP-initiated sign-in (the Okta dashboard tile): a response that answers no
    # AuthnRequest. Open to login CSRF by nature, so the Owner may refuse it.
    allow_idp_initiated = models.BooleanField("Allow sign-in from the IdP's dashboard", default=True)
    # An SSO session for this org ends this long after its sign-in; the next
    # request goes back through the IdP (organizations.signin.sessions).
    session_timeout_minutes = models.PositiveIntegerField(
        "Session timeout (minutes)",
        default=12 * 60,
        validators=[MinValueValidator(5), MaxValueValidator(14 * 24 * 60)],
    )
    last_test_at = models.DateTimeField(null=True, blank=True)
    last_test_ok = models.BooleanField(null=True, blank=True)
    last_test_summary = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "SSO settings"
        verbose_name_plural = "SSO settings"

    def __str__(self) -> str:
        return f"SSO of {self.organization_id} ({self.signin_name})"

    @property
    def idp_configured(self) -> bool:
        return bool(self.idp_entity_id and self.idp_sso_url and self.idp_x509_cert)


class SsoIdentity(models.Model):
    """A person's identity at one org's IdP, linked to their membership (and so
    their account) once, with the account holder's proof or because the org
    created the account (organizations.signin.saml.linking). The IdP signs people
    in only through these rows: a SCIM write (userName, e-mails) never changes
    which account a NameID opens. Removing the membership removes its links."""

    sso = models.ForeignKey(SsoSettings, on_delete=models.CASCADE, related_name="identities")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="sso_identities")
    name_id = models.CharField(max_length=1024)
    # How the link was proven: "owned" (the org created the account), "password",
    # "email" (a one-time link to the account's address), "invitation", "session".
    linked_by = models.CharField(max_length=20)
    created_at = models.DateTimeField(auto_now_add=True)
    last_signin_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "SSO identity"
        verbose_name_plural = "SSO identities"
        constraints = [
            models.UniqueConstraint("sso", Lower("name_id"), name="sso_identity_name_id_unique"),
            models.UniqueConstraint(fields=["sso", "membership"], name="sso_identity_one_per_member"),
        ]
        indexes = [models.Index(fields=["membership"], name="sso_identity_member_idx")]

    def __str__(self) -> str:
        return f"{self.name_id} at SSO {self.sso_id}"


class UsedAssertion(models.Model):
    """Assertion IDs already accepted, kept until their NotOnOrAfter: the replay
    cache's fallback when the shared cache (Redis) is missing or down."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    assertion_id = models.CharField(max_length=256)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "assertion_id"], name="saml_assertion_used_once"),
        ]


class SsoSession(models.Model):
    """A session an org's IdP signed in (written at sign-in, signing.sign_in):
    what single logout needs to find the sessions of a NameID, and the NameID
    and SessionIndex an SP-initiated LogoutRequest names."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey("organizations.User", on_delete=models.CASCADE, related_name="+")
    session_key = models.CharField(max_length=40)
    name_id = models.CharField(max_length=1024)
    session_index = models.CharField(max_length=256, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "session_key"], name="sso_session_once_per_org"),
        ]
        indexes = [
            models.Index(fields=["organization", "user"], name="sso_session_org_user_idx"),
            models.Index(fields=["session_key"], name="sso_session_key_idx"),
        ]
