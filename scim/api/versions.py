"""Resource versions (RFC 7644 §3.14): `meta.version`, the `ETag` header,
`If-Match` on PUT/PATCH/DELETE (412 when stale) and `If-None-Match` on GET of one
resource (304 when unchanged). The browser's member and mapping edits use the
same idea (organizations.forms, mappings.forms: the version a page was opened at).

A version is a weak ETag derived from columns every read already has, so no
statement is added:

- a Group: its `updated_at`, which every write moves: a rename, an externalId
  change, and any change of its members (scim.provisioning.change_group_members
  touches the group, and a member deleted from the org touches its groups:
  scim.provisioning.touch_groups_of_deleted_member);
- a User: its membership's `updated_at` (every write of a User moves it:
  scim.provisioning.update_user_profile, set_membership_active), plus, when the
  representation carries `groups`, a checksum of those groups (a User's groups
  change through /Groups, which does not touch the membership):
  `W/"<updated_at>.<groups>"`.

`If-Match` protects what a write can overwrite, so it compares the part before
the dot: a User PUT made with the version read before an IdP added the user to
a group still applies (`groups` is read-only on a User), while `If-None-Match`
compares the whole tag, so a cached User whose groups changed is sent again.
Comparison is weak (RFC 7644 §3.14 sends `If-Match: W/"..."`): `W/` is ignored."""
from __future__ import annotations

import zlib
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

from django.http import HttpRequest

from . import constants as c
from .errors import PreconditionFailed

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICRO = timedelta(microseconds=1)


def stamp(moment: datetime) -> str:
    """updated_at as microseconds since the epoch, in hex (its whole precision)."""
    if moment.tzinfo is None:  # a raw SQLite read: stored in UTC
        moment = moment.replace(tzinfo=timezone.utc)
    return format((moment - _EPOCH) // _MICRO, "x")


def user(updated_at: datetime, groups: Iterable[tuple[int, str]] | None) -> str:
    """The version of a User whose membership has `updated_at` and, if the
    representation carries them, these (group id, displayName) pairs."""
    tag = stamp(updated_at)
    if groups:
        tag += "." + format(zlib.crc32(repr(sorted(groups)).encode()), "08x")
    return f'W/"{tag}"'


def group(updated_at: datetime) -> str:
    return f'W/"{stamp(updated_at)}"'


def _tags(header: str) -> list[str]:
    """The opaque tags of an If-Match / If-None-Match header, `W/` and quotes dropped."""
    out = []
    for part in header.split(","):
        part = part.strip()
        if part[:2].upper() == "W/":
            part = part[2:]
        out.append(part.strip().strip('"'))
    return [t for t in out if t]


def _written_part(tag: str) -> str:
    return tag.split(".", 1)[0]


def check_if_match(request: HttpRequest, current: str) -> None:
    """PUT, PATCH, DELETE: 412 unless If-Match is absent, `*`, or names the
    resource's current version (compared on what a write can change). Called with
    the row locked and before anything is written."""
    header = request.headers.get("If-Match")
    if header is None:
        return
    tags = _tags(header)
    if "*" in tags:
        return
    now = _written_part(_tags(current)[0])
    if not any(_written_part(t) == now for t in tags):
        raise PreconditionFailed(c.DETAIL_PRECONDITION_FAILED.format(current=current))


def not_modified(request: HttpRequest, current: str) -> bool:
    """GET of one resource: If-None-Match names its current version (or is `*`)."""
    header = request.headers.get("If-None-Match")
    if header is None:
        return False
    tags = _tags(header)
    return "*" in tags or _tags(current)[0] in tags
