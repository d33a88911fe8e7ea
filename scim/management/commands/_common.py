"""Shared by the scim_* management commands: resolving ORG_UID / INSTALLATION_ID
and the --actor, and turning service refusals into CommandError."""
from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Iterator

from django.core.management.base import BaseCommand, CommandError, CommandParser

from organizations.models import Organization, User
from organizations.services import ServiceError, can_manage, find_account
from scim.models import AppInstallation


def add_actor_argument(parser: CommandParser) -> None:
    parser.add_argument(
        "--actor",
        required=True,
        metavar="EMAIL",
        help="E-mail of an active Owner or Admin of the organization (or a superuser); recorded in the audit log.",
    )


def get_org(uid: str) -> Organization:
    org = Organization.objects.filter(uid=uid).first()
    if org is None:
        raise CommandError(f"No organization with uid {uid!r}.")
    return org


def get_installation(installation_id: int) -> AppInstallation:
    installation = (
        AppInstallation.objects.select_related("app", "organization").filter(pk=installation_id).first()
    )
    if installation is None:
        raise CommandError(f"No app installation with id {installation_id}.")
    return installation


def get_actor(org: Organization, email: str) -> User:
    user = find_account(email)
    if user is None or not can_manage(user, org):
        raise CommandError(
            f"--actor {email} is not an active Owner or Admin of {org.name} ({org.uid}); "
            "only they may change its SCIM settings."
        )
    return user


@contextmanager
def service_errors() -> Iterator[None]:
    try:
        yield
    except ServiceError as exc:
        raise CommandError(str(exc)) from exc


def write_json(command: BaseCommand, payload: dict) -> None:
    """Exactly one JSON object on stdout, nothing else (scripts parse it)."""
    command.stdout.write(json.dumps(payload), ending="\n")
