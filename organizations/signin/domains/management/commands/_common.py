"""Shared by domain_add and domain_verify: ORG_UID DOMAIN and an --actor who is the Owner."""
from __future__ import annotations

import json

from django.core.management.base import CommandParser

from organizations.models import Organization, User

from ....saml.management.commands._common import resolve as resolve_owner
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
    return resolve_owner(org_uid, actor_email, does="adds and verifies domains")


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
