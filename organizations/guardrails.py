"""Guardrails on changes made by people that take Owner/Admin access away
(change a role, deactivate, remove):

- the org always keeps an Owner or Admin who can sign in: the change that would
  take away the last one is refused;
- a person who would lose their own access to the org's settings must have
  confirmed it (the view shows what they lose, then posts again with
  `confirmed=True`).

The services make the change, then ask `AccessGuard.check`, inside their
transaction: a refusal raises and rolls the whole change back, re-derived
roles included, so a refused change changes nothing. The identity provider's
own changes (an app installation as actor) are not guarded here: it is the
source of truth for the people it manages (docs/ARCHITECTURE.md, "Guardrails")."""
from __future__ import annotations

from dataclasses import dataclass

from .audit import Actor
from .errors import ServiceError
from .models import MANAGER_ROLES, Membership, Organization, User
from .signin.access import managers_who_can_sign_in, signin_refusal


class GuardrailError(ServiceError):
    """A guardrail refused the change; nothing was changed."""


# What a person loses, by the action that takes it: shown on the confirmation page.
DEMOTE, DEACTIVATE, REMOVE = "change-role", "deactivate", "remove"


def self_loss_consequence(membership: Membership, action: str) -> str:
    """What the acting person loses by doing `action` to their own membership."""
    org = membership.organization.name
    loss = {
        DEMOTE: f"You will no longer be able to open Organization Settings of {org}.",
        DEACTIVATE: f"You will lose all access to {org} and will no longer be able to open its Organization Settings; "
        "another Admin must reactivate you.",
        REMOVE: f"You will no longer be a member of {org} and will no longer be able to open its Organization Settings.",
    }[action]
    if action != DEMOTE and not has_other_active_membership(membership):
        loss += " You belong to no other organization, so you will be signed out."
    return loss


def has_other_active_membership(membership: Membership) -> bool:
    return Membership.objects.in_effect().filter(user_id=membership.user_id).exclude(pk=membership.pk).exists()


def is_person(actor: Actor) -> bool:
    """A user, or the system/an operator's command; not an app installation (the IdP)."""
    return actor is None or isinstance(actor, User)


def lock_organization(organization_id: int) -> None:
    """Serialise guarded changes of one org: two Admins demoting each other at
    once must not both pass the last-Admin check."""
    Organization.objects.select_for_update().filter(pk=organization_id).values_list("pk", flat=True).first()


def can_act_as_manager(membership: Membership) -> bool:
    return membership.active and membership.role in MANAGER_ROLES and signin_refusal(membership) is None


def last_admin_message(membership: Membership, *, own: bool) -> str:
    who = "You are" if own else f"{membership.user.email} is"
    return (
        f"{who} the last Owner or Admin of {membership.organization.name} who can sign in; make someone else an Admin "
        "first. Nothing was changed."
    )


def last_capable_managers(memberships: list[Membership]) -> list[Membership]:
    """Of these memberships (about to be removed together), the ones whose org
    would be left without an Owner or Admin who can sign in. One query per org."""
    by_org: dict[int, list[Membership]] = {}
    for m in memberships:
        by_org.setdefault(m.organization_id, []).append(m)
    last: list[Membership] = []
    for group in by_org.values():
        capable = [m for m in group if can_act_as_manager(m)]
        org = group[0].organization
        if capable and not managers_who_can_sign_in(org).exclude(pk__in=[m.pk for m in group]).exists():
            last.extend(capable)
    return last


@dataclass
class AccessGuard:
    """The state before a change, checked against the state after it."""

    membership: Membership
    actor: Actor
    action: str
    was_capable_manager: bool
    actor_managed_through_it: bool

    @classmethod
    def before(cls, membership: Membership, *, actor: Actor, action: str) -> "AccessGuard | None":
        """None when the change is not guarded (the IdP's own changes). Call it
        with the membership already locked, after `lock_organization`."""
        if not is_person(actor):
            return None
        own = isinstance(actor, User) and actor.pk == membership.user_id and not actor.is_superuser
        managed = membership.active and membership.role in MANAGER_ROLES
        return cls(membership, actor, action, can_act_as_manager(membership), own and managed)

    def check(self, after: Membership | None, *, confirmed: bool) -> None:
        """`after`: the membership as it is now (None once removed). Raises to roll back."""
        org = self.membership.organization
        if self.was_capable_manager and not managers_who_can_sign_in(org).exists():
            raise LastAdminError(last_admin_message(self.membership, own=self.actor_managed_through_it))
        still_manages = after is not None and after.active and after.role in MANAGER_ROLES
        if self.actor_managed_through_it and not still_manages and not confirmed:
            raise ConfirmationRequired(self_loss_consequence(self.membership, self.action))


class LastAdminError(GuardrailError):
    """The change would leave the org without an Owner or Admin who can sign in."""


class ConfirmationRequired(GuardrailError):
    """The acting person would lose their own access; the message says what they lose."""
