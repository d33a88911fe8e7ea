"""Two-factor authentication over HTTP (the Django test client, as a browser):
enrolling from the home page (the secret read from the page, codes computed
here with pyotp), the second step of a password sign-in, wrong, replayed and
throttled codes, recovery codes (once each), an org that requires it, SSO
sign-ins exempt, the Owner's break-glass into a Strict-mode org, operators
made to enrol, and a lost device reset by the Owner, audited."""
from __future__ import annotations

import re
import time

import pyotp
import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

from organizations import audit_actions
from organizations.models import AuditEvent, User
from organizations.signin.mfa import services as mfa
from organizations.signin.mfa.models import RecoveryCode
from organizations.signin.saml import services as sso_services
from tests import builders
from tests.signin.saml.conftest import idp, post_acs, sp, sso_org  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

SECRET = re.compile(r'id="mfa-secret">([A-Z2-7]+)<')
RECOVERY = re.compile(r"<code>([a-z0-9]{5}-[a-z0-9]{5})</code>")


class Authenticator:
    """The phone: codes from the secret shown on the page, each call a later time
    step (as if 30 s passed), inside the window django-otp accepts."""

    def __init__(self, secret: str):
        self.totp, self.step = pyotp.TOTP(secret), 0

    def code(self) -> str:
        code = self.totp.at(time.time() + 30 * self.step)
        self.step += 1
        return code

    def wrong(self) -> str:
        valid = {self.totp.at(time.time() + 30 * k) for k in range(-2, self.step + 3)}
        return next(c for c in (f"{n:06d}" for n in range(123456, 999999, 7919)) if c not in valid)


def password_signin(client: Client, email: str, next_url: str = ""):
    data = {"username": email, "password": builders.PASSWORD}
    if next_url:
        data["next"] = next_url
    return client.post(reverse("admin:login"), data)


def enrol(client: Client) -> tuple[Authenticator, list[str]]:
    """From the home page's link to the codes shown once."""
    home = client.get(reverse("member_home"))
    assert home.status_code == 200 and reverse("mfa_manage") in home.content.decode()
    page = client.get(reverse("mfa_manage"))
    html = page.content.decode()
    assert 'id="mfa-qr"' in html and 'src="data:image/svg+xml' in html
    phone = Authenticator(SECRET.search(html).group(1))
    done = client.post(reverse("mfa_manage"), {"action": "enrol", "code": phone.code()})
    assert done.status_code == 200
    codes = RECOVERY.findall(done.content.decode())
    assert len(codes) == 10
    return phone, codes


def signed_in(client: Client) -> bool:
    return SESSION_KEY in client.session


@pytest.fixture
def member(org):
    return builders.make_member(org, "member@acme.example")


@pytest.fixture
def enrolled(client, member):
    """The member enrolled in a password session, then signed out."""
    assert password_signin(client, member.user.email).status_code == 302
    phone, codes = enrol(client)
    client.post(reverse("signout"))
    return phone, codes


# --- enrolling ------------------------------------------------------------------------------

def test_enrolling_confirms_the_device_only_after_a_valid_code_and_stores_codes_hashed(client, member):
    client.force_login(member.user)
    html = client.get(reverse("mfa_manage")).content.decode()
    phone = Authenticator(SECRET.search(html).group(1))
    assert client.get(reverse("mfa_manage")).content.decode().count(SECRET.search(html).group(1)) == 1  # same key on reload
    refused = client.post(reverse("mfa_manage"), {"action": "enrol", "code": phone.wrong()})
    assert refused.status_code == 400 and not mfa.has_mfa(member.user)
    done = client.post(reverse("mfa_manage"), {"action": "enrol", "code": phone.code()})
    codes = RECOVERY.findall(done.content.decode())
    assert mfa.has_mfa(member.user) and len(codes) == 10
    stored = set(RecoveryCode.objects.filter(user=member.user).values_list("code_hash", flat=True))
    assert len(stored) == 10 and not any(c.replace("-", "") in h or c in h for c in codes for h in stored)
    # Shown once: the page now says it is on and shows neither the key nor the codes.
    after = client.get(reverse("mfa_manage")).content.decode()
    assert "is <strong>on</strong>" in after and codes[0] not in after and 'id="mfa-secret"' not in after
    assert AuditEvent.objects.filter(action="account.mfa_enrolled", actor_label=member.user.email).count() == 1


