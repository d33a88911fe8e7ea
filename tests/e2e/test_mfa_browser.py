"""Two-factor authentication in a real browser under the Content-Security-Policy:
the Owner requires it on Organization Settings > General; a member signs in with
their password and is sent to enrol, reads the key beside the QR code (the QR
itself an inline SVG image the policy allows), turns it on with a code computed
here, keeps the recovery codes, signs out, and signs in again with the password
and a code."""
from __future__ import annotations

import time

import pyotp
import pytest

from organizations.models import AuditEvent
from tests import builders

from tests.signin.test_invitation_browser import shot

from .csp import collect_csp_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_owner_requires_two_factor_and_a_member_enrols_and_signs_in_with_a_code(live_server, browser_page):
    org = builders.make_org("Acme", owner_email="owner@acme.example")
    builders.make_member(org, "member@acme.example")
    base, page = live_server.url, browser_page
    violations = collect_csp_violations(page)

    # The Owner turns the requirement on.
    builders.sign_in_page(page, base, "owner@acme.example")
    page.wait_for_url(f"{base}/admin/")
    page.goto(f"{base}/admin/orgs/{org.uid}/settings/")
    page.check("#mfa-required")
    page.click("#mfa-policy-form input[type=submit]")
    page.wait_for_selector(".messagelist")
    assert "now requires two-factor authentication" in page.locator(".messagelist").inner_text()
    page.click("#signout-form button, #logout-form button")

    # The member's next password sign-in leads to enrolment.
    builders.sign_in_page(page, base, "member@acme.example")
    page.wait_for_url(f"{base}/account/two-factor/")
    assert "Acme requires two-factor authentication." in page.locator("#mfa-manage").inner_text()
    shot(page, "mfa-enrol")
    qr = page.locator("#mfa-qr")
    assert qr.get_attribute("src").startswith("data:image/svg+xml")
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")  # the policy let the QR image load
    phone = pyotp.TOTP(page.locator("#mfa-secret").inner_text().strip())
    enrol_code = phone.now()
    page.fill("#mfa-enrol-code", enrol_code)
    page.click("#mfa-enrol-form input[type=submit]")
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    shot(page, "mfa-recovery-codes")
    page.click("#mfa-done")
    page.wait_for_url(f"{base}/home/")
    assert page.locator("#home-orgs").inner_text().count("Acme") == 1
    page.click("#signout-form button")

    # Signing in again: the password, then a code of the next time step (the
    # one just used for enrolling is refused as a replay).
    builders.sign_in_page(page, base, "member@acme.example")
    page.wait_for_url(f"{base}/signin/two-factor/")
    shot(page, "mfa-challenge")
    page.fill("#id_code", enrol_code)
    page.click("#mfa-challenge-form input[type=submit]")
    assert "not valid" in page.locator("#mfa-error").inner_text()
    page.fill("#id_code", phone.at(time.time() + 30))
    page.click("#mfa-challenge-form input[type=submit]")
    page.wait_for_url(f"{base}/home/")
    assert "member@acme.example" in page.locator("#user-tools").inner_text().lower()

    assert AuditEvent.objects.filter(action="organization.mfa_required", organization=org).count() == 1
    assert AuditEvent.objects.filter(action="account.mfa_enrolled", actor_label="member@acme.example").count() == 1
    assert AuditEvent.objects.filter(action="account.mfa_challenge_passed", actor_label="member@acme.example").count() == 1
    assert violations == []
