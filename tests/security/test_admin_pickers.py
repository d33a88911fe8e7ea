"""Tenant rules of the searchable pickers and searches: whoever asks, org A's
member picker, group picker, Members tab search and member pages never return
org B's members or groups (whose names carry MARKER), and only A's Owner and
Admins get answers at all."""
from __future__ import annotations

import re

import pytest
from django.urls import reverse

from organizations.models import Membership
from scim.models import ScimGroup

from .world import MARKER

pytestmark = pytest.mark.django_db

EVERYONE = ["a_owner", "a_admin", "a_member", "b_owner", "b_admin", "b_member", "outsider", "anonymous"]
MANAGERS_OF_A = {"a_owner", "a_admin"}


def without_header(page: str) -> str:
    """The header names the viewer (their own e-mail), on every page including 404s."""
    return re.sub(r'<nav id="user-tools".*?</nav>', "", page, flags=re.S)


def searches(uid: str) -> list[str]:
    """Every search and picker of org A's admin, asked for B's names."""
    member_picker = reverse("admin:member-picker", args=[uid])
    group_picker = reverse("admin:scim-group-picker", args=[uid])
    members = reverse("admin:org-settings-members", args=[uid])
    return [
        f"{member_picker}?term={MARKER}",
        f"{member_picker}?term=bravo",
        f"{member_picker}?term=br",
        f"{member_picker}?term=bravo&scope=transfer",
        f"{member_picker}?term=",
        f"{group_picker}?term={MARKER}",
        f"{group_picker}?term=group",
        f"{group_picker}?term=",
        f"{members}?q={MARKER}",
        f"{members}?q=bravo",
        f"{members}?q=example&source=manual",
        f"{reverse('admin:organizations_membership_changelist')}?q={MARKER}",
        f"{reverse('admin:organizations_membership_changelist')}?q=br",
    ]


@pytest.mark.parametrize("who", EVERYONE)
def test_no_search_or_picker_of_org_a_returns_org_b(world, login, who):
    client = login(who)
    a_members = set(Membership.objects.filter(organization=world.a.org).values_list("pk", flat=True))
    a_groups = set(ScimGroup.objects.filter(organization=world.a.org).values_list("pk", flat=True))
    for url in searches(world.a.org.uid):
        if "/admin/organizations/" in url and who.startswith("b_"):
            continue  # the model admin lists every org its user manages: B's for B's managers
        response = client.get(url)
        body = response.content.decode().replace(f'value="{MARKER}"', "")  # the search box echoes the term
        body = without_header(body)
        if "/admin/organizations/" in url:  # a changelist: its rows (links elsewhere echo the query)
            body = body.split('id="result_list"', 1)[1].split("</table>", 1)[0] if 'id="result_list"' in body else ""
        if "changelist" not in url and "/admin/organizations/" not in url:
            if who in MANAGERS_OF_A:
                assert response.status_code == 200, url
            else:
                assert response.status_code in (302, 404), (who, url, response.status_code)
        assert MARKER not in body, (who, url)
        if response.status_code == 200 and response["Content-Type"].startswith("application/json"):
            ids = {int(r["id"]) for r in response.json()["results"]}
            allowed = a_groups if "groups" in url else a_members
            assert ids <= allowed, (who, url)


@pytest.mark.parametrize("who", ["a_owner", "a_admin"])
def test_org_a_managers_find_their_own_people_and_groups(world, login, who):
    client = login(who)
    found = client.get(reverse("admin:member-picker", args=[world.a.org.uid]), {"term": "alpha.member"}).json()
    assert [int(r["id"]) for r in found["results"]] == [world.a.member.pk]
    groups = client.get(reverse("admin:scim-group-picker", args=[world.a.org.uid]), {"term": "alpha"}).json()
    assert [int(r["id"]) for r in groups["results"]] == [world.a.group.pk]


@pytest.mark.parametrize("who", ["b_owner", "b_admin"])
def test_org_b_managers_cannot_use_org_a_pickers_even_for_their_own_names(world, login, who):
    client = login(who)
    for url in searches(world.a.org.uid)[:8]:
        assert client.get(url).status_code == 404, url


def test_a_member_page_of_org_b_through_org_a_is_a_404_for_every_role(world, login):
    for who in EVERYONE:
        client = login(who)
        for name in ("admin:member-detail", "admin:member-deactivate", "admin:member-remove"):
            response = client.get(reverse(name, args=[world.a.org.uid, world.b.member.pk]))
            assert response.status_code in (302, 404), (who, name)
            assert MARKER not in without_header(response.content.decode())
        client.logout()
