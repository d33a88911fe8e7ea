"""A domain an org claims, and whether it proved it (a TXT record). Thin: every
change goes through organizations.signin.domains.services (which audits it)."""
from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q

from organizations.models import Organization

RECORD_PREFIX = "_orgdesk-challenge"
VALUE_PREFIX = "orgdesk-domain-verification="


def new_token() -> str:
    return secrets.token_urlsafe(24)


class VerifiedDomain(models.Model):
    """`domain` is lower-case ASCII (IDNA, no trailing dot; services.normalize_domain).
    Several orgs may claim a domain (pending), one at a time holds it verified."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="domains")
    domain = models.CharField(max_length=253)
    # What the TXT record must hold: orgdesk-domain-verification=<token>. Public
    # once published; it proves control of the zone, not a secret.
    token = models.CharField(max_length=64, default=new_token, editable=False)
    verified_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    # What the last check found when it failed (the DNS answer, in words); "" when it passed.
    last_error = models.CharField(max_length=1000, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["domain"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "domain"], name="signin_domain_once_per_org"),
            models.UniqueConstraint(
                fields=["domain"], condition=Q(verified_at__isnull=False), name="signin_domain_verified_once"
            ),
        ]

    def __str__(self) -> str:
        return self.domain

    @property
    def verified(self) -> bool:
        return self.verified_at is not None

    @property
    def record_name(self) -> str:
        return f"{RECORD_PREFIX}.{self.domain}"

    @property
    def record_value(self) -> str:
        return f"{VALUE_PREFIX}{self.token}"
