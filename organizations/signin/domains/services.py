"""Verified domains: every change goes through here. Each takes a keyword-only
`actor` (None: the system or an operator's command, trusted) and records its
audit entry; only the Owner (or a superuser) adds, verifies or removes a
domain (the SSO tab's rule, saml.services.can_configure_sso).

A domain is verified when its TXT record `_orgdesk-challenge.<domain>` holds
`orgdesk-domain-verification=<token>` (lookup.check). One org at a time may
hold a domain verified (a partial unique constraint); other orgs may claim it
pending meanwhile, and their Verify is refused while it is held. What it
changes is read by saml: org_for_email ("Sign in with SSO" by e-mail) and
verified_by (linking without proof, just-in-time creation)."""
from __future__ import annotations

import logging
import re

from django.db import IntegrityError, transaction
from django.utils import timezone

from organizations import audit, permissions
from organizations.audit import Actor
from organizations.audit_actions import (
    DOMAIN_ADD, DOMAIN_REMOVE, DOMAIN_UNVERIFY, DOMAIN_VERIFY, DOMAIN_VERIFY_FAILED,
)
from organizations.background import enqueue
from organizations.models import Organization, User
from organizations.services import ServiceError

from ..saml.services import can_configure_sso
from . import lookup
from .mail import send_domain_unverified_email
from .models import VerifiedDomain

logger = logging.getLogger("orgdesk.domains")

MAX_DOMAINS_PER_ORG = 50
_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class VerificationFailed(ServiceError):
    """Verify found no record (or another org holds the domain); the message says what DNS answered."""


# ---- the domain string -------------------------------------------------------------


def normalize_domain(text: str) -> str:
    """`acme.example` from " ACME.example. " or its IDNA form from a Unicode name
    ("bücher.example" -> "xn--bcher-kva.example"); ServiceError for anything
    that is not a registrable-looking host name (spaces, an e-mail, a URL, a
    wildcard, an IP address, a single label)."""
    raw = (text or "").strip()
    if not raw:
        raise ServiceError("Enter a domain, such as acme.example.")
    if any(ch.isspace() for ch in raw):
        raise ServiceError("A domain has no spaces: enter it alone, such as acme.example.")
    if "@" in raw or "/" in raw or ":" in raw:
        raise ServiceError("Enter the domain alone (acme.example), not an e-mail address or a URL.")
    if raw.startswith("*"):
        raise ServiceError("Enter the domain itself (acme.example), not a wildcard.")
    raw = raw.removesuffix(".")
    try:
        ascii_name = raw.encode("idna").decode("ascii").lower()
        for label in ascii_name.split("."):
            if label.startswith("xn--"):
                label.encode("ascii").decode("idna")  # a Punycode label must decode
    except UnicodeError as exc:
        raise ServiceError(f"\"{text.strip()[:100]}\" is not a valid domain name.") from exc
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or not all(_LABEL_RE.match(label) for label in labels):
        raise ServiceError(
            f"\"{text.strip()[:100]}\" is not a valid domain name: use letters, digits and hyphens between dots."
        )
    if len(labels) < 2:
        raise ServiceError("Enter a whole domain such as acme.example, not a top-level domain.")
    if labels[-1].isdigit():
        raise ServiceError("An IP address is not a domain: enter the domain of your e-mail addresses.")
    return ascii_name


def domain_of_email(email: str) -> str | None:
    """The normalised domain of an e-mail address, or None when it has none."""
    if not email or "@" not in email:
        return None
    try:
        return normalize_domain(email.rsplit("@", 1)[1])
    except ServiceError:
        return None


# ---- reading -----------------------------------------------------------------------


def domains_of(org: Organization) -> list[VerifiedDomain]:
    return list(VerifiedDomain.objects.filter(organization=org).order_by("domain")[:MAX_DOMAINS_PER_ORG])


def verified_by(org: Organization, email: str) -> bool:
    """Has `org` verified the domain of this e-mail address?"""
    domain = domain_of_email(email)
    return bool(domain) and VerifiedDomain.objects.filter(
        organization=org, domain=domain, verified_at__isnull=False
    ).exists()


def org_for_email(email: str) -> Organization | None:
    """The org that verified this address's domain, when it has SSO enabled:
    where "Sign in with SSO" sends the address. Public information (which org
    holds a domain), nothing about the person."""
    domain = domain_of_email(email)
    if not domain:
        return None
    found = (
        VerifiedDomain.objects.select_related("organization")
        .filter(domain=domain, verified_at__isnull=False, organization__sso__enabled=True)
        .first()
    )
    return found.organization if found is not None else None


def _get(org: Organization, domain: str) -> VerifiedDomain:
    row = VerifiedDomain.objects.filter(organization=org, domain=normalize_domain(domain)).first()
    if row is None:
        raise ServiceError(f"{org.name} has not added the domain {domain.strip()[:100]}.")
    return row


def _ensure_owner(org: Organization, actor: Actor) -> None:
    if isinstance(actor, User) and not can_configure_sso(actor, org):
        raise permissions.NotPermitted(
            f"{actor.email} is not the Owner of {org.name}; only the Owner adds, verifies and removes domains."
        )


# ---- changes -----------------------------------------------------------------------


