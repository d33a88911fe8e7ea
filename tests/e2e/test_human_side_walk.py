"""The human side, walked once as new people meet it: Okta pushes people while
invitations are off (SCIM API over HTTP with a real token), then the Owner, an
Admin and a Member use Orgdesk in Chromium. Each point of the human side is a
step that asserts what the page says:

1. every member has a way in, and the Members tab says which (No way in yet,
   Send invitation one by one or for all at once, Forgotten your password? for
   a member without one);
2. labels that tell the truth (default role, Invited, not joined yet, replaced
   by a newer invitation, Orgdesk's wrong-password words, the Sign-ins kind);
3. the SSO tab (the permanent sign-in name confirmed, empty steps saying what
   comes first, an expired certificate at the top and Enable refused);
4. Post/Redirect/Get (Back after a mapping Confirm, the token shown once) and a
   Member opening an admin URL told why;
5. disabled SCIM keeps its history visible;
6. one header, branded 403/404 with a way back, the favicon, the password pages
   listing the password rules;
7. every page the walk visited, again at 390 px: none wider than the phone;
8. provisioning health on the SCIM tab;
9. custom stack roles renamed and deleted, in the audit log;
and the polish: no "·" between links, one Cancel style, "Nothing changes"
instead of empty boxes, "1 grant", the invitation greeting by first name.

Screenshots of every step go to ORGDESK_SCREENSHOTS, else a temporary folder;
ORGDESK_README_SCREENSHOTS=docs/screenshots also re-takes the README's three
(the Members tab, the SCIM tab with its health chart, the Audit log)."""
from __future__ import annotations

import importlib
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from django.contrib.auth.password_validation import password_validators_help_texts
from django.core import mail
from django.urls import reverse
from playwright.sync_api import expect

from mappings.services import save_mapping
from organizations.models import AccessSource, OrgRole, StackAccess, StackRole
from organizations.signin.invitations import set_invite_provisioned_members
from scim.models import ScimGroup
from tests import builders
from tests.saml_idp import TestIdP
from tests.builders import enable_scim
from tests.builders import builtin, ensure_builtin_roles

from .csp import collect_csp_violations

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = 390
NEW_PASSWORD = "a-long-new-passphrase-77"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
LINK = re.compile(r"https?://[^/\s]+(/\S+/)")


@dataclass
class Walk:
    """The browser, where screenshots go, and every page each person saw (for the phone run)."""

    base: str
    shots: Path
    seen: dict[str, list[str]] = field(default_factory=dict)
    count: int = 0

    def step(self, page, who: str, name: str) -> None:
        page.wait_for_load_state("load")
        self.count += 1
        page.screenshot(path=str(self.shots / f"{self.count:02d}-{who}-{name}.png"), full_page=True)
        urls = self.seen.setdefault(who, [])
        if page.url not in urls:
            urls.append(page.url)

    def readme(self, page, name: str) -> None:
        """One of the README's screenshots, when asked for (1280 px wide, the whole page)."""
        folder = os.environ.get("ORGDESK_README_SCREENSHOTS")
        if folder:
            page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)

    def go(self, page, who: str, name: str, path: str) -> None:
        page.goto(self.base + path)
        self.step(page, who, name)


@pytest.fixture(autouse=True)
def _catalog(transactional_db):
    """Transactional tests flush what migrations seeded (the Marketplace catalog,
    the built-in stack roles): seed them again."""
    from django.apps import apps

    importlib.import_module("scim.migrations.0002_marketplace_catalog").seed(apps, None)
    ensure_builtin_roles()


def mail_to(address: str, subject: str = "") -> list:
    """Messages sent to an address, waiting a moment for one sent after a response
    (organizations/after_response.py)."""
    for _ in range(100):
        found = [m for m in mail.outbox if m.to == [address] and subject in m.subject]
        if found:
            return found
        time.sleep(0.05)
    return []


def link_in(message) -> str:
    return LINK.search(message.body).group(1)


def sign_in(page, walk: Walk, email: str, password: str = builders.PASSWORD) -> None:
    page.context.clear_cookies()
    page.goto(f"{walk.base}/admin/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in", exact=True).click()


def messages(page) -> str:
    return page.locator(".messagelist").inner_text()


