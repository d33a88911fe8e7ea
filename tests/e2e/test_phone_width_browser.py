"""Every page is usable on a phone (390 px wide): no page-wide horizontal scroll.
Wide tables scroll inside their own box (`.od-scroll`, orgdesk.css) and long
values wrap. An Owner walks the main pages of an org with a 200-character member
e-mail, a 300-character value refused over SCIM and long names everywhere."""
from __future__ import annotations

import os

import pytest
from django.utils import timezone

from organizations.models import Organization
from scim.models import AppInstallation, MarketplaceApp, ProvisioningEvent
from tests import builders

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH = 390
# 200 characters, a local part of 60 and labels of at most 63.
LONG_EMAIL = "pat." + "x" * 56 + "@" + "department-" * 5 + "a" * 9 + "." + "b" * 62 + ".example.com"


def snap(page, name: str) -> None:
    folder = os.environ.get("ORGDESK_SCREENSHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, f"phone-{name}.png"), full_page=True)


# PHONE_DEBUG=1 prints, for a person fixing a page, what sticks out of the viewport:
# the outermost elements past its right edge, and elements whose content overflows them.
OFFENDERS = """() => {
  const clipped = el => { for (let a = el.parentElement; a; a = a.parentElement) {
    if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(a).overflowX) && a !== document.documentElement && a !== document.body) return true; }
    return false; };
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.right > window.innerWidth + 1 && !clipped(el)) out.push(el.tagName + '#' + el.id + '.' + el.className + ' ' + Math.round(r.right));
  }
  for (const el of document.querySelectorAll('body *')) {
    if (el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0 && !clipped(el) && getComputedStyle(el).overflowX === 'visible')
      out.push('text-overflow ' + el.tagName + '#' + el.id + '.' + el.className + ' ' + el.scrollWidth + '>' + el.clientWidth);
  }
  return out.slice(0, 12);
}"""


def page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_main_pages_fit_a_phone(live_server, browser_page):
    assert len(LONG_EMAIL) == 200
    org = builders.make_org("Phone Width Company With A Rather Long Name Incorporated",
                             owner_email="owner@phone.example")
    long_member = builders.make_member(org, LONG_EMAIL)
    builders.make_stack(org, "Production stack with a long descriptive name " * 2)
    Organization.objects.filter(pk=org.pk).update(scim_enabled=True)
    okta = AppInstallation.objects.create(organization=org, app=MarketplaceApp.objects.get(slug="okta-generic-scim"))
    ProvisioningEvent.objects.create(
        organization=org, installation=okta, method="POST", path="/scim/v2/Groups", operation="Create group",
        # the longest target the column keeps (PostgreSQL enforces it)
        target="g" * 255, status=400, outcome="failure", detail="displayName is too long: " + "G" * 300,
    )
    ProvisioningEvent.objects.create(
        organization=org, installation=okta, method="GET", path="/scim/v2/Users", operation="List users",
        status=200, outcome="success", created_at=timezone.now(),
    )

    context = browser_page.context.browser.new_context(viewport={"width": WIDTH, "height": 844})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        base = live_server.url
        page.goto(f"{base}/admin/login/")
        widths = {"sign-in": page_width(page)}
        snap(page, "signin")
        page.fill("#id_username", "owner@phone.example")
        page.fill("#id_password", builders.PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_load_state()
        settings = f"{base}/admin/orgs/{org.uid}"
        pages = {
            "home": f"{base}/home/",
            "organizations": f"{base}/admin/",
            "general": f"{settings}/settings/",
            "members": f"{settings}/settings/members/",
            "stacks": f"{settings}/settings/stacks/",
            "scim": f"{settings}/settings/scim/",
            "sso": f"{settings}/settings/sso/",
            "audit": f"{settings}/settings/audit/",
            "member": f"{settings}/members/{long_member.pk}/",
            "password": f"{base}/account/password/",
            "not-found": f"{base}/no-such-page/",
        }
        for name, url in pages.items():
            page.goto(url)
            assert "/login/" not in page.url, name
            widths[name] = page_width(page)
            if os.environ.get("PHONE_DEBUG") and widths[name] > WIDTH:
                print(name, widths[name], page.evaluate(OFFENDERS))
            snap(page, name)
            if name == "scim":
                assert page.locator("#provisioning-health svg.od-health-svg").count() == 2
        too_wide = {name: w for name, w in widths.items() if w > WIDTH}
        assert not too_wide, too_wide
    finally:
        context.close()
