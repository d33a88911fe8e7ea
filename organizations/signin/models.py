"""Invitations: a one-time link that lets a person the org added get in.

Only a SHA-256 of the token is stored: a copy of the database never yields a
working link. The raw token exists only in the e-mail that carries it."""
from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from organizations.models import Membership, Organization


# Listed on the Members tab: not used and not ended, or ended only by the expiry sweep.
OPEN_OR_EXPIRED = Q(accepted_at__isnull=True) & (Q(revoked_at__isnull=True) | Q(revoked_reason="expired"))


class InvitationSource(models.TextChoices):
    MANUAL = "manual", "Added by hand"
    SCIM = "scim", "Provisioned over SCIM"


class InvitationQuerySet(models.QuerySet):
    def pending(self) -> "InvitationQuerySet":
        """Not used, not revoked, not expired."""
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now())


class Invitation(models.Model):
    """One invitation e-mail to one address for one org. A resend is a new row
    (the old one is revoked), so each link has exactly one life."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    # SET_NULL: removing the membership invalidates the link but keeps the row for the trail.
    membership = models.ForeignKey(
        Membership, on_delete=models.SET_NULL, null=True, blank=True, related_name="invitations"
    )
    email = models.CharField(max_length=254)  # the address it is bound to, as sent
    source = models.CharField(max_length=10, choices=InvitationSource.choices, default=InvitationSource.MANUAL)
    invited_by = models.CharField(max_length=255, blank=True, default="")  # actor label, for the e-mail
    # Set by the e-mail task just before it sends (a retry makes a new token:
    # the previous one was never delivered).
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    send_attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True, default="")
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=100, blank=True, default="")

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The Members tab's page of pending invitations, newest first, in the index's
            # own order (the id breaking ties): a page is the start of the org's range
            # even where the planner believes the org holds a row or two (an org
            # provisioned since the last ANALYZE), which otherwise read and sorted
            # every open invitation of the org for a page of 20.
            models.Index(fields=["organization", "-created_at", "-id"], condition=OPEN_OR_EXPIRED,
                         name="invitation_open_idx"),
            models.Index(
                fields=["membership"],
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_open_member_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.organization_id}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def can_resend(self) -> bool:
        return self.membership_id is not None and self.accepted_at is None

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and not self.is_expired