# --- signing in ------------------------------------------------------------------------------

def test_password_then_code_signs_in_and_the_password_alone_does_not(client, enrolled, member):
    phone, _ = enrolled
    response = password_signin(client, member.user.email)
    assert response.status_code == 302 and response["Location"] == reverse("mfa_challenge")
    assert not signed_in(client)
    assert client.get(reverse("member_home")).status_code == 302  # not signed in: to the sign-in page
    assert client.get(reverse("mfa_challenge")).status_code == 200
    ok = client.post(reverse("mfa_challenge"), {"code": phone.code()})
    assert ok.status_code == 302 and ok["Location"] == reverse("member_home")
    assert signed_in(client) and client.session["_auth_user_backend"] == "organizations.backends.EmailBackend"
    assert client.session["orgdesk_auth"]["password"] is True
    assert client.get(reverse("member_home")).status_code == 200
    assert AuditEvent.objects.filter(action="account.mfa_challenge_passed", after__method="totp").count() == 1


def test_a_wrong_code_is_refused_and_audited(client, enrolled, member):
    phone, _ = enrolled
    password_signin(client, member.user.email)
    refused = client.post(reverse("mfa_challenge"), {"code": phone.wrong()})
    assert refused.status_code == 400 and b"not valid" in refused.content and not signed_in(client)
    assert AuditEvent.objects.filter(action="account.mfa_challenge_failed", target_label=member.user.email).exists()


def test_a_replayed_code_is_refused(client, enrolled, member):
    phone, _ = enrolled
    code = phone.code()
    password_signin(client, member.user.email)
    assert client.post(reverse("mfa_challenge"), {"code": code}).status_code == 302
    client.post(reverse("signout"))
    password_signin(client, member.user.email)
    replay = client.post(reverse("mfa_challenge"), {"code": code})
    assert replay.status_code == 400 and not signed_in(client)
    assert client.post(reverse("mfa_challenge"), {"code": phone.code()}).status_code == 302  # the next one works


def test_a_second_browser_cannot_replay_the_code_just_used(enrolled, member):
    phone, _ = enrolled
    first, second = Client(), Client()
    password_signin(first, member.user.email)
    password_signin(second, member.user.email)
    code = phone.code()
    assert first.post(reverse("mfa_challenge"), {"code": code}).status_code == 302
    assert second.post(reverse("mfa_challenge"), {"code": code}).status_code == 400 and not signed_in(second)


def test_a_recovery_code_works_once(client, enrolled, member):
    _, codes = enrolled
    password_signin(client, member.user.email)
    used = client.post(reverse("mfa_challenge"), {"code": codes[0].upper().replace("-", " ")})
    assert used.status_code == 302 and signed_in(client)
    assert AuditEvent.objects.filter(action="account.mfa_recovery_code_used", after__left=9).count() == 1
    client.post(reverse("signout"))
    password_signin(client, member.user.email)
    again = client.post(reverse("mfa_challenge"), {"code": codes[0]})
    assert again.status_code == 400 and not signed_in(client)
    assert client.post(reverse("mfa_challenge"), {"code": codes[1]}).status_code == 302


def test_the_pending_step_expires(client, enrolled, member, settings):
    phone, _ = enrolled
    password_signin(client, member.user.email)
    pending = client.session["orgdesk_mfa_pending"]
    session = client.session
    session["orgdesk_mfa_pending"] = {**pending, "at": time.time() - settings.MFA_CHALLENGE_SECONDS - 1}
    session.save()
    expired = client.post(reverse("mfa_challenge"), {"code": phone.code()})
    assert expired.status_code == 302 and expired["Location"] == reverse("admin:login") and not signed_in(client)


