"""Group mappings: a SCIM group grants an org role and stack roles."""
from __future__ import annotations

from django.conf import settings
from django.db import models

from organizations.models import GRANTABLE_ORG_ROLES, Organization, OrgRole, Stack, StackRole
from scim.models import AppInstallation, ScimGroup

MAPPABLE_ORG_ROLES = GRANTABLE_ORG_ROLES


class GroupMapping(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="group_mappings")
    group = models.OneToOneField(ScimGroup, on_delete=models.CASCADE, related_name="mapping")
    org_role = models.CharField(max_length=10, choices=MAPPABLE_ORG_ROLES, default=OrgRole.MEMBER)
    # Applied to every stack of the org, including stacks created later.
    all_stacks_role = models.ForeignKey(
        StackRole, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["group__display_name", "id"]

    def __str__(self) -> str:
        return f"{self.group} -> {self.get_org_role_display()}"


class GroupMappingStackRole(models.Model):
    mapping = models.ForeignKey(GroupMapping, on_delete=models.CASCADE, related_name="stack_roles")
    stack = models.ForeignKey(Stack, on_delete=models.CASCADE, related_name="+")
    role = models.ForeignKey(StackRole, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["mapping", "stack"], name="mappingstackrole_unique")]


class RecomputeJob(models.Model):
    """Progress of a large access recompute, shown on the SCIM tab until done."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.PENDING, Status.RUNNING)

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="recompute_jobs")
    reason = models.CharField(max_length=255)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    # The memberships to re-derive, fixed when the job is created (sorted ids). The
    # worker walks them in batches and `done` is the resume point after a retry.
    membership_ids = models.JSONField(default=list, blank=True)
    # Who caused it, so the audit entries the worker writes name the right actor.
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_installation = models.ForeignKey(
        AppInstallation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "status"], name="recomputejob_org_status_idx")]

    def __str__(self) -> str:
        return f"{self.reason} ({self.get_status_display()} {self.done}/{self.total})"
