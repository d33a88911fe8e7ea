"""Forgot password (Django's flow, e-mailed from a task, never saying whether an
address has an account, throttled) and the member's read-only home page."""
from __future__ import annotations

import re

import pytest
from django.urls import reverse

from organizations.models import AuditEvent, StackRole
from organizations.services import grant_stack_role
from tests import builders

from .test_invitations import NEW_PASSWORD, path_of

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_sign_in_page_links_to_password_reset(client):
    page = client.get(reverse("admin:login")).content.decode()
    assert f'href="{reverse("password_reset")}"' in page


def test_reset_answers_the_same_for_known_and_unknown_addresses_and_mails_a_working_link(client, smtp_server):
    org = builders.make_org("Acme")
    builders.make_member(org, "known@acme.example")
    known = client.post(reverse("password_reset"), {"email": "KNOWN@acme.example"})
    unknown = client.post(reverse("password_reset"), {"email": "nobody@acme.example"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == reverse("password_reset_done")
    assert [str(m["To"]) for m in smtp_server.messages] == ["known@acme.example"]

    url = smtp_server.link("known@acme.example")
    form = client.get(path_of(url), follow=True)  # Django swaps the token into the session
    assert b"new_password1" in form.content
    done = client.post(form.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done["Location"] == reverse("password_reset_complete")
    assert client.login(username="known@acme.example", password=NEW_PASSWORD)
    assert set(AuditEvent.objects.values_list("action", flat=True)) >= {
        "account.password_reset_request", "account.password_reset"
    }


def reset_request(rf, email: str):
    """A reset POST through the view alone, as a WSGI server runs it: the
    request starts, the view answers, the response is closed later."""
    from django.contrib.auth.models import AnonymousUser

    from organizations.signin.views import PasswordResetView

    request = rf.post(reverse("password_reset"), {"email": email})
    request.user, request._dont_enforce_csrf_checks = AnonymousUser(), True
    return PasswordResetView.as_view()(request)


def test_reset_does_the_same_work_for_known_and_unknown_addresses(rf, settings, monkeypatch):
    """With a broker: the same statements and one task call with the address typed, whoever it is."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from organizations.signin import tasks

    builders.make_member(builders.make_org("Acme"), "known@acme.example")
    settings.CELERY_TASK_ALWAYS_EAGER = False
    calls = []
    monkeypatch.setattr(tasks.send_password_reset_email_to, "delay", lambda *args: calls.append(args))
    counted = []
    for email in ("known@acme.example", "nobody@acme.example"):
        with CaptureQueriesContext(connection) as queries:
            assert reset_request(rf, email).status_code == 302
        counted.append([q["sql"] for q in queries.captured_queries])
    assert counted[0] == counted[1]
    assert calls == [("known@acme.example",), ("nobody@acme.example",)]


def test_eager_reset_mail_leaves_after_the_response_is_closed(rf, mailoutbox):
    """Without a broker the task would run inside the request: it runs once the
    response is closed (request_finished), and the request's statements are
    the same for a known and an unknown address."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from organizations import after_response

    builders.make_member(builders.make_org("Acme"), "known@acme.example")
    counted = []
    for email in ("known@acme.example", "nobody@acme.example"):
        after_response.on_request_started()
        with CaptureQueriesContext(connection) as queries:
            response = reset_request(rf, email)
        counted.append(len(queries))
        if email.startswith("known"):
            assert mailoutbox == [] and not AuditEvent.objects.filter(action="account.password_reset_request").exists()
        response.close()  # Django sends request_finished
    assert counted[0] == counted[1]
    assert [m.to for m in mailoutbox] == [["known@acme.example"]]
    assert AuditEvent.objects.filter(action="account.password_reset_request").count() == 1


def test_no_reset_mail_for_a_deactivated_member(client, mailoutbox):
    from scim.provisioning import set_membership_active

    org = builders.make_org("Acme")
    set_membership_active(builders.make_member(org, "off@acme.example"), False, actor=None)
    assert client.post(reverse("password_reset"), {"email": "off@acme.example"}).status_code == 302
    assert mailoutbox == []


def test_reset_requests_are_throttled_like_sign_in(client, settings, mailoutbox):
    settings.ADMIN_LOGIN_FAILURES_PER_ACCOUNT = 3
    org = builders.make_org("Acme")
    builders.make_member(org, "m@acme.example")
    for _ in range(3):
        assert client.post(reverse("password_reset"), {"email": "m@acme.example"}).status_code == 302
    refused = client.post(reverse("password_reset"), {"email": "m@acme.example"})
    assert refused.status_code == 200 and b"Too many password reset requests" in refused.content
    # the same for an address without an account: throttling reveals nothing
    for _ in range(3):
        client.post(reverse("password_reset"), {"email": "ghost@acme.example"})
    ghost = client.post(reverse("password_reset"), {"email": "ghost@acme.example"})
    assert b"Too many password reset requests" in ghost.content
    assert len(mailoutbox) == 3
    # and it does not lock sign-in
    assert client.login(username="m@acme.example", password=builders.PASSWORD)


def cells(page: str) -> str:
    """The page with each cell's text bare: names truncate in a span with the whole
    name as its tooltip, sentences wrap in a span ({{ name|longname }})."""
    page = re.sub(r'<span class="od-trunc" title="[^"]*">([^<]*)</span>', r"\1", page)
    return re.sub(r'<span class="od-wrap">([^<]*)</span>', r"\1", page)


def test_home_shows_orgs_roles_and_stack_roles_with_where_each_came_from(client):
    from mappings.services import save_mapping
    from scim.models import ScimGroup
    from scim.provisioning import change_group_members

    acme = builders.make_org("Acme")
    globex = builders.make_org("Globex")
    member = builders.make_member(acme, "m@example.com")
    builders.make_member(globex, "m@example.com")
    web, app = builders.make_stack(acme, "Web"), builders.make_stack(acme, "App")
    developer = StackRole.objects.get(builtin=True, name="Developer")
    admin_role = StackRole.objects.get(builtin=True, name="Admin")
    grant_stack_role(member, web, developer, actor=None)
    group = ScimGroup.objects.create(organization=acme, display_name="Engineering")
    change_group_members(group, add=[member.pk], actor=None)
    save_mapping(acme, group, org_role="admin", stack_roles={app: admin_role}, all_stacks_role=None, actor=None)

    client.login(username="m@example.com", password=builders.PASSWORD)
    page = cells(client.get(reverse("member_home")).content.decode())
    assert 'data-org="Acme"' in page and 'data-org="Globex"' in page
    assert "<td>Admin</td>\n          <td>SCIM group Engineering</td>" in page
    assert "<td>Acme</td><td>Web</td><td>Developer</td><td>granted by hand</td>" in page
    assert "<td>Acme</td><td>App</td><td>Admin</td><td>SCIM group Engineering</td>" in page


def test_home_is_paged_and_its_query_count_does_not_grow(client, django_assert_max_num_queries):
    from organizations.signin.home import GRANTS_PER_PAGE

    org = builders.make_org("Acme")
    member = builders.make_member(org, "m@example.com")
    role = StackRole.objects.get(builtin=True, name="Developer")
    for i in range(GRANTS_PER_PAGE + 5):
        grant_stack_role(member, builders.make_stack(org, f"S{i:03}"), role, actor=None)
    client.login(username="m@example.com", password=builders.PASSWORD)
    with django_assert_max_num_queries(14):
        page = cells(client.get(reverse("member_home")).content.decode())
    assert page.count("<td>Developer</td>") == GRANTS_PER_PAGE and "Page 1 of 2" in page
    second = cells(client.get(reverse("member_home") + "?grants=2").content.decode())
    assert second.count("<td>Developer</td>") == 5
