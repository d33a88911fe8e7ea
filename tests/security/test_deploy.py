"""The security review, pinned: production settings pass `check --deploy`,
cookies are secure, HSTS and CSRF on, passwords hashed with Argon2, secrets
never in logs, audit entries, activity rows or pages after the one that shows
them, and the audit log is browsable and filterable per org by its admins."""
from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from tests import builders
from tests.scim.api.helpers import ScimClient, new_user, patch_body

ROOT = Path(__file__).resolve().parents[2]


def production_env(**extra: str) -> dict[str, str]:
    # Production as deployed: no test-only switches (the browser fixture sets DJANGO_ALLOW_ASYNC_UNSAFE).
    dropped = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="orgdesk.example.com", **extra)
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean_under_production_settings():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = production_env()
    env.pop("SECRET_KEY")
    result = run(["manage.py", "check"], env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_settings_are_hardened():
    script = (
        "import json, django; django.setup(); from django.conf import settings as s; print(json.dumps({k: getattr(s, k) "
        "for k in ['SESSION_COOKIE_SECURE','CSRF_COOKIE_SECURE','SESSION_COOKIE_HTTPONLY','SECURE_HSTS_SECONDS',"
        "'SECURE_HSTS_INCLUDE_SUBDOMAINS','SECURE_SSL_REDIRECT','SECURE_CONTENT_TYPE_NOSNIFF','X_FRAME_OPTIONS',"
        "'MIDDLEWARE','PASSWORD_HASHERS','DEBUG']}))"
    )
    result = run(["-c", script], production_env(DJANGO_SETTINGS_MODULE="config.settings"))
    assert result.returncode == 0, result.stderr
    conf = json.loads(result.stdout.strip().splitlines()[-1])
    assert conf["DEBUG"] is False
    assert conf["SESSION_COOKIE_SECURE"] and conf["CSRF_COOKIE_SECURE"] and conf["SESSION_COOKIE_HTTPONLY"]
    assert conf["SECURE_HSTS_SECONDS"] >= 31536000 and conf["SECURE_HSTS_INCLUDE_SUBDOMAINS"]
    assert conf["SECURE_SSL_REDIRECT"] and conf["SECURE_CONTENT_TYPE_NOSNIFF"] and conf["X_FRAME_OPTIONS"] == "DENY"
    assert "django.middleware.csrf.CsrfViewMiddleware" in conf["MIDDLEWARE"]
    assert conf["PASSWORD_HASHERS"][0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


@pytest.mark.django_db
def test_passwords_are_stored_as_argon2(settings):
    import config.settings as configured

    settings.PASSWORD_HASHERS = configured.PASSWORD_HASHERS  # tests/conftest.py speeds tests up with MD5
    org = builders.make_org("Hashing")
    user = builders.owner_of(org).user
    assert user.password.startswith("argon2$argon2id$")
    assert user.check_password(builders.PASSWORD)


@pytest.mark.django_db
def test_admin_login_enforces_csrf(owner):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/admin/login/", {"username": owner.user.email, "password": builders.PASSWORD})
    assert response.status_code == 403


# --- secrets never leak ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_secret_tokens_never_reach_logs_audit_activity_or_later_pages(owner, org, caplog):
    from organizations.models import AuditEvent
    from scim.models import ProvisioningEvent

    caplog.set_level(logging.DEBUG)
    admin = Client()
    admin.force_login(owner.user)
    assert admin.post(reverse("admin:org-settings-scim-enable", args=[org.uid])).status_code in (200, 302)
    response = admin.post(reverse("admin:marketplace-install", args=[org.uid, "okta-generic-scim"]), follow=True)
    assert response.status_code == 200 and response.redirect_chain[0][1] == 302  # Post/Redirect/Get
    token = response.context["secret_token"]
    installation = response.context["installation"]
    assert token in response.content.decode()  # shown once, on this page only
    assert token not in str(dict(admin.session))  # the session held it only until the token page was shown
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]

    scim = ScimClient(org, token, Client())
    user_id = scim.post("/Users", new_user("leak@example.com")).json()["id"]
    scim.patch(f"/Users/{user_id}", patch_body({"op": "replace", "value": {"active": False}}))
    scim.post("/Groups", {"displayName": "Engineering"})
    scim.get("/Users/not-a-number")
    Client().get(f"/scim/v2/organizations/{org.uid}/Users?access_token={token}", HTTP_AUTHORIZATION=f"Bearer {token}x")
    regenerate = admin.post(
        reverse("admin:marketplace-installation-regenerate", args=[org.uid, installation.pk]),
        {"token": token.split("_")[1]},  # the prefix of the token it replaces
        follow=True,
    )
    new_token = regenerate.context["secret_token"] if regenerate.context and "secret_token" in regenerate.context else None

    later_pages = [
        admin.get(reverse("admin:marketplace-installation-token", args=[org.uid, installation.pk])),
        admin.get(reverse("admin:marketplace-installation", args=[org.uid, installation.pk])),
        admin.get(reverse("admin:org-settings-scim", args=[org.uid])),
        admin.get(reverse("admin:org-settings-audit", args=[org.uid])),
    ]
    for secret in filter(None, [token, new_token]):
        assert secret not in caplog.text
        for page in later_pages:
            assert secret not in page.content.decode()
        for event in AuditEvent.objects.all():
            assert secret not in json.dumps([event.before, event.after, event.target_label, event.actor_label])
        for row in ProvisioningEvent.objects.all():
            assert secret not in f"{row.path} {row.target} {row.detail} {row.operation}"


# --- the audit log, per org -------------------------------------------------------------------------


@pytest.mark.django_db
def test_audit_log_is_browsable_and_filterable_per_org_by_its_admins(org, other_org, owner, admin_member):
    from organizations import services

    third = builders.make_org("Initech")
    # admin_member manages Acme and (as Admin) Initech, but not Globex
    builders.make_member(third, admin_member.user.email, role="admin")  # asked to join, and joined
    services.rename_organization(org, "Acme Renamed", actor=owner.user)
    services.rename_organization(third, "Initech Renamed", actor=None)
    services.rename_organization(other_org, "Globex Secret", actor=None)

    client = Client()
    client.force_login(admin_member.user)
    acme = client.get(reverse("admin:org-settings-audit", args=[org.uid]))
    assert acme.status_code == 200
    assert {e.event.organization_id for e in acme.context["entries"]} == {org.pk}
    assert f"{owner.user.email} renamed the organization from Acme to Acme Renamed" in acme.content.decode()
    assert "Globex" not in acme.content.decode() and "Initech" not in acme.content.decode()
    initech = client.get(reverse("admin:org-settings-audit", args=[third.uid]), {"kind": "settings"})
    assert [e.sentence for e in initech.context["entries"]][0] == (
        "Orgdesk renamed the organization from Initech to Initech Renamed"
    )
    assert client.get(reverse("admin:org-settings-audit", args=[other_org.uid])).status_code == 404
    # The raw audit changelist is the operators' tool.
    assert client.get(reverse("admin:organizations_auditevent_changelist")).status_code == 403


@pytest.mark.django_db
def test_members_cannot_browse_the_audit_log(plain_member):
    client = Client()
    client.force_login(plain_member.user)
    response = client.get(reverse("admin:organizations_auditevent_changelist"))
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
