"""Organization Settings > Single Sign-On > Verified domains: the Owner adds a
domain, sees the TXT name and value with Copy buttons, verifies (over the test
DNS server) and removes; an Admin reads only; another org's Owner gets nothing."""
from __future__ import annotations

import pytest
from django.urls import reverse

from organizations.signin.domains.models import VerifiedDomain
from tests import builders

pytestmark = pytest.mark.django_db


def tab(org):
    return reverse("admin:org-settings-sso", args=[org.uid])


def add_url(org):
    return reverse("admin:org-settings-domain-add", args=[org.uid])


def test_owner_adds_verifies_and_removes_a_domain_from_the_tab(client, org, owner, dns):
    client.force_login(owner.user)
    body = client.get(tab(org)).content.decode()
    assert 'id="sso-domains"' in body and 'id="sso-domain-form"' in body and 'id="sso-no-domains"' in body

    assert client.post(add_url(org), {"domain": " Acme.Example. "}).status_code == 302
    row = VerifiedDomain.objects.get(organization=org)
    page = client.get(tab(org))
    body = page.content.decode()
    assert row.domain == "acme.example"
    assert f'value="{row.record_name}"' in body and f'value="{row.record_value}"' in body
    assert f'data-copy="domain-{row.pk}-name"' in body and f'data-copy="domain-{row.pk}-value"' in body
    assert "Pending" in body and "orgdesk/copy_buttons.js" in body
    assert "<script>" not in body and ' style="' not in body

    verify = reverse("admin:org-settings-domain-verify", args=[org.uid, row.pk])
    failed = client.post(verify, follow=True).content.decode()
    assert "is not verified" in failed and "NXDOMAIN" in failed and f'id="domain-{row.pk}-answer"' in failed

    dns.set_txt(row.record_name, row.record_value)
    done = client.post(verify, follow=True).content.decode()
    assert "acme.example is verified" in done
    row.refresh_from_db()
    assert row.verified

    remove = reverse("admin:org-settings-domain-remove", args=[org.uid, row.pk])
    confirm = client.get(remove)
    assert confirm.status_code == 200 and "Remove the domain acme.example?" in confirm.content.decode()
    assert VerifiedDomain.objects.filter(pk=row.pk).exists()  # a GET removes nothing
    assert client.post(remove).status_code == 302
    assert not VerifiedDomain.objects.exists()


@pytest.mark.parametrize("given", ["acme example", "owner@acme.example", "https://acme.example", "localhost", ""])
def test_a_bad_domain_is_refused_with_its_reason(client, org, owner, given):
    client.force_login(owner.user)
    page = client.post(add_url(org), {"domain": given}, follow=True)
    assert page.status_code == 200 and not VerifiedDomain.objects.exists()
    body = page.content.decode()
    assert 'class="error"' in body and any(
        words in body for words in ("no spaces", "not an e-mail address", "whole domain", "Enter a domain", "This field")
    )


def test_an_admin_reads_the_domains_but_cannot_add_verify_or_remove(client, org, owner, admin_member, dns):
    row = VerifiedDomain.objects.create(organization=org, domain="acme.example")
    dns.set_txt(row.record_name, row.record_value)
    client.force_login(admin_member.user)
    body = client.get(tab(org)).content.decode()
    assert "acme.example" in body and f'value="{row.record_value}"' in body
    assert 'id="sso-domains-readonly"' in body and 'id="sso-domain-form"' not in body
    assert f'id="domain-{row.pk}-verify"' not in body

    assert client.post(add_url(org), {"domain": "other.example"}).status_code == 403
    assert client.post(reverse("admin:org-settings-domain-verify", args=[org.uid, row.pk])).status_code == 403
    remove = reverse("admin:org-settings-domain-remove", args=[org.uid, row.pk])
    assert client.get(remove).status_code == 403 and client.post(remove).status_code == 403
    row.refresh_from_db()
    assert not row.verified and VerifiedDomain.objects.count() == 1 and dns.queries == []


def test_another_orgs_owner_cannot_reach_our_domains(client, org, dns):
    row = VerifiedDomain.objects.create(organization=org, domain="acme.example")
    dns.set_txt(row.record_name, row.record_value)
    evil = builders.make_org("Evil")
    client.force_login(builders.owner_of(evil).user)
    # Through our org's URLs: not found.
    assert client.post(reverse("admin:org-settings-domain-verify", args=[org.uid, row.pk])).status_code == 404
    # Through its own org's URLs, naming our row: not found either.
    assert client.post(reverse("admin:org-settings-domain-verify", args=[evil.uid, row.pk])).status_code == 404
    assert client.post(reverse("admin:org-settings-domain-remove", args=[evil.uid, row.pk])).status_code == 404
    row.refresh_from_db()
    assert not row.verified and VerifiedDomain.objects.count() == 1
