"""The Members tab's row links are the URLs `{% url %}` would reverse, with the
list to come back to as `?next=` (organizations/settings_pages/row_links.py)."""
from __future__ import annotations

from urllib.parse import quote

import pytest
from django.urls import reverse

from organizations.settings_pages.members import MEMBER_ROW_LINKS
from organizations.settings_pages.row_links import SENTINEL, RowLinks
from tests import builders

pytestmark = pytest.mark.django_db


def test_each_row_link_is_the_reversed_url_with_the_list_to_come_back_to():
    org = builders.make_org("Links")
    back = "/admin/orgs/x/settings/members/?q=ann b&status=active&page=2"
    links = RowLinks(org.uid, MEMBER_ROW_LINKS, next_url=back)
    for row_id in (1, 7, 90210, SENTINEL - 1):
        got = links.of(row_id)
        assert got == {key: reverse(name, args=[org.uid, row_id]) + "?next=" + quote(back, safe="/")
                       for key, name in MEMBER_ROW_LINKS.items()}
    assert RowLinks(org.uid, {"invite": "admin:member-invite"}).of(5) == {
        "invite": reverse("admin:member-invite", args=[org.uid, 5])}


def test_a_url_name_this_build_lacks_is_no_link():
    links = RowLinks("abc", {"detail": "admin:member-detail", "gone": "admin:no-such-page"})
    assert set(links.of(3)) == {"detail"}


def test_the_members_tab_links_each_row_to_its_own_pages(client):
    org = builders.make_org("Rows", owner_email="owner@rows.example")
    members = [builders.make_member(org, f"m{i}@rows.example") for i in range(3)]
    client.force_login(builders.owner_of(org).user)
    url = reverse("admin:org-settings-members", args=[org.uid]) + "?q=rows"
    page = client.get(url).content.decode()
    for m in members:
        for name in ("admin:member-detail", "admin:member-deactivate", "admin:member-remove", "admin:member-access"):
            assert f'href="{reverse(name, args=[org.uid, m.pk])}?next={quote(url, safe="/")}"' in page, (name, m)
