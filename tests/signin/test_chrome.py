"""One chrome for every page: the header (who you are, Home, Organization
Settings where you manage one, Change password, Sign out), the password change
page for everyone, branded error pages, the favicon, the password reset pages
listing the password rules."""
from __future__ import annotations

import pytest
from django.contrib.auth.password_validation import password_validators_help_texts
from django.test import override_settings
from django.urls import reverse

from organizations.models import AuditEvent
from tests import builders

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple 9"


def header(page: str) -> str:
    return page.split('id="user-tools"')[1].split("</nav>")[0]


def test_one_header_on_admin_and_signin_pages(client, owner, org):
    client.force_login(owner.user)
    for url in (reverse("admin:index"), reverse("admin:org-settings", args=[org.uid]), reverse("member_home"),
                reverse("account_password_change")):
        page = client.get(url).content.decode()
        tools = header(page)
        assert owner.user.email in tools, url
        assert reverse("member_home") in tools and "Organization Settings" in tools
        assert 'id="signout-form"' in tools and 'class="od-signout"' in tools
        assert "View site" not in page and "Log out" not in page and "Welcome," not in page
        assert 'rel="icon"' in page


def test_member_header_has_no_org_settings_and_changes_password(client, plain_member, org):
    plain_member.user.set_password(PASSWORD)
    plain_member.user.save()
    client.force_login(plain_member.user)
    tools = header(client.get(reverse("member_home")).content.decode())
    assert "Organization Settings" not in tools and reverse("account_password_change") in tools
    assert client.get("/admin/password_change/")["Location"] == reverse("account_password_change")

    page = client.get(reverse("account_password_change")).content.decode()
    for rule in password_validators_help_texts():
        assert rule in page.replace("&#x27;", "'")
    response = client.post(reverse("account_password_change"), {
        "old_password": PASSWORD, "new_password1": "a new and long passphrase 42", "new_password2": "a new and long passphrase 42",
    })
    assert response.status_code == 302 and response["Location"] == reverse("member_home")
    plain_member.user.refresh_from_db()
    assert plain_member.user.check_password("a new and long passphrase 42")
    assert AuditEvent.objects.filter(action="account.password_change", actor_label=plain_member.user.email).count() == 1
    # still signed in
    assert client.get(reverse("member_home")).status_code == 200


def test_account_without_password_is_told_how_it_signs_in(client, plain_member):
    plain_member.user.set_unusable_password()
    plain_member.user.save()
    client.force_login(plain_member.user)
    page = client.get(reverse("account_password_change")).content.decode()
    assert 'id="no-password"' in page


def test_password_reset_pages_list_the_rules(client):
    page = client.get(reverse("password_reset")).content.decode()
    assert 'id="password-reset-form"' in page
    bad = client.get(reverse("password_reset_confirm", args=["MQ", "set-password"])).content.decode()
    assert 'id="reset-link-invalid"' in bad


@override_settings(DEBUG=True)
def test_403_is_branded_with_a_way_back_also_under_debug(client, owner):
    client.force_login(owner.user)
    response = client.get("/admin/organizations/organization/")
    assert response.status_code == 403
    page = response.content.decode()
    assert 'id="error-home"' in page and 'id="user-tools"' in page


def test_404_is_branded(client, owner):
    client.force_login(owner.user)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert 'id="error-home"' in response.content.decode()


def test_500_page_renders_without_context():
    from django.test import RequestFactory

    from organizations.signin.errors import server_error

    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500 and b'id="error-home"' in response.content


def test_favicon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"].endswith(".svg")


def test_the_old_password_on_change_password_is_throttled_like_a_sign_in(client, settings):
    settings.ADMIN_LOGIN_FAILURES_PER_ACCOUNT = 3
    settings.ADMIN_LOGIN_FAILURES_PER_ADDRESS = 50
    member = builders.make_member(builders.make_org("Acme"), "guess@acme.example")
    client.force_login(member.user)
    url = reverse("account_password_change")
    new = {"new_password1": "another-long-passphrase-9", "new_password2": "another-long-passphrase-9"}
    for _ in range(3):
        assert client.post(url, {"old_password": "wrong", **new}).status_code == 200
    paused = client.post(url, {"old_password": builders.PASSWORD, **new})
    assert paused.status_code == 200 and b"paused" in paused.content.lower()
    member.user.refresh_from_db()
    assert member.user.check_password(builders.PASSWORD)
