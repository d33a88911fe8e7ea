"""Verified domains over real DNS (tests/dns_server.py): the TXT record
verifies a domain, a wrong or missing one does not (and says what DNS
answered), one org at a time holds a domain, and the daily re-check takes a
domain away when its record is gone and tells the Owner."""
from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from organizations import audit_log, permissions
from organizations.models import AuditEvent
from organizations.services import ServiceError
from organizations.signin.domains import services, tasks
from organizations.signin.domains.models import VerifiedDomain
from tests import builders

from .conftest import add_and_verify, publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(db):
    return builders.make_org("Acme", owner_email="owner@acme.example")


@pytest.fixture
def acme_owner(acme):
    return builders.owner_of(acme).user


@pytest.mark.parametrize("given, stored", [
    ("acme.example", "acme.example"),
    ("  ACME.Example  ", "acme.example"),
    ("acme.example.", "acme.example"),
    ("Mail.ACME.example", "mail.acme.example"),
    ("bücher.example", "xn--bcher-kva.example"),
    ("BÜCHER.example", "xn--bcher-kva.example"),
    ("xn--bcher-kva.example", "xn--bcher-kva.example"),
])
def test_a_domain_is_stored_lower_case_in_its_idna_form(given, stored):
    assert services.normalize_domain(given) == stored


@pytest.mark.parametrize("given", [
    "", "   ", "acme example", "acme.example\t.evil", "acme .example", "owner@acme.example", "https://acme.example/",
    "acme.example:443", "*.acme.example", "example", "127.0.0.1", "acme..example", "-acme.example", "acme_x.example",
    "a" * 64 + ".example", "acme.example..", "xn--zz.example", "acme.exa\u200bmple\u0000",
])
def test_anything_else_is_refused_with_a_reason(given):
    with pytest.raises(ServiceError) as refused:
        services.normalize_domain(given)
    assert str(refused.value)


def test_the_right_txt_record_verifies_the_domain(dns, acme, acme_owner):
    row = services.add_domain(acme, "ACME.example.", actor=acme_owner)
    assert (row.domain, row.verified) == ("acme.example", False)
    assert row.record_name == "_orgdesk-challenge.acme.example"
    assert row.record_value.startswith("orgdesk-domain-verification=") and len(row.token) >= 24
    assert services.add_domain(acme, "acme.example", actor=acme_owner).pk == row.pk  # adding twice: same record

    dns.set_txt(row.record_name, "v=spf1 -all", row.record_value)  # other TXT values next to it are fine
    verified = services.verify_domain(acme, "acme.example", actor=acme_owner)
    assert verified.verified and verified.last_error == "" and verified.last_checked_at is not None
    assert "_orgdesk-challenge.acme.example" in dns.queries
    event = AuditEvent.objects.get(action="domain.verify")
    assert audit_log.sentence(event) == (
        "owner@acme.example verified the domain acme.example (TXT record _orgdesk-challenge.acme.example)"
    )
    assert services.verified_by(acme, "Someone@ACME.example")
    assert not services.verified_by(acme, "someone@sub.acme.example")


@pytest.mark.parametrize("published", [None, ["orgdesk-domain-verification=not-the-token"], []])
def test_a_wrong_or_missing_record_fails_with_what_dns_answered(dns, acme, acme_owner, published):
    row = services.add_domain(acme, "acme.example", actor=acme_owner)
    if published is not None:
        dns.set_txt(row.record_name, *published)
    with pytest.raises(services.VerificationFailed) as failed:
        services.verify_domain(acme, "acme.example", actor=acme_owner)
    message = str(failed.value)
    assert "_orgdesk-challenge.acme.example" in message
    if published is None:
        assert "NXDOMAIN" in message
    elif published:
        assert "not-the-token" in message
    else:
        assert "no TXT record" in message
    row.refresh_from_db()
    assert not row.verified and row.last_error == message and row.last_checked_at is not None
    assert not VerifiedDomain.objects.filter(verified_at__isnull=False).exists()
    assert AuditEvent.objects.filter(action="domain.verify_failed").exists()


def test_a_dns_outage_verifies_nothing(dns, acme, acme_owner):
    row = services.add_domain(acme, "acme.example", actor=acme_owner)
    publish(dns, row)
    dns.fail.add(row.record_name)
    with pytest.raises(services.VerificationFailed, match="could not answer"):
        services.verify_domain(acme, "acme.example", actor=acme_owner)
    row.refresh_from_db()
    assert not row.verified


