"""domain_add and domain_verify: the TXT record to publish, and the check, as JSON."""
from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from organizations.signin.domains.models import VerifiedDomain
from tests import builders

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def acme(db):
    return builders.make_org("Acme", owner_email="owner@acme.example")


def test_add_prints_the_txt_record_and_verify_checks_it(acme, dns):
    added = json.loads(run("domain_add", acme.uid, "ACME.example.", "--actor", "owner@acme.example", "--json"))
    row = VerifiedDomain.objects.get(organization=acme)
    assert added["domain"] == "acme.example" and added["verified"] is False
    assert added["txt_name"] == "_orgdesk-challenge.acme.example"
    assert added["txt_value"] == row.record_value and added["txt_value"].startswith("orgdesk-domain-verification=")
    text = run("domain_add", acme.uid, "acme.example", "--actor", "owner@acme.example")
    assert "TXT name: _orgdesk-challenge.acme.example" in text and f"TXT value: {row.record_value}" in text

    with pytest.raises(CommandError, match="NXDOMAIN"):
        run("domain_verify", acme.uid, "acme.example", "--actor", "owner@acme.example")
    dns.set_txt(added["txt_name"], added["txt_value"])
    verified = json.loads(run("domain_verify", acme.uid, "acme.example", "--actor", "owner@acme.example", "--json"))
    assert verified["verified"] is True and verified["verified_at"] and verified["error"] == ""
    assert "is verified" in run("domain_verify", acme.uid, "acme.example", "--actor", "owner@acme.example")


def test_a_failed_verify_prints_json_and_exits_non_zero(acme, dns):
    run("domain_add", acme.uid, "acme.example", "--actor", "owner@acme.example")
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("domain_verify", acme.uid, "acme.example", "--actor", "owner@acme.example", "--json", stdout=out)
    payload = json.loads(out.getvalue())
    assert payload["verified"] is False and "NXDOMAIN" in payload["error"]


def test_the_actor_must_be_the_owner_and_the_domain_valid(acme, dns):
    builders.make_member(acme, "admin@acme.example", role="admin")
    with pytest.raises(CommandError, match="not the Owner"):
        run("domain_add", acme.uid, "acme.example", "--actor", "admin@acme.example")
    with pytest.raises(CommandError, match="No organization"):
        run("domain_add", "nope", "acme.example", "--actor", "owner@acme.example")
    with pytest.raises(CommandError, match="no spaces"):
        run("domain_add", acme.uid, "acme example", "--actor", "owner@acme.example")
    with pytest.raises(CommandError, match="has not added"):
        run("domain_verify", acme.uid, "other.example", "--actor", "owner@acme.example")
    assert not VerifiedDomain.objects.exists()
