"""Nobody outside an org's Owners and Admins reads or changes it through the admin:
not another org's Owner or Admin, not the org's own Members, not an account with
no org, not an anonymous visitor. Every URL is taken from the URL confs
(the Organization Settings tabs, the SCIM tab, the marketplace, mappings, the
member access page, the audit log tab, and the ModelAdmin change/delete/history
pages, which only operators may open)."""
from __future__ import annotations

import pytest
from django.urls import reverse

from tests.hardening.snapshot import diff, snapshot

from .world import MARKER

pytestmark = pytest.mark.django_db

# (attacker, victim org). Admin-capable attackers get 404s; the others never get
# past the admin's login redirect.
ATTACKS = [
    ("a_owner", "b"),
    ("a_admin", "b"),
    ("a_member", "b"),
    ("outsider", "b"),
    ("anonymous", "b"),
    ("b_member", "b"),  # a Member sees no org settings of their own org either
    ("b_admin", "a"),
]
ADMIN_CAPABLE = {"a_owner", "a_admin", "b_admin"}
LOGIN_PATH = "/admin/login/"


def victim_pages(v) -> list[str]:
    """Every custom admin page of the victim org (all take org_uid first)."""
    uid = v.org.uid
    return [
        reverse("admin:org-settings", args=[uid]),
        reverse("admin:org-settings-members", args=[uid]),
        reverse("admin:org-settings-stacks", args=[uid]),
        reverse("admin:org-settings-scim", args=[uid]),
        reverse("admin:org-settings-scim-enable", args=[uid]),
        reverse("admin:org-settings-scim-disable", args=[uid]),
        reverse("admin:marketplace-apps", args=[uid]),
        reverse("admin:marketplace-app", args=[uid, "okta-generic-scim"]),
        reverse("admin:marketplace-install", args=[uid, "entra-id-scim"]),
        reverse("admin:marketplace-installation", args=[uid, v.installation.pk]),
        reverse("admin:marketplace-installation-regenerate", args=[uid, v.installation.pk]),
        reverse("admin:marketplace-installation-uninstall", args=[uid, v.installation.pk]),
        reverse("admin:mapping-jobs", args=[uid]),
        reverse("admin:mapping-delete", args=[uid, v.mapping_id]),
        reverse("admin:member-access", args=[uid, v.member.pk]),
        reverse("admin:org-settings-audit", args=[uid]),
        reverse("admin:org-settings-audit", args=[uid]) + "?kind=members&page=2",
    ]


def victim_model_pages(v) -> list[str]:
    """ModelAdmin change/delete/history pages of the victim's rows."""
    objects = [
        ("organizations_organization", v.org.pk),
        ("organizations_membership", v.admin.pk),
        ("organizations_membership", v.member.pk),
        ("organizations_stack", v.stack.pk),
        ("organizations_stackrole", v.role.pk),
        ("organizations_user", v.users["admin"].pk),
    ]
    from organizations.models import AuditEvent

    objects += [("organizations_auditevent", e.pk) for e in AuditEvent.objects.filter(organization=v.org)[:3]]
    return [reverse(f"admin:{name}_{view}", args=[pk]) for name, pk in objects for view in ("change", "delete", "history")]


def settings_posts(v, world) -> list[tuple[str, dict]]:
    """Forms an attacker could post to the victim's pages, each meant to change something."""
    uid = v.org.uid
    return [
        (reverse("admin:org-settings", args=[uid]), {"form": "rename", "name": "Pwned"}),
        (reverse("admin:org-settings-members", args=[uid]), {"form": "add-member", "email": "evil@example.com", "role": "admin"}),
        (reverse("admin:org-settings-members", args=[uid]), {"form": "change-role", "membership": v.member.pk, "role": "admin"}),
        (reverse("admin:org-settings-members", args=[uid]), {"form": "transfer-ownership", "membership": v.admin.pk, "confirm": "on"}),
        (reverse("admin:org-settings-stacks", args=[uid]), {"form": "create-stack", "name": "Evil stack"}),
        (reverse("admin:org-settings-stacks", args=[uid]), {"form": "create-stack-role", "name": "Evil role"}),
        (reverse("admin:org-settings-scim-disable", args=[uid]), {}),
        (reverse("admin:org-settings-scim-enable", args=[uid]), {}),
        (reverse("admin:marketplace-install", args=[uid, "entra-id-scim"]), {}),
        (reverse("admin:marketplace-installation-regenerate", args=[uid, v.installation.pk]), {}),
        (reverse("admin:marketplace-installation-uninstall", args=[uid, v.installation.pk]), {}),
        (reverse("admin:mapping-save", args=[uid]), {"group": v.group.pk, "org_role": "admin"}),
        (reverse("admin:mapping-delete", args=[uid, v.mapping_id]), {}),
        (reverse("admin:member-stack-grant", args=[uid, v.member.pk]),
         {"form": "stack-grant", "stack-grant-stack": v.stack.pk, "stack-grant-role": v.role.pk}),
        (reverse("admin:organizations_membership_change", args=[v.member.pk]), {"manual_role": "admin", "active": "on"}),
        (reverse("admin:organizations_membership_delete", args=[v.member.pk]), {"post": "yes"}),
        (reverse("admin:organizations_stack_delete", args=[v.stack.pk]), {"post": "yes"}),
        (reverse("admin:organizations_organization_change", args=[v.org.pk]), {"name": "Pwned", "plan": "enterprise"}),
        (reverse("admin:organizations_organization_delete", args=[v.org.pk]), {"post": "yes"}),
        (reverse("admin:organizations_stackrole_delete", args=[v.role.pk]), {"post": "yes"}),
    ]


