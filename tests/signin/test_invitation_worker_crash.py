"""A Celery worker killed (SIGKILL) while it sends the invitations of a burst of
SCIM pushes: each e-mail is sent while its invitation is locked and marked sent
in the same transaction, so the one in flight rolls back with the connection;
the task, acknowledged late, is handed out again and sends what is left. Every
member gets a working link, the ones already sent are not sent again, and the
link of the message cut short does not work."""
from __future__ import annotations

import asyncio
import email
import email.policy
import json
import re
import threading
import time

import pytest
from aiosmtpd.controller import Controller
from django.test import Client

from organizations.models import Membership
from organizations.signin.invitations import Refusal, check_link
from organizations.signin.models import Invitation
from scim.models import AppInstallation, MarketplaceApp
from scim.tokens import issue_token
from tests import builders, workers
from tests.signin.conftest import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

LINK = re.compile(r"https?://\S+/invitations/\S+")
PEOPLE = ["first@crash.example", "second@crash.example", "third@crash.example"]


class HoldingInbox:
    """Receives every message; holds the first one's answer until released, so
    the sender is stuck mid-send when it is killed."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[email.message.EmailMessage] = []
        self.holding = threading.Event()
        self.release = threading.Event()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)
        if len(self.messages) == 1:
            self.holding.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 60)
        return "250 Message accepted"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]

    @staticmethod
    def token(message) -> str:
        body = message.get_body(preferencelist=("plain",)).get_content()
        return LINK.findall(body)[0].rstrip("/").rsplit("/", 1)[-1]


@pytest.fixture
def inbox():
    box = HoldingInbox()
    box.controller.start()
    yield box
    box.release.set()
    box.controller.stop()


@pytest.fixture
def worker(inbox):
    with workers.crash_test_worker(
        "invite-crash", EMAIL_URL=f"smtp://127.0.0.1:{inbox.port}", EMAIL_TIMEOUT="120",
    ) as proc:
        yield proc


def test_worker_killed_while_sending_a_burst_of_invitations_loses_none(worker, inbox, settings):
    from django.core.cache import cache

    from organizations.signin.due_invitations import DUE_KICK_KEY

    settings.INVITATION_BATCH_SECONDS = 0
    cache.delete(DUE_KICK_KEY)
    org = builders.make_org("Crash invites")
    org.scim_enabled = True
    org.save(update_fields=["scim_enabled"])
    app, _ = MarketplaceApp.objects.get_or_create(
        slug="okta-generic-scim", defaults={"name": "Okta", "vendor": "Test", "summary": "SCIM app for tests"}
    )
    installation = AppInstallation.objects.create(organization=org, app=app)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {issue_token(installation).secret}"}
    client = Client()
    for address in PEOPLE:  # one burst: the first push enqueues the one task
        body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": address,
                "emails": [{"value": address, "primary": True}]}
        response = client.post(f"/scim/v2/organizations/{org.uid}/Users", json.dumps(body),
                               content_type="application/scim+json", **headers)
        assert response.status_code == 201, response.content

    assert inbox.holding.wait(60), "the worker never started sending"
    killed = workers.kill_pool(worker)
    assert killed, "no pool process was found to kill"
    cut_short = inbox.messages[0]
    inbox.release.set()

    deadline = time.monotonic() + 60  # within the minute
    while time.monotonic() < deadline:
        if Invitation.objects.filter(organization=org, sent_at__isnull=False).count() == len(PEOPLE):
            break
        time.sleep(0.2)
    sent = Invitation.objects.filter(organization=org, sent_at__isnull=False)
    assert sent.count() == len(PEOPLE), list(Invitation.objects.filter(organization=org).values())
    assert not Membership.objects.filter(organization=org, invitation_due=True).exists()
    assert Invitation.objects.filter(organization=org).count() == len(PEOPLE)  # one invitation each, no duplicate rows

    first = str(cut_short["To"])
    for address in PEOPLE:
        received = inbox.to(address)
        # The message in flight when the worker died is sent again; the others once.
        assert len(received) == (2 if address in first else 1), (address, len(received))
        assert check_link(org.uid, inbox.token(received[-1])).refusal is None
    assert check_link(org.uid, inbox.token(cut_short)).refusal == Refusal.INVALID  # its token was rolled back