def test_the_challenge_page_without_a_password_first_goes_to_sign_in(client, enrolled):
    assert client.get(reverse("mfa_challenge"))["Location"] == reverse("admin:login")


def test_code_attempts_are_throttled_like_the_password(client, enrolled, member, settings):
    phone, _ = enrolled
    password_signin(client, member.user.email)
    for _ in range(settings.ADMIN_LOGIN_FAILURES_PER_ACCOUNT):
        client.post(reverse("mfa_challenge"), {"code": phone.wrong()})
    paused = client.post(reverse("mfa_challenge"), {"code": phone.code()})
    assert paused.status_code == 400 and b"paused" in paused.content and not signed_in(client)
    # Its own counters: the password still signs in (to the second step).
    other = Client()
    assert password_signin(other, member.user.email)["Location"] == reverse("mfa_challenge")


def test_an_admin_goes_on_to_the_page_they_asked_for(org):
    admin = builders.make_member(org, "admin@acme.example", role="admin")
    client = Client()
    password_signin(client, admin.user.email)
    phone, _ = enrol(client)
    client.post(reverse("signout"))
    target = reverse("admin:org-settings-members", args=[org.uid])
    password_signin(client, admin.user.email, next_url=target)
    assert client.post(reverse("mfa_challenge"), {"code": phone.code()})["Location"] == target
    assert client.get(target).status_code == 200


def test_turning_it_off_asks_for_a_code(client, enrolled, member):
    phone, _ = enrolled
    password_signin(client, member.user.email)
    client.post(reverse("mfa_challenge"), {"code": phone.code()})
    refused = client.post(reverse("mfa_manage"), {"action": "disable", "code": phone.wrong()})
    assert refused.status_code == 400 and mfa.has_mfa(member.user)
    client.post(reverse("mfa_manage"), {"action": "disable", "code": phone.code()})
    assert not mfa.has_mfa(member.user) and not RecoveryCode.objects.filter(user=member.user).exists()
    assert AuditEvent.objects.filter(action="account.mfa_disabled").count() == 1
    client.post(reverse("signout"))
    assert password_signin(client, member.user.email)["Location"] == reverse("member_home")


# --- the org requires it ----------------------------------------------------------------------

def test_an_org_that_requires_it_sends_members_to_enrol_at_their_next_password_signin(org, owner, member):
    owner_client = Client()
    owner_client.force_login(owner.user)
    general = owner_client.get(reverse("admin:org-settings", args=[org.uid]))
    assert b'id="mfa-policy-form"' in general.content
    owner_client.post(reverse("admin:org-mfa-policy", args=[org.uid]), {"required": "on"})
    assert mfa.org_requires(org)
    assert AuditEvent.objects.filter(organization=org, action="organization.mfa_required", after__required=True).exists()

    client = Client()
    assert password_signin(client, member.user.email).status_code == 302
    blocked = client.get(reverse("member_home"))
    assert blocked.status_code == 302 and blocked["Location"] == reverse("mfa_manage")
    assert client.post(reverse("signout")).status_code == 302  # signing out stays possible

    password_signin(client, member.user.email)
    page = client.get(reverse("mfa_manage")).content.decode()
    assert "Acme requires two-factor authentication." in page
    phone = Authenticator(SECRET.search(page).group(1))
    client.post(reverse("mfa_manage"), {"action": "enrol", "code": phone.code()})
    assert client.get(reverse("member_home")).status_code == 200

    # The Members tab shows who has it (one query for the page's accounts).
    members_tab = owner_client.get(reverse("admin:org-settings-members", args=[org.uid])).content.decode()
    row = re.search(r'<tr data-member="member@acme.example".*?</tr>', members_tab, re.S).group(0)
    assert '<td class="member-mfa">On</td>' in row
    owner_row = re.search(r'<tr data-member="owner[^"]*".*?</tr>', members_tab, re.S).group(0)
    assert '<td class="member-mfa">—</td>' in owner_row


