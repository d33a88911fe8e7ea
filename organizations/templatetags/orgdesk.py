"""Orgdesk's shared template vocabulary (`{% load orgdesk %}`):

- `{{ moment|datetime }}`: the one date-time format with its time zone,
  "30 Nov 2026, 22:15 UTC", in a <time> element whose tooltip adds the seconds.
  `{{ moment|datetime_text }}` is the same words without markup (attributes).
- `{{ moment|time_of_day }}`: "22:15:07", for a second moment on the same line.
- `{{ name|longname }}`: a name of any length (a 200-character org or stack name
  without spaces) that truncates with an ellipsis and shows the whole name as a
  tooltip, instead of stretching the page. `{{ name|longname:"wrap" }}` wraps
  it instead (headings, detail pages).

The markup components live beside it in templates/admin/orgdesk/ (`_confirm.html`,
`_section.html`); the styles in organizations/static/orgdesk/orgdesk.css."""
from __future__ import annotations

from django import template
from django.utils.html import format_html

from ..formats import format_datetime, format_time

register = template.Library()


@register.filter(name="datetime")
def datetime_filter(value):
    if not value:
        return ""
    try:
        text = format_datetime(value)
    except (AttributeError, TypeError, ValueError):
        return value
    return format_html(
        '<time datetime="{}" title="{}">{}</time>', value.isoformat(), format_datetime(value, seconds=True), text
    )


@register.filter
def datetime_text(value) -> str:
    return format_datetime(value) if value else ""


@register.filter
def time_of_day(value) -> str:
    return format_time(value) if value else ""


@register.filter
def longname(value, mode: str = "truncate"):
    if value in (None, ""):
        return ""
    css = "od-wrap" if mode == "wrap" else "od-trunc"
    return format_html('<span class="{}" title="{}">{}</span>', css, value, value)
