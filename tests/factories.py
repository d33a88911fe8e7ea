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
    """A joined member with the password PASSWORD. An account that exists already
    is asked to join (pending) and accepts, as the person would."""
    email = email or f"person{next(_seq)}@example.com"
    if services.find_account(email) is None:
        return services.add_member(org, email, role=role, password=PASSWORD, actor=None)
    membership = services.add_member(org, email, role=role, actor=None)
    return services.join(membership, actor=membership.user) if membership.pending else membership


def make_stack(org: Organization, name: str | None = None) -> Stack:
    return services.create_stack(org, name or f"Stack {next(_seq)}", actor=None)


def make_provisioned(org: Organization, email: str | None = None, *, role: str = OrgRole.MEMBER) -> Membership:
    """A person the org brought in (as a SCIM push does): a new account of its
    own, with no password. The org's IdP links it at the first sign-in."""
    return services.add_member(org, email or f"person{next(_seq)}@example.com", role=role, actor=None)


def verified_domain(org: Organization, domain: str):
    """The org holds `domain` verified (as if its TXT record had been checked):
    tests of what a verified domain changes. tests/signin/domains checks it over DNS."""
    from django.utils import timezone

    from organizations.signin.domains.models import VerifiedDomain

    return VerifiedDomain.objects.create(organization=org, domain=domain, verified_at=timezone.now(),
                                         last_checked_at=timezone.now())


def make_operator(email: str = "root@orgdesk.example", password: str = PASSWORD):
    """An operator (superuser) as they sign in: with two-factor authentication on
    (organizations/signin/mfa: operators must have it). Its TOTP key is random;
    tests that type codes enrol through the pages instead (tests/signin/mfa/test_mfa.py)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from organizations.models import User

    user = User.objects.create_superuser(email, password)
    TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    return user
