"""A real SMTP server (aiosmtpd) on loopback for sign-in tests: messages leave
through Django's SMTP backend over a socket, exactly as in production."""
from __future__ import annotations

import email
import email.policy
import re
import socket
import time

import pytest
from aiosmtpd.controller import Controller

LINK = re.compile(r"https?://\S+")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self, port: int):
        self.port = port
        self.messages: list[email.message.EmailMessage] = []
        self.controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted"

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def wait_for(self, to: str, timeout: float = 10) -> email.message.EmailMessage:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in reversed(self.messages):
                if to.lower() in str(message["To"]).lower():
                    return message
            time.sleep(0.05)
        raise AssertionError(f"no e-mail to {to} within {timeout} s; got {[m['To'] for m in self.messages]}")

    @staticmethod
    def body(message) -> str:
        return message.get_body(preferencelist=("plain",)).get_content()

    def link(self, to: str, timeout: float = 10) -> str:
        found = LINK.findall(self.body(self.wait_for(to, timeout)))
        assert len(found) == 1, found
        return found[0]


@pytest.fixture
def smtp_server(settings):
    """Django's SMTP backend pointed at a live aiosmtpd server on a free port."""
    inbox = Inbox(free_port())
    inbox.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", inbox.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    yield inbox
    inbox.stop()


def path_of(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path
