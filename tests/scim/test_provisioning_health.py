"""Provisioning health on the SCIM tab: calls per hour (24 h) and per day (30
days) by outcome, summed in SQL (coalesced refusals count their occurrences),
four statements whatever the org's size, drawn as SVG with no inline style."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from organizations.models import Organization
from scim.health import health_context
from scim.models import AppInstallation, MarketplaceApp, ProvisioningEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def okta(org):
    Organization.objects.filter(pk=org.pk).update(scim_enabled=True)
    return AppInstallation.objects.create(organization=org, app=MarketplaceApp.objects.get(slug="okta-generic-scim"))


def event(org, installation, when, status, *, occurrences=1, operation="Create user", method="POST", detail=""):
    return ProvisioningEvent(
        organization=org, installation=installation, created_at=when, method=method, path="/scim/v2/x",
        operation=operation, target="ada@example.com", status=status,
        outcome="success" if status < 400 else "failure", occurrences=occurrences, detail=detail,
    )


def store(rows):
    """bulk_create, then the times wanted (created_at is auto_now_add)."""
    whens = [r.created_at for r in rows]
    created = ProvisioningEvent.objects.bulk_create(rows)
    for row, when in zip(created, whens):
        ProvisioningEvent.objects.filter(pk=row.pk).update(created_at=when)


def counts(chart):
    return [(b.start, b.counts) for b in chart.buckets if b.counts]


def test_buckets_sum_occurrences_by_outcome_in_four_statements(org, okta, other_org):
    now = timezone.now().replace(minute=30, second=0, microsecond=0)
    hour = now.replace(minute=0)
    rows = [
        event(org, okta, now - timedelta(minutes=5), 201),
        event(org, okta, now - timedelta(minutes=6), 200, method="GET", operation="Get user"),
        event(org, okta, now - timedelta(minutes=7), 400, detail="displayName too long"),
        event(org, None, now - timedelta(minutes=8), 401, occurrences=40, operation="List users"),
        event(org, okta, now - timedelta(hours=2, minutes=1), 429, occurrences=3),
        event(org, okta, now - timedelta(hours=2, minutes=2), 503),
        event(org, okta, now - timedelta(days=3), 201),
        event(org, okta, now - timedelta(days=3), 404, method="GET", operation="Get user"),
        event(org, okta, now - timedelta(days=40), 201),  # older than both ranges
        event(other_org, None, now - timedelta(minutes=1), 500),  # another org's
    ]
    store(rows)
    with CaptureQueriesContext(connection) as queries:
        context = health_context(org, now=now)
    assert len(queries) == 4  # two GROUP BY statements, the last success, the last failure

    hourly, daily = context["health_charts"]
    assert len(hourly.buckets) == 24 and len(daily.buckets) == 30
    assert counts(hourly) == [
        (hour - timedelta(hours=2), {"denied": 3, "failed": 1}),
        (hour, {"success": 2, "refused": 1, "denied": 40}),
    ]
    assert hourly.total == 47
    today = hour.replace(hour=0)
    by_day = dict(counts(daily))
    assert by_day[today - timedelta(days=3)] == {"success": 1, "refused": 1}
    assert sum(b.total for b in daily.buckets) == 49  # the 40-day-old call is out
    assert dict((k, n) for k, _, n in daily.totals) == {"success": 3, "refused": 2, "denied": 43, "failed": 1}

    assert context["health_last_success"].startswith("Create user ada@example.com by Okta")
    assert "5 minutes ago" in context["health_last_success"]
    assert context["health_last_failure"].startswith("Create user ada@example.com by Okta Generic SCIM, answered 400")
    assert "displayName too long" in context["health_last_failure"]
    assert not context["health_failing"]


def test_statement_count_does_not_grow_with_activity(org, okta):
    now = timezone.now()
    store([
        event(org, okta, now - timedelta(minutes=i * 37), 200 if i % 5 else 401, occurrences=1 + i % 3)
        for i in range(600)
    ])
    with CaptureQueriesContext(connection) as queries:
        context = health_context(org, now=now)
    assert len(queries) == 4
    assert sum(c.total for c in context["health_charts"][1:]) == sum(
        e.occurrences for e in ProvisioningEvent.objects.filter(
            created_at__gte=context["health_charts"][1].buckets[0].start))


def test_scim_tab_draws_the_chart_and_names_a_current_failure(client, owner, org, okta):
    now = timezone.now()
    store([
        event(org, okta, now - timedelta(hours=3), 201),
        event(org, None, now - timedelta(minutes=2), 401, occurrences=12, operation="List users",
              detail="The token was regenerated"),
    ])
    client.force_login(owner.user)
    page = client.get(reverse("admin:org-settings-scim", args=[org.uid])).content.decode()
    assert 'id="provisioning-health"' in page
    assert page.count("<svg viewBox=") == 2
    assert "Last 24 hours, by hour: 13 calls (1 success, 12 unauthorized or rate-limited (401/429))" in page
    assert 'class="od-health-denied"' in page and 'class="od-health-success"' in page
    health = page.split('id="provisioning-health"')[1].split("<ul")[0]
    assert "List users ada@example.com by an unknown token, answered 401 (The token was regenerated)" in health, health
    assert 'id="health-failing"' in page
    assert "style=" not in page.split('id="provisioning-health"')[1].split('id="provisioning-activity"')[0]


def test_no_activity_says_so(client, owner, org, okta):
    client.force_login(owner.user)
    page = client.get(reverse("admin:org-settings-scim", args=[org.uid])).content.decode()
    assert "No successful call in the last 30 days." in page
    assert "No failure in the last 30 days." in page
