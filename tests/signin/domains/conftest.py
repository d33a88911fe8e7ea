"""Fixtures for verified domains: a real DNS server (tests/dns_server.py, on
dnslib) that settings.DNS_RESOLVER points at, and the SAML fixtures."""
from __future__ import annotations

import pytest

from organizations.signin.domains import services
from tests.dns_server import DnsServer
from tests.signin.saml.conftest import idp, sp, sso_org  # noqa: F401  (fixtures)


@pytest.fixture
def dns(settings):
    with DnsServer() as server:
        settings.DNS_RESOLVER = server.address
        yield server


def publish(dns_server: DnsServer, row) -> None:
    """Publish the TXT record the tab shows for this domain."""
    dns_server.set_txt(row.record_name, row.record_value)


def add_and_verify(dns_server: DnsServer, org, domain: str, actor):
    row = services.add_domain(org, domain, actor=actor)
    publish(dns_server, row)
    return services.verify_domain(org, domain, actor=actor)
