"""Recovery codes and the org's two-factor policy. The TOTP devices themselves
are django-otp's TOTPDevice (django_otp.plugins.otp_totp)."""
from __future__ import annotations

from django.conf import settings
from django.db import models

from organizations.models import Organization


class RecoveryCode(models.Model):
    """One one-time recovery code, stored only as the SHA-256 of its normalised
    text (codes are random, 50 bits each: no salt needed). Used once: used_at."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mfa_recovery_codes")
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "code_hash"], name="mfa_recovery_user_hash")]

    def __str__(self) -> str:
        return f"recovery code {self.pk} of user {self.user_id}"


class OrgMfaPolicy(models.Model):
    """Whether the org requires two-factor authentication of its members'
    password sign-ins (the Owner's switch on Organization Settings > General)."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="mfa_policy")
    required = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "two-factor policy"
        verbose_name_plural = "two-factor policies"

    def __str__(self) -> str:
        return f"two-factor {'required' if self.required else 'optional'} in {self.organization}"