@transaction.atomic
def add_domain(org: Organization, domain: str, *, actor: Actor) -> VerifiedDomain:
    """Claim a domain (pending): the Owner then publishes its TXT record and verifies."""
    _ensure_owner(org, actor)
    name = normalize_domain(domain)
    existing = VerifiedDomain.objects.filter(organization=org, domain=name).first()
    if existing is not None:
        return existing  # adding twice shows the same record to publish
    if VerifiedDomain.objects.filter(organization=org).count() >= MAX_DOMAINS_PER_ORG:
        raise ServiceError(f"{org.name} has {MAX_DOMAINS_PER_ORG} domains; remove one before adding another.")
    try:
        with transaction.atomic():
            row = VerifiedDomain.objects.create(organization=org, domain=name)
    except IntegrityError:  # added concurrently
        return VerifiedDomain.objects.get(organization=org, domain=name)
    audit.record(org, actor, DOMAIN_ADD, row, target_label=name, after={"domain": name})
    return row


def _held_elsewhere(row: VerifiedDomain) -> bool:
    return VerifiedDomain.objects.filter(domain=row.domain, verified_at__isnull=False).exclude(pk=row.pk).exists()


def _held_message(domain: str) -> str:
    return (
        f"{domain} is already verified by another organization on Orgdesk. A domain can be verified by one "
        "organization at a time: that organization must remove it first (it also loses it when its TXT record "
        "is gone at the daily check)."
    )


def verify_domain(org: Organization, domain: str, *, actor: Actor) -> VerifiedDomain:
    """Look up the TXT record now. Verified when it holds this org's value and no
    other org holds the domain; otherwise VerificationFailed with what DNS
    answered (kept on the row for the tab). Verifying a verified domain checks
    it again; a record found gone unverifies it, as the daily check does."""
    _ensure_owner(org, actor)
    row = _get(org, domain)
    if not row.verified and _held_elsewhere(row):
        _fail(row, _held_message(row.domain), actor=actor, reason="held")
    answer = lookup.check(row.record_name, row.record_value)  # no transaction open across the network
    now = timezone.now()
    if not answer.found:
        if row.verified and answer.outcome == lookup.ABSENT:
            _unverify(row, answer.message, actor=actor)
        _fail(row, answer.message, actor=actor, reason=answer.outcome, checked_at=now)
    if row.verified:
        VerifiedDomain.objects.filter(pk=row.pk).update(last_checked_at=now, last_error="")
        row.refresh_from_db()
        return row
    try:
        with transaction.atomic():
            updated = VerifiedDomain.objects.filter(pk=row.pk, verified_at__isnull=True).update(
                verified_at=now, last_checked_at=now, last_error=""
            )
            row.refresh_from_db()
            if updated:
                audit.record(org, actor, DOMAIN_VERIFY, row, target_label=row.domain,
                             after={"domain": row.domain, "record": row.record_name})
    except IntegrityError:  # another org verified it a moment ago
        _fail(row, _held_message(row.domain), actor=actor, reason="held")
    return row


def _fail(row: VerifiedDomain, message: str, *, actor: Actor, reason: str, checked_at=None) -> None:
    with transaction.atomic():
        VerifiedDomain.objects.filter(pk=row.pk).update(
            last_error=message[:1000], last_checked_at=checked_at or timezone.now()
        )
        audit.record(row.organization, actor, DOMAIN_VERIFY_FAILED, row, target_label=row.domain,
                     after={"domain": row.domain, "reason": reason, "answer": message[:300]})
    row.refresh_from_db()
    raise VerificationFailed(message)


@transaction.atomic
def remove_domain(org: Organization, domain: str, *, actor: Actor) -> None:
    """The org no longer claims the domain: its IdP links and creates nobody on it,
    "Sign in with SSO" no longer routes it, and another org may verify it."""
    _ensure_owner(org, actor)
    row = _get(org, domain)
    audit.record(org, actor, DOMAIN_REMOVE, row, target_label=row.domain,
                 before={"domain": row.domain, "verified": row.verified})
    row.delete()


def _unverify(row: VerifiedDomain, message: str, *, actor: Actor) -> bool:
    """The record is gone: the domain is pending again, and the Owner is told by e-mail."""
    with transaction.atomic():
        updated = VerifiedDomain.objects.filter(pk=row.pk, verified_at__isnull=False).update(
            verified_at=None, last_checked_at=timezone.now(), last_error=message[:1000]
        )
        if updated:
            audit.record(row.organization, actor, DOMAIN_UNVERIFY, row, target_label=row.domain,
                         after={"domain": row.domain, "answer": message[:300]})
            transaction.on_commit(lambda: enqueue(send_domain_unverified_email, row.pk))
    row.refresh_from_db()
    return bool(updated)


def recheck_verified_domains() -> dict[str, int]:
    """Beat, daily: look up every verified domain's record again. A record gone
    (absent) unverifies the domain and e-mails the Owner; a DNS error keeps it
    verified (a resolver outage must not take every domain away) and is noted."""
    counts = {"checked": 0, "unverified": 0, "errors": 0}
    last_pk = 0
    while True:
        batch = list(
            VerifiedDomain.objects.select_related("organization")
            .filter(verified_at__isnull=False, pk__gt=last_pk).order_by("pk")[:200]
        )
        if not batch:
            return counts
        for row in batch:
            last_pk = row.pk
            counts["checked"] += 1
            answer = lookup.check(row.record_name, row.record_value)
            if answer.found:
                VerifiedDomain.objects.filter(pk=row.pk).update(last_checked_at=timezone.now(), last_error="")
            elif answer.outcome == lookup.ABSENT:
                counts["unverified"] += _unverify(row, answer.message, actor=None)
            else:
                counts["errors"] += 1
                logger.warning("Re-check of %s (org %s) could not read DNS: %s", row.domain,
                               row.organization.uid, answer.message)
                VerifiedDomain.objects.filter(pk=row.pk).update(last_error=answer.message[:1000])
