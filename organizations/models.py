"""Tenants and the people in them. Models stay thin: every change goes through
organizations.services, which also writes the audit entry."""
from __future__ import annotations

import secrets
import string

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

UID_ALPHABET = string.ascii_lowercase + string.digits
UID_LENGTH = 20  # ~103 bits: not guessable, URL-safe, and no "_" (Okta rejects it in base URLs)


def new_org_uid() -> str:
    return "".join(secrets.choice(UID_ALPHABET) for _ in range(UID_LENGTH))


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, email: str) -> "User":
        # Lower(...) matches the user_email_ci_unique index; __iexact would not use it.
        return self.alias(_email_ci=Lower("email")).get(_email_ci=email.lower())

    def _create_user(self, email: str, password: str | None, **extra) -> "User":
        if not email:
            raise ValueError("An account needs an e-mail address.")
        user = self.model(email=self.normalize_email(email), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> "User":
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> "User":
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """One global login per person, unique by e-mail compared case-insensitively."""

    username = None
    email = models.EmailField("e-mail address", max_length=254)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    # The org whose IdP, SCIM push or invitation created this account (None: made
    # by an operator, or the org is gone). Only that org may treat the account as
    # its own, and only while it has no password and no other org
    # (organizations.services.owned_by): docs/ARCHITECTURE.md, "Identity".
    created_by_org = models.ForeignKey(
        "Organization", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )

    objects = UserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email


class Plan(models.TextChoices):
    FREE = "free", "Free"
    TEAM = "team", "Team"
    ENTERPRISE = "enterprise", "Enterprise"


PLAN_FEATURES: dict[str, frozenset[str]] = {
    Plan.FREE: frozenset(),
    Plan.TEAM: frozenset(),
    Plan.ENTERPRISE: frozenset({"scim"}),
}


class Organization(models.Model):
    uid = models.CharField(max_length=32, unique=True, default=new_org_uid, editable=False)
    name = models.CharField(max_length=200)
    plan = models.CharField(max_length=20, choices=Plan.choices, default=Plan.ENTERPRISE)
    scim_enabled = models.BooleanField(default=False)
    scim_enabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Members the IdP creates get an invitation e-mail; off once people sign in through the IdP.
    invite_provisioned_members = models.BooleanField("Send invitations to provisioned members", default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def has_feature(self, feature: str) -> bool:
        return feature in PLAN_FEATURES.get(self.plan, frozenset())


class OrgRole(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"


# What can be granted by hand or by a group mapping: ownership only by transfer.
GRANTABLE_ORG_ROLES = [(OrgRole.ADMIN.value, OrgRole.ADMIN.label), (OrgRole.MEMBER.value, OrgRole.MEMBER.label)]

# Higher wins when several sources grant an org role.
ORG_ROLE_RANK = {OrgRole.MEMBER: 0, OrgRole.ADMIN: 1, OrgRole.OWNER: 2}
MANAGER_ROLES = (OrgRole.OWNER, OrgRole.ADMIN)


class MembershipQuerySet(models.QuerySet):
    def in_effect(self) -> "MembershipQuerySet":
        """Memberships that give their person access: active, and joined (not an
        existing account still asked to join)."""
        return self.filter(active=True, pending=False)


class Membership(models.Model):
    """A person in one org. It is also the SCIM User resource of that org: the
    scim_* fields are the IdP's profile of the person, kept per membership so an
    IdP of org A never renames the account for org B."""

    # No single-column index: every composite index below starts with organization,
    # and a plain one tempted the planner into walking a whole org when its
    # statistics were stale (benchmarks/multitenant.py).
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    # Effective org role (what permissions read).
    role = models.CharField(max_length=10, choices=OrgRole.choices, default=OrgRole.MEMBER)
    # Org role granted by hand; SCIM group mappings can raise the effective role
    # above it but never lower it (the access engine derives `role`).
    manual_role = models.CharField(max_length=10, choices=OrgRole.choices, default=OrgRole.MEMBER)
    active = models.BooleanField(default=True)
    # An account that existed already (it has a password, or another org) was
    # added by this org: the person has been invited and has no access here, and
    # no IdP signs them in here, until they accept (docs/ARCHITECTURE.md, "Identity").
    pending = models.BooleanField(default=False)
    # May keep signing in with a password while the org's SSO is in Strict mode
    # (an external contractor, an auditor): set by the Owner on the SSO tab.
    sso_exempt = models.BooleanField("Strict mode exception", default=False)

    # SCIM profile (RFC 7643 User). userName defaults to the account e-mail.
    scim_username = models.CharField(max_length=255)
    scim_external_id = models.CharField(max_length=255, blank=True, default="")
    display_name = models.CharField(max_length=255, blank=True, default="")
    given_name = models.CharField(max_length=255, blank=True, default="")
    family_name = models.CharField(max_length=255, blank=True, default="")
    scim_extra = models.JSONField(default=dict, blank=True)  # enterprise extension etc.
    # The org's identity provider created or updated this member over SCIM: it
    # pushes its own state again, so a change made by hand may not last.
    scim_managed = models.BooleanField(default=False)
    # An invitation is owed to this member (a SCIM push or reactivation): set in
    # the same write, built and e-mailed by the worker's sweep, which clears it
    # (organizations.signin.due_invitations.deliver_due). Nothing is lost if a worker dies.
    invitation_due = models.BooleanField(default=False)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="membership_unique_person_per_org"),
            models.UniqueConstraint(
                fields=["organization"], condition=Q(role="owner"), name="membership_one_owner_per_org"
            ),
            models.UniqueConstraint(
                "organization", Lower("scim_username"), name="membership_username_ci_unique_per_org"
            ),
        ]
        indexes = [
            models.Index("organization", Lower("scim_external_id"), name="membership_extid_ci_idx"),
            # An org's users in id order (SCIM pages, import paging), index-only.
            models.Index(fields=["organization", "id"], name="membership_org_id_idx"),
            # The Members tab's filters stay point queries at 100,000 members: by role
            # (with status), and the few deactivated members of a big org.
            models.Index(fields=["organization", "role", "active"], name="membership_org_role_idx"),
            models.Index(fields=["organization"], condition=Q(active=False), name="membership_deactivated_idx"),
            # The SSO tab's few Strict mode exceptions of a big org.
            models.Index(fields=["organization"], condition=Q(sso_exempt=True), name="membership_sso_exempt_idx"),
            # The few memberships owed an invitation, for the sweep that sends them.
            models.Index(fields=["id"], condition=Q(invitation_due=True), name="membership_invitation_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user.email} in {self.organization.name}"


class MembershipEmail(models.Model):
    """An e-mail of a membership's SCIM profile (RFC 7643 `emails`). A table, not a
    JSON list, so filters such as `emails[type eq "work"].value eq "..."` are
    indexed ORM queries on SQLite and PostgreSQL alike."""

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="email_set")
    value = models.CharField(max_length=254)
    type = models.CharField(max_length=32, blank=True, default="")
    primary = models.BooleanField(default=False)
    display = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["-primary", "id"]
        indexes = [models.Index(Lower("value"), "membership", name="membershipemail_value_ci_idx")]

    def __str__(self) -> str:
        return self.value


class Stack(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="stacks")
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint("organization", Lower("name"), name="stack_name_ci_unique_per_org"),
        ]

    def __str__(self) -> str:
        return self.name


class StackRole(models.Model):
    """Built-in roles have no organization; custom roles belong to one org."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="stack_roles", null=True, blank=True
    )
    name = models.CharField(max_length=100)
    builtin = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["-builtin", "name", "id"]
        constraints = [
            models.UniqueConstraint("organization", Lower("name"), name="stackrole_name_ci_unique_per_org"),
            models.UniqueConstraint(
                Lower("name"), condition=Q(organization__isnull=True), name="stackrole_builtin_name_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def available_to(cls, organization: Organization) -> models.QuerySet["StackRole"]:
        return cls.objects.filter(Q(organization__isnull=True) | Q(organization=organization))


class AccessSource(models.TextChoices):
    MANUAL = "manual", "Granted by hand"
    SCIM = "scim", "SCIM group mapping"


class StackAccess(models.Model):
    """One stack role held by a membership, and where it came from. Rows with
    source=scim belong to the access engine; rows with source=manual are never
    touched by it."""

    # No single-column indexes on membership or stack: stackaccess_unique_grant
    # starts with membership, stackaccess_stack_member_idx with stack.
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="stack_access", db_index=False)
    stack = models.ForeignKey(Stack, on_delete=models.CASCADE, related_name="access", db_index=False)
    role = models.ForeignKey(StackRole, on_delete=models.CASCADE, related_name="access")
    source = models.CharField(max_length=10, choices=AccessSource.choices, default=AccessSource.MANUAL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["stack__name", "role__name", "id"]
        verbose_name_plural = "stack access"
        constraints = [
            models.UniqueConstraint(
                fields=["membership", "stack", "role", "source"], name="stackaccess_unique_grant"
            ),
        ]
        indexes = [
            models.Index(fields=["stack", "role"], name="stackaccess_stack_role_idx"),
            # The people of a stack, distinct and in order: a capped count reads only the first ones.
            models.Index(fields=["stack", "membership"], name="stackaccess_stack_member_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.role} on {self.stack}"


class ActorType(models.TextChoices):
    USER = "user", "User"
    INSTALLATION = "installation", "App installation"
    SYSTEM = "system", "System"


class AuditEvent(models.Model):
    """Who did what to what, with before/after, and when. Actor and target are
    kept as strings as well as ids so the trail survives deletions. Never
    holds secrets."""

    # No index of its own: audit_org_time_idx starts with it. A plain one let the
    # planner, in an org its statistics do not know yet (a new org growing without
    # ANALYZE), read the whole org and sort it for a page of 50
    # (tests/organizations/test_admin_page_plans.py).
    organization = models.ForeignKey(
        Organization, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_events", db_index=False
    )
    org_uid = models.CharField(max_length=32, blank=True, default="", db_index=True)
    actor_type = models.CharField(max_length=20, choices=ActorType.choices)
    actor_id = models.CharField(max_length=64, blank=True, default="")
    actor_label = models.CharField(max_length=255, blank=True, default="")
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True, default="")
    target_id = models.CharField(max_length=64, blank=True, default="")
    target_label = models.CharField(max_length=255, blank=True, default="")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    # The HTTP request (or the background job it started) that made the change:
    # its id ties the row to the proxy's and the app's log lines; the address is
    # the client's, through the trusted proxies. Empty for shell commands.
    request_id = models.CharField(max_length=64, blank=True, default="")
    client_address = models.CharField(max_length=45, blank=True, default="")
    # No index of its own: every org's entries in one time order is what a page
    # of one org must never walk (PostgreSQL chose it for a big org, then read
    # the newer entries of every other org before finding a page of its own).
    # The operators' list of every org reads newest first by id (AuditEventAdmin).
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # In the order the Audit log reads (newest first, the id breaking ties): a
            # page is the first entries of the index, with no sort, even in an org the
            # planner's statistics do not know yet (it believes it holds a row or two,
            # and would otherwise fetch the whole trail to sort it).
            models.Index(fields=["organization", "-created_at", "-id"], name="audit_org_time_idx"),
            # The Audit log tab's kinds, read action by action (audit_log.audit_page): each
            # action's newest entries are the start of its range, in the page's order.
            models.Index(fields=["organization", "action", "-created_at", "-id"], name="audit_org_action_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} {self.target_label}"
