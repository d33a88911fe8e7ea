"""The shared UI vocabulary: one date-time format with its time zone, long names
that truncate with the whole name as a tooltip, one confirmation pattern, and the
one stylesheet on every admin page."""
from __future__ import annotations

from datetime import datetime, timezone as dt_timezone

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse

from organizations.formats import format_datetime, format_time

MOMENT = datetime(2026, 11, 30, 22, 15, 7, tzinfo=dt_timezone.utc)


def render(source: str, **context) -> str:
    return Template("{% load orgdesk %}" + source).render(Context(context))


def test_one_datetime_format_with_the_time_zone():
    assert format_datetime(MOMENT) == "30 Nov 2026, 22:15 UTC"
    assert format_datetime(MOMENT, seconds=True) == "30 Nov 2026, 22:15:07 UTC"
    assert format_time(MOMENT) == "22:15:07"
    assert format_datetime(None) == ""


def test_datetime_follows_the_current_time_zone(settings):
    from django.utils import timezone

    with timezone.override("Europe/Berlin"):
        assert format_datetime(MOMENT) == "30 Nov 2026, 23:15 CET"


def test_datetime_filter_renders_a_time_element_with_seconds_in_its_tooltip():
    html = render("{{ moment|datetime }}", moment=MOMENT)
    assert html == (
        '<time datetime="2026-11-30T22:15:07+00:00" title="30 Nov 2026, 22:15:07 UTC">30 Nov 2026, 22:15 UTC</time>'
    )
    assert render("{{ moment|datetime_text }}", moment=MOMENT) == "30 Nov 2026, 22:15 UTC"
    assert render("[{{ nothing|datetime }}]", nothing=None) == "[]"


def test_longname_truncates_with_the_whole_name_as_tooltip_and_escapes():
    name = "<b>" + "x" * 200
    html = render("{{ name|longname }}", name=name)
    assert html == f'<span class="od-trunc" title="&lt;b&gt;{"x" * 200}">&lt;b&gt;{"x" * 200}</span>'
    assert 'class="od-wrap"' in render('{{ name|longname:"wrap" }}', name="Acme")


def test_confirm_component_is_a_red_button_and_a_cancel_link():
    request = RequestFactory().get("/")
    html = Template('{% include "admin/orgdesk/_confirm.html" %}').render(Context({
        "request": request, "confirm_title": "Remove mapping of Engineering?", "confirm_message": "Members lose roles.",
        "confirm_button": "Remove mapping", "confirm_id": "go", "danger": True, "cancel_url": "/back/",
        "hidden_fields": [("next", "/x/?a=1&b=2")],
    }))
    assert "<h2>Remove mapping of Engineering?</h2>" in html
    assert 'value="Remove mapping" id="go" class="od-danger"' in html
    assert '<a href="/back/" class="button od-cancel cancel-link">Cancel</a>' in html
    assert 'name="next" value="/x/?a=1&amp;b=2"' in html


@pytest.mark.django_db
def test_every_admin_page_loads_the_one_stylesheet(client):
    response = client.get(reverse("admin:login"))
    assert 'href="/static/orgdesk/orgdesk.css"' in response.content.decode()
