"""Small builders for test data. They go through the services, like the app does."""
from __future__ import annotations

import itertools

from organizations import services
from organizations.models import Membership, Organization, OrgRole, Stack

_seq = itertools.count(1)
PASSWORD = "correct-horse-battery-staple-42"


def make_org(name: str | None = None, *, owner_email: str | None = None, **kwargs) -> Organization:
    n = next(_seq)
    return services.create_organization(
        name or f"Org {n}",
        owner_email=owner_email or f"owner{n}@example.com",
        owner_password=PASSWORD,
        actor=None,
        **kwargs,
    )


def owner_of(org: Organization) -> Membership:
    return org.memberships.select_related("user").get(role=OrgRole.OWNER)


def make_member(org: Organization, email: str | None = None, *, role: str = OrgRole.MEMBER) -> Membership:
    return services.add_member(
        org, email or f"person{next(_seq)}@example.com", role=role, password=PASSWORD, actor=None
    )


def make_stack(org: Organization, name: str | None = None) -> Stack:
    return services.create_stack(org, name or f"Stack {next(_seq)}", actor=None)
