"""Organization Settings > Audit log: every entry a readable sentence (who did
what to whom, when, from where), newest first, a page at a time at a cost that
does not grow with the org's trail; only the org's Owners and Admins see it."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from organizations import services
from organizations.audit import build_event, bulk_record, record
from organizations.audit_log import registered_actions, sentence
from organizations.models import AuditEvent
from organizations.paging import PAGE_SIZE
from tests import builders

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
ACTION_CODE = re.compile(
    r"^(organization|membership|stack|stack_role|stack_access|account|invitation|sso|scim|marketplace|access|group_mapping)"
    r"(\.[a-z_]+)+$"
)


def audit_url(org) -> str:
    return reverse("admin:org-settings-audit", args=[org.uid])


def rows(response) -> list[str]:
    return [e.sentence for e in response.context["entries"]]


def recorded_action_codes() -> set[str]:
    """Every action code written in the apps' source: string constants shaped like one."""
    codes = set()
    for package in ("organizations", "scim", "mappings"):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts or path.name in ("audit_log.py", "admin_filters.py"):
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and ACTION_CODE.match(node.value):
                    codes.add(node.value)
    return codes


def test_every_action_the_code_records_has_a_sentence():
    codes = recorded_action_codes()
    assert {"membership.change_role", "scim.user.provision", "access.recompute", "marketplace.uninstall"} <= codes
    assert codes - registered_actions() == set()


