"""How Orgdesk writes a moment, in one place, so every page
(and every message built in Python) reads the same: "30 Nov 2026, 22:15 UTC".
Templates reach these through `{% load orgdesk %}` (organizations/templatetags)."""
from __future__ import annotations

from datetime import datetime

from django.utils import timezone

_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def _local(value: datetime) -> datetime:
    return timezone.localtime(value) if timezone.is_aware(value) else value


def _zone(value: datetime) -> str:
    return value.tzname() or timezone.get_current_timezone_name()


def format_datetime(value: datetime | None, *, seconds: bool = False) -> str:
    """The one date-time format, with the time zone: "30 Nov 2026, 22:15 UTC"
    (seconds=True: "30 Nov 2026, 22:15:07 UTC"). None gives ""."""
    if value is None:
        return ""
    local = _local(value)
    clock = f"{local:%H:%M:%S}" if seconds else f"{local:%H:%M}"
    # Month names spelled here, not by the C library's locale.
    return f"{local.day} {_MONTHS[local.month - 1]} {local.year}, {clock} {_zone(local)}"


def format_time(value: datetime | None) -> str:
    """The time of day alone, for a second moment on the same line ("22:15:07")."""
    return "" if value is None else _local(value).strftime("%H:%M:%S")
