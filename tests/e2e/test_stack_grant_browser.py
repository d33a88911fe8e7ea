"""An Owner grants a member a stack role by hand in a real browser, picking the
stack with the searching picker (select2), then revokes it; the page runs under
the Content-Security-Policy."""
from __future__ import annotations

import pytest

from organizations.models import AccessSource, StackAccess
from tests import builders
from tests.builders import ensure_builtin_roles

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_owner_grants_a_stack_role_by_hand_with_the_picker_and_revokes_it(live_server, browser_page):
    ensure_builtin_roles()
    org = builders.make_org("Stackco", owner_email="owner@stackco.example")
    for i in range(30):
        builders.make_stack(org, f"Service {i:02}")
    builders.make_stack(org, "Website")
    member = builders.make_member(org, "jo@stackco.example")
    page = browser_page
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    builders.sign_in_page(page, live_server.url, "owner@stackco.example")

    page.goto(f"{live_server.url}/admin/orgs/{org.uid}/members/{member.pk}/")
    page.click("#member-stack-grant-link a")
    page.locator("#member-stack-grant-form .select2-selection").click()
    page.locator(".select2-search__field").fill("webs")
    page.locator(".select2-results__option", has_text="Website").click()
    page.select_option("#id_stack-grant-role", label="Developer")
    page.click("#member-stack-grant-form input[type=submit]")

    assert "jo@stackco.example now holds Developer on Website, granted by hand." in page.locator(
        ".messagelist").text_content()
    assert "Developer on Website" in page.locator("#member-detail").inner_text()
    assert StackAccess.objects.filter(membership=member, source=AccessSource.MANUAL).count() == 1

    page.click(".member-stack-revoke")
    page.click("#member-stack-revoke-confirm")
    assert "no longer holds Developer on Website" in page.locator(".messagelist").text_content()
    assert not StackAccess.objects.filter(membership=member).exists()
    assert violations == []