def test_another_orgs_verified_domain_cannot_be_claimed(dns, acme, acme_owner):
    add_and_verify(dns, acme, "acme.example", acme_owner)
    evil = builders.make_org("Evil", owner_email="mallory@evil.example")
    mallory = builders.owner_of(evil).user
    claim = services.add_domain(evil, "ACME.EXAMPLE", actor=mallory)  # a pending claim is allowed
    # Even with Evil's own value published (it took over the zone for a moment), Acme holds it.
    dns.set_txt(claim.record_name, claim.record_value, VerifiedDomain.objects.get(organization=acme).record_value)
    with pytest.raises(services.VerificationFailed, match="already verified by another organization"):
        services.verify_domain(evil, "acme.example", actor=mallory)
    claim.refresh_from_db()
    assert not claim.verified and "another organization" in claim.last_error
    assert "Acme" not in claim.last_error  # which org holds it is not said
    assert services.org_for_email("x@acme.example") is None  # Acme has no SSO: nothing routes
    assert not services.verified_by(evil, "owner@acme.example")

    # Once Acme removes it, Evil (with the record published) may verify it.
    services.remove_domain(acme, "acme.example", actor=acme_owner)
    assert services.verify_domain(evil, "acme.example", actor=mallory).verified


def test_the_database_holds_one_verified_row_per_domain(acme):
    other = builders.make_org("Globex")
    builders.verified_domain(acme, "acme.example")
    VerifiedDomain.objects.create(organization=other, domain="acme.example")  # pending beside it: fine
    with pytest.raises(IntegrityError), transaction.atomic():
        VerifiedDomain.objects.filter(organization=other).update(verified_at=timezone.now())


def test_only_the_owner_adds_verifies_and_removes(dns, acme, acme_owner):
    admin = builders.make_member(acme, "admin@acme.example", role="admin").user
    with pytest.raises(permissions.NotPermitted):
        services.add_domain(acme, "acme.example", actor=admin)
    row = services.add_domain(acme, "acme.example", actor=acme_owner)
    publish(dns, row)
    with pytest.raises(permissions.NotPermitted):
        services.verify_domain(acme, "acme.example", actor=admin)
    with pytest.raises(permissions.NotPermitted):
        services.remove_domain(acme, "acme.example", actor=admin)
    row.refresh_from_db()
    assert not row.verified and dns.queries == []
    # The Owner of another org cannot touch Acme's domains either.
    stranger = builders.owner_of(builders.make_org("Globex")).user
    with pytest.raises(permissions.NotPermitted):
        services.verify_domain(acme, "acme.example", actor=stranger)


def test_the_daily_recheck_unverifies_a_domain_whose_record_is_gone_and_emails_the_owner(
        dns, acme, acme_owner, mailoutbox, django_capture_on_commit_callbacks):
    kept = add_and_verify(dns, acme, "acme.example", acme_owner)
    gone = add_and_verify(dns, acme, "acme-mail.example", acme_owner)
    flaky = add_and_verify(dns, acme, "acme-flaky.example", acme_owner)
    dns.remove(gone.record_name)
    dns.fail.add(flaky.record_name)

    with django_capture_on_commit_callbacks(execute=True):
        counts = tasks.recheck_verified_domains.apply().get()
    assert counts == {"checked": 3, "unverified": 1, "errors": 1}
    for row in (kept, gone, flaky):
        row.refresh_from_db()
    assert kept.verified and not gone.verified and "NXDOMAIN" in gone.last_error
    assert flaky.verified and "could not answer" in flaky.last_error  # an outage takes nothing away
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["owner@acme.example"]
    assert "acme-mail.example" in mailoutbox[0].subject and gone.record_value in mailoutbox[0].body
    event = AuditEvent.objects.get(action="domain.unverify")
    assert audit_log.sentence(event).startswith("Orgdesk found the TXT record of acme-mail.example gone")

    # The record comes back: Verify takes it again, and the next re-check sends nothing.
    publish(dns, gone)
    assert services.verify_domain(acme, "acme-mail.example", actor=acme_owner).verified
    with django_capture_on_commit_callbacks(execute=True):
        tasks.recheck_verified_domains.apply()
    assert len(mailoutbox) == 1


def test_the_recheck_runs_once_at_a_time(dns, acme, acme_owner):
    from django.core.cache import cache

    from organizations.scheduled import SKIPPED, _lease_key

    add_and_verify(dns, acme, "acme.example", acme_owner)
    cache.add(_lease_key("recheck-verified-domains"), "another-node", timeout=60)
    try:
        assert tasks.recheck_verified_domains.apply().get() == SKIPPED
    finally:
        cache.delete(_lease_key("recheck-verified-domains"))


def test_removing_a_domain_is_audited(dns, acme, acme_owner):
    add_and_verify(dns, acme, "acme.example", acme_owner)
    services.remove_domain(acme, "acme.example", actor=acme_owner)
    assert not VerifiedDomain.objects.exists()
    event = AuditEvent.objects.get(action="domain.remove")
    assert audit_log.sentence(event) == "owner@acme.example removed the domain acme.example"
    assert "domain.remove" in audit_log.actions_of_kind("settings")
    with pytest.raises(ServiceError):
        services.remove_domain(acme, "acme.example", actor=acme_owner)


def test_the_resolver_setting():
    from organizations.signin.domains.lookup import resolver_address

    assert resolver_address(None) is None and resolver_address("") is None
    assert resolver_address("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert resolver_address("10.0.0.2") == ("10.0.0.2", 53)
    assert resolver_address("[::1]:5300") == ("::1", 5300)
