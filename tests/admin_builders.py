"""Builders for admin tests of big-ish orgs: members in bulk (no password hashing,
no per-member service call), as the benchmark seeds them."""
from __future__ import annotations

import itertools

from organizations.models import Membership, Organization, OrgRole, User

_seq = itertools.count(1)


def bulk_members(org: Organization, n: int, *, prefix: str = "person", scim_managed: bool = False,
                 role: str = OrgRole.MEMBER, active: bool = True) -> list[Membership]:
    """n members named `<prefix><i>@<org>.example`, given name Given<i>, family name <Prefix>family."""
    batch = next(_seq)
    domain = f"{org.uid[:8]}.example"
    users = User.objects.bulk_create(
        [User(email=f"{prefix}{batch}x{i}@{domain}", password="!") for i in range(n)]
    )
    return Membership.objects.bulk_create(
        [
            Membership(
                organization=org, user=u, role=role, manual_role=role, active=active, scim_managed=scim_managed,
                scim_username=u.email, given_name=f"Given{i}", family_name=f"{prefix.capitalize()}family",
                scim_external_id=f"ext-{u.pk}" if scim_managed else "",
            )
            for i, u in enumerate(users)
        ]
    )