def test_only_the_owner_changes_the_policy(org):
    admin = builders.make_member(org, "admin@acme.example", role="admin")
    client = Client()
    client.force_login(admin.user)
    assert b'id="mfa-policy-form"' not in client.get(reverse("admin:org-settings", args=[org.uid])).content
    client.post(reverse("admin:org-mfa-policy", args=[org.uid]), {"required": "on"})
    assert not mfa.org_requires(org)
    outsider = Client()
    outsider.force_login(builders.make_member(builders.make_org("Globex"), "x@globex.example", role="admin").user)
    assert outsider.post(reverse("admin:org-mfa-policy", args=[org.uid]), {"required": "on"}).status_code == 404


def test_operators_enrol_before_any_admin_page_opens():
    User.objects.create_superuser("operator@orgdesk.example", builders.PASSWORD)
    client = Client()
    assert password_signin(client, "operator@orgdesk.example").status_code == 302
    for url in (reverse("admin:index"), "/admin/organizations/organization/", reverse("member_home")):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == reverse("mfa_manage"), url
    assert client.post("/admin/organizations/organization/add/", {}).status_code == 302
    page = client.get(reverse("mfa_manage")).content.decode()
    assert "Operators must use two-factor authentication." in page
    phone = Authenticator(SECRET.search(page).group(1))
    client.post(reverse("mfa_manage"), {"action": "enrol", "code": phone.code()})
    assert client.get(reverse("admin:index")).status_code == 200
    client.post(reverse("signout"))
    assert password_signin(client, "operator@orgdesk.example")["Location"] == reverse("mfa_challenge")
    assert client.post(reverse("mfa_challenge"), {"code": phone.code()})["Location"] == reverse("admin:index")
    assert client.get(reverse("admin:index")).status_code == 200


# --- single sign-on ---------------------------------------------------------------------------

def test_sso_signins_are_exempt(client, sso_org, sp, idp):  # noqa: F811
    owner = builders.owner_of(sso_org).user
    mfa.set_required(sso_org, True, actor=owner)
    builders.make_provisioned(sso_org, "member@acme.example")
    response = post_acs(client, sso_org, idp.response(sp, "member@acme.example"))
    assert response.status_code == 302 and signed_in(client)
    assert client.get(reverse("member_home")).status_code == 200  # no enrolment asked


def test_an_sso_signin_of_an_enrolled_person_asks_no_code(client, sso_org, sp, idp):  # noqa: F811
    builders.make_provisioned(sso_org, "member@acme.example")
    assert post_acs(client, sso_org, idp.response(sp, "member@acme.example")).status_code == 302
    enrol(client)
    client.post(reverse("signout"))
    assert post_acs(client, sso_org, idp.response(sp, "member@acme.example")).status_code == 302
    assert signed_in(client) and client.get(reverse("member_home")).status_code == 200


def test_break_glass_into_a_strict_org_needs_the_owners_code(client, sso_org):  # noqa: F811
    owner = builders.owner_of(sso_org).user
    sso_services.set_strict(sso_org, True, actor=owner)
    settings_url = reverse("admin:org-settings", args=[sso_org.uid])
    password_signin(client, owner.email)  # not enrolled yet: the password is the break-glass path
    phone, _ = enrol(client)
    client.post(reverse("signout"))

    assert password_signin(client, owner.email, next_url=settings_url)["Location"] == reverse("mfa_challenge")
    assert client.get(settings_url).status_code == 302 and not signed_in(client)
    assert client.post(reverse("mfa_challenge"), {"code": phone.wrong()}).status_code == 400
    assert client.post(reverse("mfa_challenge"), {"code": phone.code()})["Location"] == settings_url
    assert client.get(settings_url).status_code == 200


