"""SCIM enablement, the marketplace, secret tokens and SCIM groups."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from organizations.models import ActorType, Membership, Organization


class MarketplaceApp(models.Model):
    """The catalog is data (seeded by a migration), not code."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    vendor = models.CharField(max_length=100)
    summary = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    # What the app is allowed to do once authorized, shown on the authorization step.
    permissions = models.JSONField(default=list, blank=True)
    requires_feature = models.CharField(max_length=50, default="scim")
    listed = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=100)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class AppInstallation(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="app_installations")
    app = models.ForeignKey(MarketplaceApp, on_delete=models.PROTECT, related_name="installations")
    installed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    uninstalled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "app"],
                condition=Q(uninstalled_at__isnull=True),
                name="installation_one_live_per_app",
            )
        ]

    def __str__(self) -> str:
        return f"{self.app.name} in {self.organization.name}"

    @property
    def is_live(self) -> bool:
        return self.uninstalled_at is None

    def audit_actor(self) -> tuple[str, str, str]:
        return ActorType.INSTALLATION, str(self.pk), f"{self.app.name} (installation {self.pk})"


class SecretToken(models.Model):
    """A bearer token, stored only as its hash. `prefix` is a non-secret lookup key
    (also shown to admins so they can tell tokens apart)."""

    installation = models.ForeignKey(AppInstallation, on_delete=models.CASCADE, related_name="tokens")
    prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.prefix}…"

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None


class ScimGroup(models.Model):
    """A group pushed by an identity provider; its members are memberships of the same org."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="scim_groups")
    display_name = models.CharField(max_length=255)
    external_id = models.CharField(max_length=255, blank=True, default="")
    members = models.ManyToManyField(Membership, through="ScimGroupMember", related_name="scim_groups")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint("organization", Lower("display_name"), name="scimgroup_name_ci_unique_per_org"),
        ]

    def __str__(self) -> str:
        return self.display_name


class ScimGroupMember(models.Model):
    group = models.ForeignKey(ScimGroup, on_delete=models.CASCADE, related_name="memberships")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="group_memberships")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "membership"], name="scimgroupmember_unique"),
        ]
        indexes = [models.Index(fields=["membership", "group"], name="scimgroupmember_member_idx")]


class ProvisioningOutcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"


class ProvisioningEvent(models.Model):
    """One SCIM call as an admin sees it on the SCIM tab ("why did Okta's push fail?").
    Expires after SCIM_ACTIVITY_RETENTION_DAYS."""

    # No index of its own: provevent_org_time_idx starts with it. A plain one let the
    # planner, in an org its statistics do not know yet, read the whole org and sort
    # it for the activity list and the health chart (tests/organizations/test_admin_page_plans.py).
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="provisioning_events", db_index=False
    )
    installation = models.ForeignKey(
        AppInstallation, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    operation = models.CharField(max_length=100)
    target = models.CharField(max_length=255, blank=True, default="")
    status = models.PositiveSmallIntegerField()
    outcome = models.CharField(max_length=10, choices=ProvisioningOutcome.choices)
    detail = models.TextField(blank=True, default="")
    duration_ms = models.PositiveIntegerField(default=0)
    # Refused calls (401, 429) of one installation (or of unknown tokens), one
    # reason and operation are coalesced into one entry per window (scim.activity):
    # how many calls it stands for, from created_at on.
    occurrences = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # In the order the SCIM tab reads (newest first, the id breaking ties): a
            # page needs no sort, whatever the statistics believe of the org.
            # The chart's sums of the calls not rolled up yet (scim.health) read
            # only the index (status and occurrences are in it): PostgreSQL, analyzed
            # just after a burst of calls, took a large org's last hour for three
            # times the rows it held and read the whole table instead of the range.
            models.Index(fields=["organization", "-created_at", "-id"], name="provevent_org_time_idx",
                         include=["status", "occurrences"]),
            models.Index(fields=["created_at"], name="provevent_time_idx"),
            # The SCIM tab's default list (writes and failures) without reading the reads.
            models.Index(
                fields=["organization", "-created_at", "-id"],
                condition=Q(outcome="failure") | ~Q(method="GET"),
                name="provevent_org_writes_idx",
            ),
            # The last failure the health summary names, and the "failures" filter:
            # the newest failure without walking the successful writes after it.
            models.Index(
                fields=["organization", "-created_at", "-id"],
                condition=Q(outcome="failure"),
                name="provevent_org_failures_idx",
            ),
        ]


class ProvisioningHour(models.Model):
    """One org's SCIM calls in one hour, by outcome kind (the health chart's
    kinds, scim.health.KINDS; refused entries count their `occurrences`), up to
    the org's watermark when it falls inside the hour: the chart reads these
    instead of the raw activity (scim.health_rollup). Hours with no call have no row."""

    # No index of its own: provhour_org_hour_unique starts with it.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="provisioning_hours", db_index=False
    )
    hour = models.DateTimeField()  # the hour's start (UTC)
    success = models.PositiveBigIntegerField(default=0)
    refused = models.PositiveBigIntegerField(default=0)
    denied = models.PositiveBigIntegerField(default=0)
    failed = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "hour"], name="provhour_org_hour_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.hour:%Y-%m-%d %H}:00"


class ProvisioningRollup(models.Model):
    """How far one org's activity is rolled up: every call before `until` is
    counted in its hour's ProvisioningHour; from `until` on the chart reads the
    raw activity. Locked by each rollup of the org (scim.health_rollup)."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, primary_key=True, related_name="provisioning_rollup"
    )
    until = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.organization_id} rolled up until {self.until:%Y-%m-%d %H:%M}"
