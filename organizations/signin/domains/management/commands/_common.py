"""Shared by domain_add and domain_verify: ORG_UID DOMAIN and an --actor who is the Owner."""
from __future__ import annotations

import json

from django.core.management.base import CommandError, CommandParser

from organizations.models import Organization, User
from organizations.services import find_account

from ....saml.services import can_configure_sso
from ...models import VerifiedDomain


def add_arguments(parser: CommandParser) -> None:
    parser.add_argument("org_uid", metavar="ORG_UID")
    parser.add_argument("domain", metavar="DOMAIN", help="The domain, such as acme.example.")
    parser.add_argument(
        "--actor", required=True, metavar="EMAIL",
        help="E-mail of the organization's Owner (or a superuser); recorded in the audit log.",
    )
    parser.add_argument("--json", action="store_true", help="Print one JSON object.")


def resolve(org_uid: str, actor_email: str) -> tuple[Organization, User]:
    org = Organization.objects.filter(uid=org_uid).first()
    if org is None:
        raise CommandError(f"No organization with uid {org_uid!r}.")
    user = find_account(actor_email)
    if user is None or not can_configure_sso(user, org):
        raise CommandError(
            f"--actor {actor_email} is not the Owner of {org.name} ({org.uid}); only the Owner adds and verifies domains."
        )
    return org, user


def as_dict(row: VerifiedDomain) -> dict:
    return {
        "domain": row.domain,
        "txt_name": row.record_name,
        "txt_value": row.record_value,
        "verified": row.verified,
        "verified_at": row.verified_at.isoformat() if row.verified_at else None,
        "last_checked_at": row.last_checked_at.isoformat() if row.last_checked_at else None,
        "error": row.last_error,
    }


def dumps(payload: dict) -> str:
    return json.dumps(payload)