def test_confirming_the_password_in_an_sso_session_asks_for_the_code_too(client, sso_org, sp, idp):  # noqa: F811
    """An IdP-signed session opening another org with the password: the code as well."""
    other = builders.make_org("Globex")
    person = builders.make_member(other, "pat@acme.example", role="admin")
    builders.make_member(sso_org, "pat@acme.example")
    from tests.signin.saml.conftest import link

    link(sso_org, person.user.memberships.get(organization=sso_org))
    password_signin(client, "pat@acme.example")
    phone, _ = enrol(client)
    client.post(reverse("signout"))
    assert post_acs(client, sso_org, idp.response(sp, "pat@acme.example")).status_code == 302
    globex = reverse("admin:org-settings", args=[other.uid])
    asked = client.get(globex)
    assert asked.status_code == 302 and asked["Location"].startswith(reverse("confirm_password"))
    step = client.post(reverse("confirm_password"), {"password": builders.PASSWORD, "next": globex})
    assert step["Location"] == reverse("mfa_challenge")
    assert client.get(globex).status_code == 302  # the password alone did not open it
    assert client.post(reverse("mfa_challenge"), {"code": phone.code()})["Location"] == globex
    assert client.get(globex).status_code == 200


# --- a lost device ------------------------------------------------------------------------------

def test_the_owner_resets_a_members_lost_device_and_it_is_audited(org, owner, enrolled, member):
    owner_client = Client()
    owner_client.force_login(owner.user)
    detail = owner_client.get(reverse("admin:member-detail", args=[org.uid, member.pk])).content.decode()
    assert 'id="member-mfa-reset"' in detail
    url = reverse("admin:member-mfa-reset", args=[org.uid, member.pk])
    assert owner_client.get(url).status_code == 200 and mfa.has_mfa(member.user)
    assert owner_client.post(url).status_code == 302
    assert not mfa.has_mfa(member.user)
    event = AuditEvent.objects.get(action="account.mfa_reset")
    assert (event.organization_id, event.actor_label, event.target_id) == (org.pk, owner.user.email, str(member.pk))
    assert password_signin(Client(), member.user.email)["Location"] == reverse("member_home")


def test_only_an_owner_or_operator_resets_and_never_their_own(org, owner, enrolled, member):
    admin = builders.make_member(org, "admin@acme.example", role="admin")
    client = Client()
    client.force_login(admin.user)
    url = reverse("admin:member-mfa-reset", args=[org.uid, member.pk])
    assert 'id="member-mfa-reset"' not in client.get(reverse("admin:member-detail", args=[org.uid, member.pk])).content.decode()
    client.post(url)
    assert mfa.has_mfa(member.user)
    other = builders.make_org("Globex")
    stranger = Client()
    stranger.force_login(builders.owner_of(other).user)
    assert stranger.post(url).status_code == 404 and mfa.has_mfa(member.user)
    operator = Client()
    operator.force_login(User.objects.create_superuser("root@orgdesk.example", builders.PASSWORD))
    session = operator.session
    session.pop("orgdesk_mfa_enrol", None)  # (its own enrolment is another test's)
    session.save()
    assert operator.post(url).status_code == 302 and not mfa.has_mfa(member.user)


def test_every_mfa_action_reads_as_a_sentence():
    from organizations.audit_log import registered_actions

    assert {audit_actions.ACCOUNT_MFA_ENROLLED, audit_actions.ACCOUNT_MFA_DISABLED, audit_actions.ACCOUNT_MFA_CHALLENGE_PASSED, audit_actions.ACCOUNT_MFA_CHALLENGE_FAILED, audit_actions.ACCOUNT_MFA_RECOVERY_CODE_USED, audit_actions.ACCOUNT_MFA_RESET, audit_actions.ORGANIZATION_MFA_REQUIRED} <= registered_actions()


