"""Operator commands: scim_enable, scim_disable, scim_install, scim_rotate_token,
scim_uninstall. --actor must be the org's Owner or Admin."""
from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from organizations import audit_actions
from organizations.models import AuditEvent
from scim import installations
from scim.models import AppInstallation, SecretToken
from scim.tokens import Refusal, check
from tests import builders

pytestmark = pytest.mark.django_db
OKTA = "okta-generic-scim"


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def install_json(org, actor_email: str) -> dict:
    return json.loads(run("scim_install", org.uid, "--app", OKTA, "--actor", actor_email, "--json"))


def test_enable_then_install_json_prints_exactly_one_object(org, owner, settings):
    settings.PUBLIC_BASE_URL = "https://orgdesk.example.com"
    run("scim_enable", org.uid, "--actor", owner.user.email)

    out = run("scim_install", org.uid, "--app", OKTA, "--actor", owner.user.email, "--json")

    payload = json.loads(out)  # the whole stdout parses: nothing else was printed
    assert out.count("\n") == 1
    assert set(payload) == {"scim_url", "secret_token", "installation_id"}
    assert payload["scim_url"] == f"https://orgdesk.example.com/scim/v2/organizations/{org.uid}"
    installation = AppInstallation.objects.get(pk=payload["installation_id"])
    assert installation.organization == org
    assert check(payload["secret_token"], org.uid).installation == installation
    assert AuditEvent.objects.get(action=audit_actions.MARKETPLACE_INSTALL).actor_label == owner.user.email


def test_actor_email_matches_case_insensitively(org, admin_member):
    run("scim_enable", org.uid, "--actor", admin_member.user.email.upper())
    org.refresh_from_db()
    assert org.scim_enabled


def test_install_without_json_prints_url_token_and_warning(org, owner):
    run("scim_enable", org.uid, "--actor", owner.user.email)
    out = run("scim_install", org.uid, "--app", OKTA, "--actor", owner.user.email)
    assert installations.scim_url(org) in out
    assert "shown only now" in out


@pytest.mark.parametrize("who", ["member", "stranger", "nobody"])
def test_actor_must_be_owner_or_admin_of_the_org(org, other_org, who):
    email = {
        "member": lambda: builders.make_member(org).user.email,
        "stranger": lambda: builders.owner_of(other_org).user.email,
        "nobody": lambda: "ghost@example.com",
    }[who]()
    with pytest.raises(CommandError, match="not an active Owner or Admin"):
        run("scim_enable", org.uid, "--actor", email)
    org.refresh_from_db()
    assert not org.scim_enabled


def test_unknown_org_app_and_installation_are_clear_errors(org, owner):
    with pytest.raises(CommandError, match="No organization"):
        run("scim_enable", "nosuchorg", "--actor", owner.user.email)
    with pytest.raises(CommandError, match="No marketplace app 'slack'"):
        run("scim_install", org.uid, "--app", "slack", "--actor", owner.user.email)
    with pytest.raises(CommandError, match="No app installation with id 999"):
        run("scim_uninstall", "999", "--actor", owner.user.email)


def test_install_while_scim_off_is_a_command_error(org, owner):
    with pytest.raises(CommandError, match="Enable SCIM"):
        run("scim_install", org.uid, "--app", OKTA, "--actor", owner.user.email, "--json")
    assert not AppInstallation.objects.exists()


def test_second_install_is_a_command_error(org, owner):
    run("scim_enable", org.uid, "--actor", owner.user.email)
    install_json(org, owner.user.email)
    with pytest.raises(CommandError, match="already installed"):
        install_json(org, owner.user.email)


def test_rotate_token_replaces_the_old_one(org, owner):
    run("scim_enable", org.uid, "--actor", owner.user.email)
    first = install_json(org, owner.user.email)

    out = run("scim_rotate_token", str(first["installation_id"]), "--actor", owner.user.email, "--json")

    rotated = json.loads(out)
    assert rotated["installation_id"] == first["installation_id"]
    assert rotated["scim_url"] == first["scim_url"]
    assert isinstance(check(first["secret_token"], org.uid), Refusal)
    assert isinstance(check(rotated["secret_token"], org.uid), SecretToken)


def test_rotate_and_uninstall_check_the_actor_against_the_installations_org(org, owner, other_org):
    run("scim_enable", org.uid, "--actor", owner.user.email)
    payload = install_json(org, owner.user.email)
    stranger = builders.owner_of(other_org).user.email

    with pytest.raises(CommandError, match="not an active Owner or Admin"):
        run("scim_rotate_token", str(payload["installation_id"]), "--actor", stranger)
    with pytest.raises(CommandError, match="not an active Owner or Admin"):
        run("scim_uninstall", str(payload["installation_id"]), "--actor", stranger)
    assert isinstance(check(payload["secret_token"], org.uid), SecretToken)


def test_uninstall_then_disable(org, owner):
    run("scim_enable", org.uid, "--actor", owner.user.email)
    payload = install_json(org, owner.user.email)

    run("scim_uninstall", str(payload["installation_id"]), "--actor", owner.user.email)
    assert isinstance(check(payload["secret_token"], org.uid), Refusal)
    with pytest.raises(CommandError, match="uninstalled"):
        run("scim_uninstall", str(payload["installation_id"]), "--actor", owner.user.email)

    run("scim_disable", org.uid, "--actor", owner.user.email)
    org.refresh_from_db()
    assert not org.scim_enabled
    assert AppInstallation.objects.filter(pk=payload["installation_id"]).exists()
