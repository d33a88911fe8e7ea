"""Provisioning activity on the SCIM tab: writes and failures by default, runs of
successful reads folded into one line, cursor pages, filters."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from organizations.models import Organization
from scim.activity_list import LINES_PER_PAGE
from scim.models import AppInstallation, MarketplaceApp, ProvisioningEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def apps(org):
    Organization.objects.filter(pk=org.pk).update(scim_enabled=True)
    okta = AppInstallation.objects.create(organization=org, app=MarketplaceApp.objects.get(slug="okta-generic-scim"))
    entra = AppInstallation.objects.create(organization=org, app=MarketplaceApp.objects.exclude(slug="okta-generic-scim").first())
    return okta, entra


def log(org, installation, rows):
    """rows: (method, operation, status, target), oldest first, one second apart."""
    start = timezone.now() - timedelta(hours=1)
    ProvisioningEvent.objects.bulk_create(
        ProvisioningEvent(
            organization=org, installation=installation, created_at=start + timedelta(seconds=i), method=method,
            path="/scim/v2/x", operation=op, target=target, status=status,
            outcome="success" if status < 400 else "failure",
        )
        for i, (method, op, status, target) in enumerate(rows)
    )


def tab(client, org, **params):
    return client.get(reverse("admin:org-settings-scim", args=[org.uid]), params)


def test_default_shows_writes_and_failures_and_all_folds_runs_of_reads(client, owner, org, apps):
    okta, _ = apps
    log(org, okta, [("GET", "List users", 200, "")] * 1021 + [("POST", "Create user", 201, "ada@x.com")]
        + [("GET", "Get user", 404, "id 9")] + [("GET", "List users", 200, "")] * 3)
    client.force_login(owner.user)
    lines = tab(client, org).context["provisioning_lines"]
    assert [(line.operation, line.count) for line in lines] == [("Get user", 1), ("Create user", 1)]

    everything = tab(client, org, activity="all")
    lines = everything.context["provisioning_lines"]
    assert [(line.operation, line.count) for line in lines][:3] == [
        ("List users", 3), ("Get user", 1), ("Create user", 1)]
    folded = lines[3]
    assert folded.operation == "List users" and folded.folded and folded.count > 100
    page = everything.content.decode()
    assert "List users ×3 between" in page


def test_pages_go_back_in_time_without_repeating(client, owner, org, apps):
    okta, _ = apps
    log(org, okta, [("POST", "Create user", 201, f"u{i}@x.com") for i in range(LINES_PER_PAGE + 7)])
    client.force_login(owner.user)
    first = tab(client, org)
    older = first.context["provisioning_next_query"]
    assert older
    second = client.get(reverse("admin:org-settings-scim", args=[org.uid]) + older)
    targets = [line.target for line in first.context["provisioning_lines"]]
    more = [line.target for line in second.context["provisioning_lines"]]
    assert len(targets) == LINES_PER_PAGE and len(more) == 7 and not set(targets) & set(more)
    assert not second.context["provisioning_next_query"]


def test_filters_by_outcome_operation_and_app(client, owner, org, apps):
    okta, entra = apps
    log(org, okta, [("POST", "Create user", 201, "a@x.com"), ("POST", "Create user", 409, "b@x.com")])
    log(org, entra, [("PATCH", "Deactivate user", 200, "c@x.com")])
    client.force_login(owner.user)
    targets = lambda **p: sorted(line.target for line in tab(client, org, **p).context["provisioning_lines"])  # noqa: E731
    assert targets(outcome="failure") == ["b@x.com"]
    assert targets(operation="Deactivate user") == ["c@x.com"]
    assert targets(app=okta.pk) == ["a@x.com", "b@x.com"]
    assert targets(app=999999) == ["a@x.com", "b@x.com", "c@x.com"]  # not an app of this org: ignored
    assert tab(client, org, before="garbage").status_code == 200


def test_the_count_stops_at_the_trail_cap(client, owner, org, apps, monkeypatch):
    """Provisioning activity is a trail: its count stops at TRAIL_COUNT_CAP (each
    entry counted can be a table row read in an org not vacuumed yet)."""
    okta, _ = apps
    monkeypatch.setattr("scim.activity_list.TRAIL_COUNT_CAP", 5)
    log(org, okta, [("POST", "Create user", 201, f"u{i}@x.com") for i in range(6)])
    client.force_login(owner.user)
    assert "5+ requests match." in tab(client, org).content.decode()
    ProvisioningEvent.objects.filter(organization=org).order_by("pk").first().delete()
    assert "5 requests match." in tab(client, org).content.decode()
    ProvisioningEvent.objects.filter(organization=org).exclude(pk=ProvisioningEvent.objects.order_by("pk").last().pk).delete()
    assert "1 request matches." in tab(client, org).content.decode()