def test_the_members_column_costs_one_query_whatever_how_many_have_it(org, owner):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django_otp.plugins.otp_totp.models import TOTPDevice

    people = [builders.make_member(org, f"p{i}@acme.example") for i in range(6)]
    client = Client()
    client.force_login(owner.user)
    url = reverse("admin:org-settings-members", args=[org.uid])

    def count() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as ctx:
            html = client.get(url).content.decode()
        return len(ctx.captured_queries), html

    before, _ = count()
    for m in people[:5]:
        TOTPDevice.objects.create(user=m.user, name="phone", confirmed=True)
    TOTPDevice.objects.create(user=people[5].user, name="unconfirmed", confirmed=False)
    after, html = count()
    assert before == after
    assert html.count('<td class="member-mfa">On</td>') == 5


def test_a_strict_mode_exception_signing_in_with_a_password_must_enrol_where_required(client, sso_org):  # noqa: F811
    owner = builders.owner_of(sso_org).user
    sso_services.set_strict(sso_org, True, actor=owner)
    mfa.set_required(sso_org, True, actor=owner)
    auditor = builders.make_member(sso_org, "auditor@outside.example")
    sso_services.set_sso_exemption(auditor, True, actor=owner)
    assert password_signin(client, "auditor@outside.example").status_code == 302
    assert client.get(reverse("member_home"))["Location"] == reverse("mfa_manage")


def test_an_sso_signin_does_not_lift_the_enrolment_a_password_session_owes(client, sso_org, sp, idp):  # noqa: F811
    """Password session of a member of a requiring org, then an IdP sign-in to another
    org in the same browser: the session keeps the password, so it still enrols first."""
    globex = builders.make_org("Globex")
    mfa.set_required(globex, True, actor=builders.owner_of(globex).user)
    builders.make_member(globex, "pat@acme.example")
    builders.make_member(sso_org, "pat@acme.example")
    from tests.signin.saml.conftest import link

    link(sso_org, User.objects.get(email="pat@acme.example").memberships.get(organization=sso_org))
    password_signin(client, "pat@acme.example")
    assert client.get(reverse("member_home"))["Location"] == reverse("mfa_manage")
    assert post_acs(client, sso_org, idp.response(sp, "pat@acme.example")).status_code == 302
    assert client.session["orgdesk_auth"]["password"] is True
    assert client.get(reverse("member_home"))["Location"] == reverse("mfa_manage")


def test_an_invitation_does_not_sign_in_an_account_with_two_factor_on(
    client, org, mailoutbox, django_capture_on_commit_callbacks
):
    """A person with no password yet (SSO only) who turned two-factor on chooses a
    password through an invitation: not signed in by it; they sign in (password, then code)."""
    from organizations.signin import invitations

    from django_otp.plugins.otp_totp.models import TOTPDevice

    person = builders.make_provisioned(builders.make_org("Globex"), "sam@acme.example")
    device = TOTPDevice.objects.create(user=person.user, name="phone", confirmed=True)  # enrolled in an SSO session
    phone = Authenticator(mfa.secret_of(device))
    with django_capture_on_commit_callbacks(execute=True):
        invitations.invite_member(org, "sam@acme.example", role="member", actor=builders.owner_of(org).user)
    body = next(m.body for m in reversed(mailoutbox) if "sam@acme.example" in m.to)
    link = re.search(r"https?://[^/\s]+(/invitations/\S+/)", body).group(1)
    password = "a-fresh-and-long-passphrase-77"
    accepted = client.post(link, {"new_password1": password, "new_password2": password})
    assert accepted.status_code == 302 and not signed_in(client)
    assert client.post(reverse("admin:login"), {"username": "sam@acme.example", "password": password})[
        "Location"] == reverse("mfa_challenge")
    assert client.post(reverse("mfa_challenge"), {"code": phone.code()}).status_code == 302 and signed_in(client)