def assert_refused(response, who: str, *, marker: str | None) -> None:
    if who in ADMIN_CAPABLE:
        # 404, or the admin's "doesn't exist" redirect to its index for ModelAdmin pages.
        if response.status_code == 302:
            assert response["Location"] in ("/admin/", reverse("admin:index")), response["Location"]
        else:
            # 403: the admin refuses the action for every row of this model (deleting an org, users).
            assert response.status_code in (403, 404), response.status_code
    else:
        assert response.status_code == 302, response.status_code
        assert response["Location"].startswith(LOGIN_PATH), response["Location"]
    if marker:
        assert marker not in response.content.decode(errors="replace")


@pytest.mark.parametrize("who,victim", ATTACKS)
def test_victim_org_pages_are_refused(world, login, who, victim):
    client = login(who)
    v = world.org(victim)
    marker = MARKER if victim == "b" else None
    for url in victim_pages(v) + victim_model_pages(v):
        assert_refused(client.get(url), who, marker=marker)


@pytest.mark.parametrize("who,victim", ATTACKS)
def test_posts_to_victim_org_change_nothing(world, login, who, victim):
    client = login(who)
    v = world.org(victim)
    before = snapshot()
    for url, data in settings_posts(v, world):
        response = client.post(url, data)
        if who in ADMIN_CAPABLE and url.startswith("/admin/orgs/"):
            assert response.status_code == 404, (url, response.status_code)
        else:
            assert response.status_code in (302, 403, 404), (url, response.status_code)
            if response.status_code == 302:
                assert response["Location"].startswith((LOGIN_PATH, "/admin/")), response["Location"]
    after = snapshot()
    assert after == before, diff(before, after)


@pytest.mark.parametrize("who", ["a_owner", "a_admin"])
def test_the_raw_model_admin_is_refused_to_org_managers(world, login, who):
    """Owners and Admins run their orgs in Organization Settings; the model admin's
    changelists (where every tenant's rows live) answer them 403."""
    client = login(who)
    b = world.b
    for model in ("organization", "membership", "stack", "stackrole", "auditevent", "user"):
        base = reverse(f"admin:organizations_{model}_changelist")
        for query in ("", "?q=bravo", f"?organization__id__exact={b.org.pk}", f"?organization={b.org.pk}"):
            response = client.get(base + query)
            assert response.status_code == 403, (model, query, response.status_code)
            assert MARKER not in response.content.decode(), (model, query)


@pytest.mark.parametrize("who", ["a_owner", "a_admin"])
def test_own_audit_tab_never_shows_the_other_org(world, login, who):
    client = login(who)
    url = reverse("admin:org-settings-audit", args=[world.a.org.uid])
    for query in ("", "?kind=members", "?kind=provisioning", "?kind=settings", "?page=2", f"?org={world.b.org.uid}"):
        response = client.get(url + query)
        assert response.status_code == 200
        assert MARKER not in response.content.decode(), query
        assert {e.event.organization_id for e in response.context["entries"]} <= {world.a.org.pk}


@pytest.mark.parametrize("who", ["a_owner", "a_admin"])
def test_own_org_urls_with_other_org_ids_are_404(world, login, who):
    """The attacker's own org uid in the URL, the victim's object ids after it."""
    client = login(who)
    a, b = world.a, world.b
    before = snapshot()
    for url in (
        reverse("admin:marketplace-installation", args=[a.org.uid, b.installation.pk]),
        reverse("admin:marketplace-installation-regenerate", args=[a.org.uid, b.installation.pk]),
        reverse("admin:marketplace-installation-uninstall", args=[a.org.uid, b.installation.pk]),
        reverse("admin:mapping-delete", args=[a.org.uid, b.mapping_id]),
        reverse("admin:member-access", args=[a.org.uid, b.member.pk]),
        reverse("admin:member-access", args=[a.org.uid, b.owner.pk]),
    ):
        assert client.get(url).status_code == 404, url
        if "member-access" not in url and "/access/" not in url:
            assert client.post(url, {}).status_code == 404, url
    after = snapshot()
    assert after == before, diff(before, after)


@pytest.mark.parametrize("who", ["a_owner", "a_admin"])
def test_forms_of_own_org_refuse_other_org_objects(world, login, who):
    """B's membership, group, stack and role ids posted into A's forms are form
    errors, never applied."""
    client = login(who)
    a, b = world.a, world.b
    before = snapshot()
    members = reverse("admin:org-settings-members", args=[a.org.uid])
    for data in (
        {"form": "change-role", "membership": b.member.pk, "role": "admin"},
        {"form": "transfer-ownership", "membership": b.admin.pk, "confirm": "on"},
    ):
        response = client.post(members, data)
        assert response.status_code == 200
        assert response.context is not None
    save = reverse("admin:mapping-save", args=[a.org.uid])
    response = client.post(
        save, {"group": b.group.pk, "org_role": "admin", "all_stacks_role": b.role.pk, f"stack_{b.stack.pk}": b.role.pk}
    )
    assert response.status_code == 400
    response = client.post(
        reverse("admin:organizations_membership_add"),
        {"organization": b.org.pk, "email": "evil@example.com", "role": "admin"},
    )
    assert response.status_code == 403  # the raw model admin is for operators only
    response = client.post(reverse("admin:organizations_stack_add"), {"organization": b.org.pk, "name": "Evil"})
    assert response.status_code == 403
    after = snapshot()
    assert after == before, diff(before, after)
