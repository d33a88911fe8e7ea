"""An organization's SAML settings and the assertions already used. Thin: every
change goes through organizations.signin.saml.services (which audits it)."""
from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models

from organizations.models import Organization

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
    enabled = models.BooleanField(default=False)
    enabled_at = models.DateTimeField(null=True, blank=True)
    # Members may only sign in through SSO; the Owner keeps the password (break-glass).
    strict = models.BooleanField(default=False)
    # Create an unknown person as a Member at first sign-in; never while SCIM is on.
    jit_provisioning = models.BooleanField(default=False)
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
