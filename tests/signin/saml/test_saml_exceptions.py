"""Strict mode exceptions: the Owner names members who keep signing in with a
password; removing the exception stops their password sessions opening the org."""
from __future__ import annotations

import pytest
from django.urls import reverse

from organizations.models import AuditEvent, Membership
from organizations.signin.saml import services
from tests import builders

pytestmark = pytest.mark.django_db


def _password_login(client, email):
    return client.post(reverse("admin:login"), {"username": email, "password": builders.PASSWORD})


@pytest.fixture
def strict_org(sso_org):
    services.set_strict(sso_org, True, actor=builders.owner_of(sso_org).user)
    return sso_org


def test_an_exempt_member_signs_in_with_a_password_and_removing_it_ends_that(client, strict_org):
    owner = builders.owner_of(strict_org).user
    auditor = builders.make_member(strict_org, "auditor@outside.example", role="admin")
    settings_url = reverse("admin:org-settings", args=[strict_org.uid])
    assert _password_login(client, auditor.user.email).status_code == 200  # refused: Strict mode

    owner_client = client.__class__()
    owner_client.force_login(owner)
    exceptions_url = reverse("admin:org-settings-sso-exceptions", args=[strict_org.uid])
    assert owner_client.post(exceptions_url, {"sso-exception-membership": auditor.pk}).status_code == 302
    assert Membership.objects.get(pk=auditor.pk).sso_exempt
    tab = owner_client.get(reverse("admin:org-settings-sso", args=[strict_org.uid])).content.decode()
    assert "auditor@outside.example" in tab
    members = owner_client.get(reverse("admin:org-settings-members", args=[strict_org.uid])).content.decode()
    assert "Strict mode exception" in members

    assert _password_login(client, auditor.user.email).status_code == 302
    assert client.get(settings_url).status_code == 200

    assert owner_client.post(exceptions_url, {"remove": auditor.pk}).status_code == 302
    refused = client.get(settings_url)  # the same password session, next request
    assert refused.status_code == 302 and refused["Location"] == reverse("saml:login", args=[strict_org.uid])
    actions = list(AuditEvent.objects.filter(action__startswith="sso.exception_").values_list("action", flat=True))
    assert actions == ["sso.exception_remove", "sso.exception_add"]


def test_only_the_owner_sets_exceptions_and_never_for_another_orgs_member(client, strict_org, other_org):
    admin = builders.make_member(strict_org, "admin@acme.example", role="admin")
    stranger = builders.make_member(other_org, "someone@globex.example")
    url = reverse("admin:org-settings-sso-exceptions", args=[strict_org.uid])
    other = builders.make_member(strict_org, "member@acme.example")
    services.set_sso_exemption(admin, True, actor=builders.owner_of(strict_org).user)  # so a password opens the org
    client.force_login(admin.user)
    assert client.post(url, {"sso-exception-membership": other.pk}).status_code == 403
    with pytest.raises(services.permissions.NotPermitted):
        services.set_sso_exemption(other, True, actor=admin.user)
    client.force_login(builders.owner_of(strict_org).user)
    client.post(url, {"sso-exception-membership": stranger.pk})
    assert client.post(url, {"remove": stranger.pk}).status_code == 404
    assert list(Membership.objects.filter(sso_exempt=True)) == [admin]
