"""SSO settings through the service and the commands; Strict mode on the
password form; the replay cache on Redis and its database fallback."""
from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from organizations.models import Membership, AuditEvent
from organizations.signin.saml import config, replay, services
from organizations.signin.saml.models import SsoSettings, UsedAssertion
from tests import builders

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_sso_configure_prints_the_sp_values_and_audits(org, owner, idp, tmp_path):
    metadata = tmp_path / "idp.xml"
    metadata.write_text(idp.metadata())
    out = run("sso_configure", org.uid, "--metadata", str(metadata), "--actor", owner.user.email,
              "--enable", "--strict", "--json")
    printed = json.loads(out)
    assert printed == config.sp_urls(org).as_dict()
    assert printed["acs_url"].endswith(f"/sso/saml/{org.uid}/acs/")
    sso = SsoSettings.objects.get(organization=org)
    assert (sso.enabled, sso.strict, sso.idp_entity_id, sso.idp_sso_url) == (True, True, idp.entity_id, idp.sso_url)
    actions = list(AuditEvent.objects.filter(organization=org, action__startswith="sso.").values_list("action", flat=True))
    assert sorted(actions) == ["sso.create", "sso.enable", "sso.set_identity_provider", "sso.set_strict"]
    assert "BEGIN CERTIFICATE" not in json.dumps(list(AuditEvent.objects.values_list("after", flat=True)))

    run("sso_disable", org.uid, "--actor", owner.user.email)
    sso.refresh_from_db()
    assert (sso.enabled, sso.strict) == (False, False)
    assert AuditEvent.objects.filter(organization=org, action="sso.disable").exists()


def test_only_the_owner_configures_sso(org, admin_member, idp, tmp_path):
    metadata = tmp_path / "idp.xml"
    metadata.write_text(idp.metadata())
    with pytest.raises(CommandError, match="only the Owner configures SSO"):
        run("sso_configure", org.uid, "--metadata", str(metadata), "--actor", admin_member.user.email, "--json")
    assert not SsoSettings.objects.exists()


def test_bad_metadata_changes_nothing(org, owner, tmp_path):
    metadata = tmp_path / "idp.xml"
    metadata.write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "x">]><x>&e;</x>')
    with pytest.raises(CommandError, match="not valid SAML metadata"):
        run("sso_configure", org.uid, "--metadata", str(metadata), "--actor", owner.user.email, "--enable")
    assert not SsoSettings.objects.exists()


def test_sign_in_name_is_fixed_once_created(org, owner):
    services.create_settings(org, actor=owner.user, signin_name="acme")
    with pytest.raises(services.ServiceError, match="cannot change"):
        services.create_settings(org, actor=owner.user, signin_name="other")


def test_enable_needs_the_identity_provider(org, owner):
    services.create_settings(org, actor=owner.user)
    with pytest.raises(services.ServiceError, match="before enabling SSO"):
        services.enable_sso(org, actor=owner.user)


def test_certificate_expiring_soon_is_flagged():
    from tests.saml_idp import TestIdP

    info = services.certificate_info(TestIdP(days_valid=10).cert_pem)
    assert info.expires_soon and not info.expired and "CN=Test IdP" in info.subject
    assert not services.certificate_info(TestIdP(days_valid=90).cert_pem).expires_soon


# ---- Strict mode -----------------------------------------------------------------


def _password_login(client, email: str):
    return client.post(reverse("admin:login"), {"username": email, "password": builders.PASSWORD})


def test_strict_mode_refuses_password_sign_in_except_for_the_owner(client, sso_org):
    owner = builders.owner_of(sso_org).user
    admin = builders.make_member(sso_org, "admin@acme.example", role="admin").user
    services.set_strict(sso_org, True, actor=owner)

    refused = _password_login(client, admin.email)
    assert refused.status_code == 200 and "_auth_user_id" not in client.session
    assert "requires signing in through its identity provider" in refused.content.decode()

    assert _password_login(client, owner.email).status_code == 302
    assert client.session["_auth_user_id"] == str(owner.pk)


def test_strict_mode_binds_its_own_org_and_a_password_still_opens_the_others(client, sso_org, other_org):
    """A password session opens every org that allows passwords; the strict org
    asks for its IdP. Only someone whose every org is strict is refused outright."""
    person = builders.make_member(sso_org, "both@acme.example", role="admin").user
    builders.make_member(other_org, "both@acme.example", role="admin")
    services.set_strict(sso_org, True, actor=builders.owner_of(sso_org).user)
    assert _password_login(client, person.email).status_code == 302
    assert client.get(reverse("admin:org-settings", args=[other_org.uid])).status_code == 200
    strict = client.get(reverse("admin:org-settings", args=[sso_org.uid]))
    assert strict.status_code == 302 and strict["Location"] == reverse("saml:login", args=[sso_org.uid])
    client.logout()
    Membership.objects.filter(organization=other_org, user=person).delete()
    assert _password_login(client, person.email).status_code == 200
    assert "_auth_user_id" not in client.session


def test_without_strict_mode_passwords_keep_working(client, sso_org):
    admin = builders.make_member(sso_org, "admin@acme.example", role="admin").user
    assert _password_login(client, admin.email).status_code == 302


# ---- replay cache ------------------------------------------------------------------


def test_replay_cache_falls_back_to_the_database_when_the_cache_is_down(org, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0",
                                   "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2}}}
    until = timezone.now() + timezone.timedelta(minutes=5)
    assert replay.claim(org, "_abc", until) is True
    assert replay.claim(org, "_abc", until) is False
    assert UsedAssertion.objects.filter(organization=org, assertion_id="_abc").exists()


@pytest.mark.redis
def test_replay_cache_on_redis(org, other_org, redis_cache):
    until = timezone.now() + timezone.timedelta(minutes=5)
    assert replay.claim(org, "_abc", until) is True
    assert replay.claim(org, "_abc", until) is False
    assert replay.claim(other_org, "_abc", until) is True  # per org: each SP's audience is its own
    assert not UsedAssertion.objects.exists()
    keys = list(redis_cache.scan_iter("*saml-assertion*"))
    assert len(keys) == 2 and 0 < redis_cache.ttl(keys[0]) <= 5 * 60 + 60 + 120


def test_services_refuse_an_admin_actor(sso_org):
    admin = builders.make_member(sso_org, "admin@acme.example", role="admin").user
    for change in (lambda: services.disable_sso(sso_org, actor=admin),
                   lambda: services.set_strict(sso_org, True, actor=admin),
                   lambda: services.create_settings(sso_org, actor=admin)):
        with pytest.raises(services.ServiceError, match="only the Owner configures SSO"):
            change()
    sso = SsoSettings.objects.get(organization=sso_org)
    assert (sso.enabled, sso.strict) == (True, False)
