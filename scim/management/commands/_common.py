"""Shared by the scim_* management commands: resolving ORG_UID / INSTALLATION_ID
and the --actor, and turning service refusals into CommandError."""
from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Iterator

from django.core.management.base import BaseCommand, CommandError, CommandParser

from organizations.models import Organization, User
from organizations.permissions import manager_account
from organizations.services import ServiceError
from scim.models import AppInstallation
from scim.installations import scim_url
from scim.tokens import IssuedToken


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
    user = manager_account(org, email)
    if user is None:
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


class OrgActorCommand(BaseCommand):
    """A command taking ORG_UID and --actor: resolves both, then calls act(org, user),
    turning a service refusal into CommandError."""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("org_uid", metavar="ORG_UID")
        add_actor_argument(parser)

    def handle(self, *args, org_uid: str, actor: str, **options) -> None:
        org = get_org(org_uid)
        user = get_actor(org, actor)
        with service_errors():
            self.act(org, user)

    def act(self, org: Organization, user: User) -> None:
        raise NotImplementedError


def write_json(command: BaseCommand, payload: dict) -> None:
    """Exactly one JSON object on stdout, nothing else (scripts parse it)."""
    command.stdout.write(json.dumps(payload), ending="\n")


def write_issued_token(
    command: BaseCommand, installation: AppInstallation, issued: IssuedToken, *, headline: str, as_json: bool
) -> None:
    """Print a freshly issued Secret Token once: one JSON object with --json, else
    the headline, the SCIM URL, the token and the shown-once warning."""
    url = scim_url(installation.organization)
    if as_json:
        write_json(command, {"scim_url": url, "secret_token": issued.secret, "installation_id": installation.pk})
        return
    command.stdout.write(headline)
    command.stdout.write(f"SCIM URL:     {url}")
    command.stdout.write(f"Secret Token: {issued.secret}")
    command.stdout.write("The Secret Token is shown only now; only its hash is stored.")