def test_entries_read_as_sentences_newest_first_with_time_and_address(client, org, owner, plain_member):
    ada = owner.user
    client.force_login(ada)
    client.post(reverse("admin:org-settings-members", args=[org.uid]),
                {"form": "change-role", "change-role-membership": plain_member.pk, "change-role-role": "admin"},
                REMOTE_ADDR="203.0.113.7")
    services.rename_organization(org, "Acme Two", actor=ada)

    response = client.get(audit_url(org))

    assert response.status_code == 200
    sentences = rows(response)
    assert sentences[0] == f"{ada.email} renamed the organization from Acme to Acme Two"
    assert sentences[1] == f"{ada.email} changed the role of member@acme.example from Member to Admin"
    assert "System added member@acme.example as Member" not in sentences
    assert "Orgdesk added member@acme.example as Member" in sentences
    page = response.content.decode()
    assert "203.0.113.7" in page
    assert "membership.change_role</td>" not in page  # the code is never the text
    assert re.search(r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d UTC</time>", page)


def test_an_installation_acts_under_its_app_name_and_number(org):
    from scim.installations import enable_scim, install_app
    from scim.models import MarketplaceApp

    enable_scim(org, actor=None)
    installation, _ = install_app(org, MarketplaceApp.objects.get(slug="okta-generic-scim"), actor=None)
    member = builders.make_member(org, "jane@acme.example")
    services.set_member_active(member, False, actor=installation)
    event = AuditEvent.objects.filter(action="membership.deactivate").latest("id")
    assert sentence(event) == f"Okta Generic SCIM (installation #{installation.pk}) deactivated jane@acme.example"
    installed = AuditEvent.objects.filter(action="marketplace.install").latest("id")
    assert sentence(installed) == f"Orgdesk installed Okta Generic SCIM (installation #{installation.pk})"


def test_an_unknown_action_is_worded_never_shown_as_its_code(org, owner):
    event = record(org, owner.user, "sso.certificate_rotate", target_label="okta")
    text = sentence(event)
    assert text == f"{owner.user.email}: sso certificate rotate okta"
    assert "sso.certificate_rotate" not in text


def test_a_sentence_whose_values_are_missing_falls_back_to_words(org, owner):
    event = record(org, owner.user, "membership.change_role", target_label="bob@acme.example")
    assert sentence(event) == f"{owner.user.email}: membership change role bob@acme.example"


def test_filter_by_kind(client, org, owner):
    client.force_login(owner.user)
    builders.make_stack(org, "Web")
    response = client.get(audit_url(org), {"kind": "stacks"})
    assert rows(response) == ["Orgdesk created the stack Web"]
    assert client.get(audit_url(org), {"kind": "nonsense"}).status_code == 200  # ignored, everything shown


def add_events(org, n: int) -> None:
    bulk_record([build_event(org, None, "stack.create", after={"name": f"S{i}"}) for i in range(n)])


@pytest.mark.parametrize("size", [3, PAGE_SIZE * 3])
def test_statement_count_does_not_grow_with_the_trail(client, org, owner, size, django_assert_num_queries):
    client.force_login(owner.user)
    add_events(org, size)
    client.get(audit_url(org))  # warm the session
    with django_assert_num_queries(10):
        response = client.get(audit_url(org), {"page": 2 if size > PAGE_SIZE else 1})
    # + the org's creation and the owner's password sign-in
    assert len(response.context["entries"]) == (PAGE_SIZE if size > PAGE_SIZE else size + 2)
    with django_assert_num_queries(10):
        response = client.get(audit_url(org), {"kind": "stacks"})
    assert len(response.context["entries"]) == min(size, PAGE_SIZE)


def test_a_kind_is_the_exact_actions_under_its_prefixes():
    from organizations.audit_log import actions_of_kind

    assert actions_of_kind("stacks") == [
        "stack.create", "stack.delete", "stack.rename", "stack_role.create", "stack_role.delete", "stack_role.rename"
    ]
    assert "sso.signin_refused" in actions_of_kind("signins") and "sso.enable" not in actions_of_kind("signins")
    assert {"account.signin", "sso.signin", "sso.link"} <= set(actions_of_kind("signins"))
    assert actions_of_kind("nonsense") == []


def test_pages_follow_newest_first(client, org, owner):
    client.force_login(owner.user)
    add_events(org, PAGE_SIZE + 5)
    first = client.get(audit_url(org)).context["entries"]
    second = client.get(audit_url(org), {"page": 2}).context["entries"]
    assert first[0].event.created_at >= second[0].event.created_at
    assert len(first) == PAGE_SIZE and len(second) == 7  # + the org's creation and the owner's sign-in


def test_an_admin_sees_the_tab_a_member_does_not(client, org, admin_member, plain_member):
    client.force_login(admin_member.user)
    assert client.get(audit_url(org)).status_code == 200
    member = Client()
    member.force_login(plain_member.user)
    response = member.get(audit_url(org))
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_the_tab_is_listed_among_the_settings_tabs(client, org, owner):
    client.force_login(owner.user)
    page = client.get(reverse("admin:org-settings", args=[org.uid])).content.decode()
    assert f'href="{audit_url(org)}"' in page and ">Audit log</a>" in page


def pager_text(response) -> str:
    found = re.search(r'<nav class="paginator orgdesk-pager" id="audit-pager"[^>]*>(.*?)</nav>',
                      response.content.decode(), re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def test_the_count_stops_at_the_trail_cap_and_pages_past_it_say_what_they_saw(client, org, owner, monkeypatch):
    """A trail counts up to TRAIL_COUNT_CAP entries only (in an org whose rows were
    not vacuumed yet, each entry counted is a table row read); the pages past it
    keep going, each saying how many entries it has seen, the last one exactly."""
    monkeypatch.setattr("organizations.audit_log.TRAIL_COUNT_CAP", PAGE_SIZE + 10)
    client.force_login(owner.user)
    add_events(org, PAGE_SIZE * 2 + 3)  # + the org's creation and the owner's sign-in: 105 entries
    first = client.get(audit_url(org))
    assert "Audit log (60+)" in first.content.decode()
    assert pager_text(first) == "1–50 of 60+ · page 1 Next ›"
    second = client.get(audit_url(org), {"page": 2})
    assert pager_text(second) == "51–100 of 101+ · page 2 ‹ Previous Next ›"
    last = client.get(audit_url(org), {"page": 3})
    assert pager_text(last) == "101–105 of 105 · page 3 of 3 ‹ Previous"