def push(base: str, org, token: str, kind: str, body: dict) -> httpx.Response:
    return httpx.post(
        f"{base}/scim/v2/organizations/{org.uid}/{kind}", json=body, timeout=15,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
    )


def okta_user(email: str, first: str, last: str) -> dict:
    return {"schemas": [USER], "userName": email, "active": True, "name": {"givenName": first, "familyName": last},
            "emails": [{"value": email, "primary": True}]}


def width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_the_human_side_walked_by_owner_admin_member_and_okta(live_server, browser_page, settings, tmp_path):
    settings.PUBLIC_BASE_URL = base = live_server.url
    shots = Path(os.environ.get("ORGDESK_SCREENSHOTS") or tmp_path / "walk")
    shots.mkdir(parents=True, exist_ok=True)
    walk = Walk(base, shots)
    org = builders.make_org("Northwind", owner_email="owner@northwind.example")
    uid = org.uid
    settings_url = f"/admin/orgs/{uid}/settings"
    builders.make_member(org, "ada@northwind.example", role=OrgRole.ADMIN)
    mel = builders.make_member(org, "mel@northwind.example")
    web = builders.make_stack(org, "Web")
    StackAccess.objects.create(membership=mel, stack=web, role=builtin("Developer"), source=AccessSource.MANUAL)

    # ---- Okta pushes people and a group; "Send invitations to provisioned members" is off, SSO is not set up.
    set_invite_provisioned_members(org, False, actor=None)
    installation, token = enable_scim(org)
    for email, first, last in (("kim@northwind.example", "Kim", "Lee"), ("lee@northwind.example", "Lee", "Park")):
        assert push(base, org, token, "Users", okta_user(email, first, last)).status_code == 201
    kim_id = push(base, org, token, "Users", okta_user("kim@northwind.example", "Kim", "Lee")).status_code
    assert kim_id == 409  # Okta's retry of the same person: a conflict, refused (4xx)
    from organizations.models import Membership

    kim = Membership.objects.get(organization=org, user__email="kim@northwind.example")
    group = push(base, org, token, "Groups", {"schemas": [GROUP], "displayName": "Engineering",
                                              "members": [{"value": str(kim.pk)}]})
    assert group.status_code == 201, group.text
    too_long = push(base, org, token, "Groups", {"schemas": [GROUP], "displayName": "G" * 300})
    assert too_long.status_code == 400
    assert mail.outbox == []  # nobody was told anything: no way in yet
    empty = ScimGroup.objects.create(organization=org, display_name="Contractors")
    save_mapping(org, empty, org_role=OrgRole.MEMBER, stack_roles={}, all_stacks_role=None, actor=None)

    page = browser_page
    violations = collect_csp_violations(page)

    # ---- The sign-in page, in Orgdesk's words; a wrong password says so without Django's "staff account".
    walk.go(page, "anon", "signin", "/admin/login/")
    expect(page.locator("#password-reset-link")).to_have_text("Forgotten your password?")
    assert "login credentials" not in page.content()
    page.get_by_label("E-mail").fill("owner@northwind.example")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator(".errornote")).to_contain_text("That e-mail and password do not match")
    assert "staff account" not in page.content()
    walk.step(page, "anon", "wrong-password")

    # ---- The Owner: one header, the organizations list without separators.
    sign_in(page, walk, "owner@northwind.example")
    walk.go(page, "owner", "home-admin", "/admin/")
    tools = page.locator("#user-tools")
    for words in ("owner@northwind.example", "Home", "Organization Settings", "Change password", "Sign out"):
        expect(tools).to_contain_text(words)
    assert "View site" not in tools.inner_text() and "Log out" not in tools.inner_text()
    links = page.locator('#org-settings-list tr[data-org="%s"] ul.od-links li' % uid)
    expect(links).to_have_text(["Organization Settings", "Members", "Audit log", "Marketplace"])
    assert "·" not in page.locator("#org-settings-list").inner_text()
    assert page.locator('link[rel="icon"]').count() == 1
    favicon = page.request.get(f"{base}/favicon.ico")
    assert favicon.ok and favicon.headers["content-type"].startswith("image/svg")

    # ---- 1. Ways in, and 2. labels: Okta's people have no way in yet, with the default role.
    walk.go(page, "owner", "members", f"{settings_url}/members/")
    kim_row = page.locator('tr[data-member="kim@northwind.example"]')
    expect(kim_row.locator(".member-signin")).to_contain_text("No way in yet")
    expect(kim_row.locator(".member-role")).to_contain_text("default role")
    assert "granted by hand" not in kim_row.locator(".member-role").inner_text()
    expect(page.locator('tr[data-member="mel@northwind.example"] .member-signin')).to_contain_text("Password set")
    assert "·" not in kim_row.locator(".member-actions").inner_text()
    kim_row.locator(".member-invite input[type=submit]").click()
    expect(page.locator(".messagelist")).to_contain_text("An invitation is on its way to kim@northwind.example")
    expect(kim_row.locator(".member-status")).to_contain_text("Invited, not joined yet")
    expect(kim_row.locator(".member-signin")).to_contain_text("Invited")
    walk.step(page, "owner", "members-invited")
    walk.readme(page, "members-tab")
    first_link = link_in(mail_to("kim@northwind.example")[0])
    assert mail_to("kim@northwind.example")[0].body.startswith("Hello Kim,")

    # Resend: the earlier link is replaced by a newer invitation.
    page.locator('#pending-invitations tr[data-invitation="kim@northwind.example"] .invitation-resend').click()
    expect(page.locator(".messagelist")).to_contain_text("the previous link no longer works")
    newest_link = link_in(mail_to("kim@northwind.example")[-1])
    assert newest_link != first_link

    # Everyone else without a way in, at once: a background task with its progress.
    lee_row = page.locator('tr[data-member="lee@northwind.example"]')
    expect(lee_row.locator(".member-signin")).to_contain_text("No way in yet")
    page.get_by_role("button", name="Send invitations to everyone without a way in").click()
    expect(page.locator(".messagelist")).to_contain_text("Invitations are being sent to every member without a way in")
    page.goto(f"{base}{settings_url}/members/")
    expect(page.locator("#bulk-invitations-progress")).to_contain_text("Done: 1 invitation sent")
    expect(lee_row.locator(".member-signin")).to_contain_text("Invited")
    walk.step(page, "owner", "members-bulk-invited")

    # Added by hand with a first name: the e-mail greets her by it.
    form = page.locator("#add-member-form")
    form.get_by_label("E-mail").fill("grace@northwind.example")
    form.get_by_label("First name").fill("Grace")
    form.get_by_label("Last name").fill("Hopper")
    form.get_by_role("button", name="Add member").click()
    expect(page.locator(".messagelist")).to_contain_text("grace@northwind.example was added as Member")
    assert mail_to("grace@northwind.example")[0].body.startswith("Hello Grace,\n")

    # ---- 3. The SSO tab: empty steps say what comes first; the permanent name is confirmed first.
    walk.go(page, "owner", "sso-empty", f"{settings_url}/sso/")
    expect(page.locator("#sso-setup")).to_contain_text("Step 1: choose the name people type at \"Sign in with SSO\"")
    page.locator("#sso-name-form input[type=text]").fill("northwind")
    page.locator("#sso-name-form input[type=submit]").click()
    expect(page.locator("h1")).to_have_text('Use "northwind" as the SSO sign-in name?')
    expect(page.locator(".od-confirm")).to_contain_text("It cannot change later.")
    walk.step(page, "owner", "sso-name-confirm")
    page.get_by_role("button", name="Create sign-in name").click()
    expect(page.locator(".messagelist")).to_contain_text('The SSO sign-in name is "northwind"')
    expect(page.locator("#sso-test-hint")).to_contain_text("First set the identity provider")
    expect(page.locator("#sso-enable-hint")).to_be_visible()
    # An expired IdP certificate, entered by hand: said at once, at the top, and Enable is refused before any confirmation.
    expired = TestIdP(entity_id="http://okta.example.test/northwind", days_valid=0)
    idp_form = page.locator("#sso-idp-form")
    idp_form.locator('[name="idp-idp_sso_url"]').fill(expired.sso_url)
    idp_form.locator('[name="idp-idp_entity_id"]').fill(expired.entity_id)
    idp_form.locator('[name="idp-idp_x509_cert"]').fill(expired.cert_base64)
    idp_form.get_by_role("button", name="Save").click()
    expect(page.locator(".messagelist .error")).to_contain_text("expired")
    expect(page.locator("#sso-cert-flag")).to_contain_text("expired")
    assert page.locator("#sso-enable-button").count() == 0
    walk.step(page, "owner", "sso-expired")
    walk.go(page, "owner", "sso-enable-refused", reverse("admin:org-settings-sso-enable", args=[uid]))
    expect(page.locator("#sso-enable-refused")).to_contain_text("expired")
    assert page.get_by_role("button", name="Enable SSO").count() == 0

    # ---- 8. Provisioning health, and 4. Post/Redirect/Get on the SCIM tab.
    walk.go(page, "owner", "scim", f"{settings_url}/scim/")
    health = page.locator("#provisioning-health")
    expect(health.locator("svg.od-health-svg")).to_have_count(2)
    expect(page.locator("#health-last-success")).to_contain_text("Last successful call:")
    expect(page.locator("#health-last-failure")).to_contain_text("Last failure:")
    expect(health).to_contain_text("24 hours")

    # A mapping: the preview, Confirm, then Back shows the preview again (no "Confirm Form Resubmission").
    section = page.locator("#group-mapping")
    section.locator(".select2-selection").first.click()
    page.locator(".select2-search__field").fill("Engin")
    page.locator(".select2-results__option", has_text="Engineering").click()
    section.get_by_label("Organization Role").select_option(label="Member")
    section.get_by_label("Stack Role: Web").select_option(label="Content Manager")
    section.get_by_role("button", name="Update").click()
    expect(page.locator('#mapping-preview [data-change="gain"]')).to_contain_text("Gain Content Manager on Web")
    walk.step(page, "owner", "mapping-preview")
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator(".messagelist")).to_contain_text("Mapping of Engineering saved.")
    page.go_back()
    expect(page.locator("#preview-confirmed")).to_contain_text("This change was confirmed and saved")
    walk.step(page, "owner", "mapping-back")
    # The same mapping again: nothing changes, said in words, with no empty table or box.
    page.goto(f"{base}{settings_url}/scim/")
    page.locator('#group-mapping-list tr[data-group="Engineering"]').get_by_role("link", name="Edit").click()
    page.locator("#group-mapping").get_by_role("button", name="Update").click()
    expect(page.locator("#preview-nothing")).to_have_text("Nothing changes: every member keeps the access they have.")
    assert page.locator("#preview-changes").count() == 0
    box = page.locator("#mapping-preview .od-confirm")
    assert box.evaluate("e => getComputedStyle(e).borderTopWidth") == "0px"
    cancel = box.get_by_role("link", name="Cancel")
    assert "od-cancel" in cancel.get_attribute("class")
    walk.step(page, "owner", "mapping-nothing-changes")
    cancel.click()
    # Removing a mapping that grants nobody anything: no empty table header either.
    page.locator('#group-mapping-list tr[data-group="Contractors"]').get_by_role("link", name="Remove").click()
    expect(page.locator("#preview-nothing")).to_contain_text("Nothing changes: no member holds anything only through")
    assert page.locator("#mapping-preview table").count() == 0
    walk.step(page, "owner", "mapping-remove-nothing")
    page.get_by_role("button", name="Remove mapping").click()
    expect(page.locator(".messagelist")).to_be_visible()

    # The token is shown once, through the session: Reload shows it no more.
    walk.go(page, "owner", "installation", reverse("admin:marketplace-installation", args=[uid, installation.pk]))
    page.get_by_role("link", name="Regenerate token").click()
    cancel = page.get_by_role("link", name="Cancel")
    assert "od-cancel" in cancel.get_attribute("class")
    page.get_by_role("button", name="Regenerate token").click()
    new_token = page.input_value("#secret-token")
    assert new_token != token and page.url.endswith("/token/")
    walk.step(page, "owner", "token-once")
    page.reload()
    expect(page.locator("#token-gone")).to_contain_text("no longer shown")
    assert new_token not in page.content()
    # Okta still holding the old token is refused: the health chart counts the 401.
    assert push(base, org, token, "Users", okta_user("x@northwind.example", "X", "Y")).status_code == 401
    assert push(base, org, new_token, "Users", okta_user("max@northwind.example", "Max", "Ray")).status_code == 201
    walk.go(page, "owner", "scim-health", f"{settings_url}/scim/")
    expect(page.locator("#provisioning-health figcaption").first).to_contain_text("1 unauthorized or rate-limited")
    expect(page.locator("#health-last-success")).to_contain_text("Create user max@northwind.example")
    expect(page.locator("#health-last-failure")).to_contain_text("answered 401")
    walk.readme(page, "scim-tab")

    # ---- 9. A custom stack role: created, renamed, deleted with what it affects; the audit log says so.
    walk.go(page, "owner", "stacks", f"{settings_url}/stacks/")
    role_form = page.locator("#create-stack-role-form")
    role_form.get_by_label("Role name").fill("QA")
    role_form.get_by_role("button", name="Create role").click()
    expect(page.locator(".messagelist")).to_contain_text('Stack role "QA" was created.')
    qa = StackRole.objects.get(organization=org, name="QA")
    StackAccess.objects.create(membership=mel, stack=web, role=qa, source=AccessSource.MANUAL)
    page.locator(f'a.stack-role-rename[href*="/{qa.pk}/"]').click()
    page.get_by_label("New name").fill("Quality")
    assert "od-cancel" in page.get_by_role("link", name="Cancel").get_attribute("class")
    walk.step(page, "owner", "stack-role-rename")
    page.get_by_role("button", name="Rename").click()
    expect(page.locator(".messagelist")).to_contain_text('Stack role "QA" is now called "Quality".')
    page.locator(f'a.stack-role-delete[href*="/{qa.pk}/"]').click()
    expect(page.locator("#stack-role-delete-impact")).to_contain_text("1 member loses it: 1 grant of Quality")
    walk.step(page, "owner", "stack-role-delete")
    page.get_by_role("button", name="Delete stack role").click()
    expect(page.locator(".messagelist")).to_contain_text('Stack role "Quality" was deleted')
    walk.go(page, "owner", "audit", f"{settings_url}/audit/")
    expect(page.locator("#audit-log")).to_contain_text("renamed the custom stack role QA to Quality")
    walk.readme(page, "audit-log")
    # The Sign-ins kind lists sign-ins.
    page.get_by_label("Kind").select_option(label="Sign-ins")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#audit-log")).to_contain_text("owner@northwind.example")
    assert page.locator("#no-audit-entries").count() == 0
    walk.step(page, "owner", "audit-signins")

    # ---- 5. Disabled SCIM keeps its history: apps, mappings, activity, read-only.
    page.goto(f"{base}{settings_url}/scim/")
    page.get_by_role("link", name="Disable SCIM").click()
    page.get_by_role("button", name="Disable", exact=True).click()
    expect(page.locator("#scim-state")).to_have_text("SCIM is disabled")
    expect(page.locator("#scim-history-note")).to_contain_text("read-only")
    history = page.locator("#scim-history.od-readonly")
    expect(history.locator("#scim-installations")).to_contain_text("Okta")
    expect(history).to_contain_text("Engineering")
    expect(page.locator("#provisioning-activity-table")).to_contain_text("401")
    walk.step(page, "owner", "scim-disabled")

    # ---- 6. Branded errors with a way back: the raw model admin (403) and a page that does not exist (404).
    sign_in(page, walk, "ada@northwind.example")
    expect(page.locator("#user-tools")).to_contain_text("Organization Settings")
    walk.go(page, "admin", "403", "/admin/organizations/organization/")
    expect(page.locator("#error-home")).to_be_visible()
    expect(page.locator("#user-tools")).to_contain_text("ada@northwind.example")
    walk.go(page, "admin", "404", "/no-such-page/")
    expect(page.locator("#error-home")).to_be_visible()
    walk.go(page, "admin", "members", f"{settings_url}/members/")
    expect(page.locator('tr[data-member="kim@northwind.example"] .member-status')).to_contain_text("Invited, not joined yet")

    # ---- The Member: told why an admin URL sends them home; "1 grant"; change password with its rules.
    sign_in(page, walk, "mel@northwind.example")
    assert page.url.endswith(reverse("member_home"))
    page.goto(f"{base}{settings_url}/members/")
    expect(page.locator(".messagelist")).to_contain_text("Organization Settings are for Owners and Admins")
    walk.step(page, "member", "home-told-why")
    expect(page.locator("#home-stack-roles caption")).to_contain_text("(1 grant)")
    assert "Organization Settings" not in page.locator("#user-tools").inner_text()
    page.locator("#user-tools").get_by_role("link", name="Change password").click()
    rules = page.locator("#password-rules li")
    expect(rules).to_have_count(len(password_validators_help_texts()))
    assert "od-cancel" in page.get_by_role("link", name="Cancel").get_attribute("class")
    walk.step(page, "member", "password-change")
    page.get_by_label("Old password").fill(builders.PASSWORD)
    page.locator("#id_new_password1").fill(NEW_PASSWORD)
    page.locator("#id_new_password2").fill(NEW_PASSWORD + "x")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator(".errorlist")).to_have_text("The two passwords do not match.")
    page.get_by_label("Old password").fill(builders.PASSWORD)
    page.locator("#id_new_password1").fill(NEW_PASSWORD)
    page.locator("#id_new_password2").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.locator(".messagelist")).to_contain_text("password")
    assert page.url.endswith(reverse("member_home"))

    # ---- The people Okta pushed, in a browser of their own.
    # Kim: the first link was replaced; the newest lets her choose a password; her role is from Engineering.
    page.context.clear_cookies()
    walk.go(page, "anon", "invitation-replaced", first_link)
    expect(page.locator("#content")).to_contain_text("replaced by a newer invitation")
    assert "withdrew" not in page.content()
    walk.go(page, "anon", "invitation", newest_link)
    page.locator("#id_new_password1").fill(NEW_PASSWORD)
    page.locator("#id_new_password2").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set password and sign in").click()
    page.wait_for_url(f"{base}{reverse('member_home')}")
    expect(page.locator("#home-stack-roles")).to_contain_text("SCIM group Engineering")
    expect(page.locator("#home-stack-roles caption")).to_contain_text("(1 grant)")
    walk.step(page, "kim", "home")
    # Max (pushed after invitations stayed off) forgot a password he never had: a link to choose one.
    page.context.clear_cookies()
    walk.go(page, "anon", "signin-again", "/admin/login/")
    page.get_by_role("link", name="Forgotten your password?").click()
    page.locator("#password-reset-form input[type=email]").fill("max@northwind.example")
    page.get_by_role("button", name="E-mail me a link").click()
    expect(page.locator("#password-reset-sent")).to_contain_text("we have e-mailed it a link")
    walk.step(page, "anon", "reset-sent")
    chosen = mail_to("max@northwind.example", "Choose your Orgdesk password")
    assert len(chosen) == 1
    walk.go(page, "anon", "reset-choose", link_in(chosen[0]))
    expect(page.locator("#password-rules li")).to_have_count(len(password_validators_help_texts()))
    page.locator("#id_new_password1").fill(NEW_PASSWORD)
    page.locator("#id_new_password2").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set my password").click()
    expect(page.locator("#password-reset-complete")).to_contain_text("Your password is set")
    walk.step(page, "anon", "reset-done")
    assert violations == []

    # ---- 7. The same pages at 390 px: none is wider than the phone.
    credentials = {"owner": "owner@northwind.example", "admin": "ada@northwind.example",
                   "member": ("mel@northwind.example", NEW_PASSWORD), "kim": ("kim@northwind.example", NEW_PASSWORD)}
    phone = page.context.browser.new_context(viewport={"width": PHONE, "height": 844})
    small = phone.new_page()
    small.set_default_timeout(15_000)
    too_wide, visited = {}, 0
    try:
        for who, urls in walk.seen.items():
            if who != "anon":
                login = credentials[who]
                email, password = login if isinstance(login, tuple) else (login, builders.PASSWORD)
                sign_in(small, walk, email, password)
            else:
                small.context.clear_cookies()
            for url in urls:
                small.goto(url)
                small.wait_for_load_state("load")
                visited += 1
                small.screenshot(path=str(shots / f"phone-{visited:02d}-{who}.png"), full_page=True)
                if width(small) > PHONE:
                    too_wide[f"{who} {url}"] = width(small)
    finally:
        phone.close()
    assert visited >= 25
    assert not too_wide, too_wide
