"""What a SCIM write may name and Orgdesk does not store: the one list.

Every attribute a POST, PUT or PATCH names is one of three things (nothing is
dropped without a trace):

- **stored**: published in /Schemas (scim.api.discovery) and kept;
- **ignored**, deliberately, from the lists below: what identity providers send
  and Orgdesk rightly does not keep (Okta's and Entra ID's default mappings
  send `password`, `locale`, `title`, `phoneNumbers`...), read-only attributes
  sent back (`id`, `meta`, a User's `groups`), and extension URNs /Schemas does
  not publish (Okta's `urn:okta:...` custom attributes, Entra ID's
  `urn:ietf:params:scim:schemas:extension:<custom>:...`). The call succeeds and
  its Provisioning activity entry names them ("ignored: password, locale");
- **refused**: anything else, i.e. a name that is not an attribute of RFC 7643's
  core User or Group schema or of the enterprise extension. A PATCH path naming
  one is 400 `invalidPath` (RFC 7644 §3.5.2); a POST/PUT body, or a path-less
  PATCH value, carrying one is 400 `invalidValue` naming it.

The README's SCIM section repeats the lists; tests/scim/api/test_ignored.py
checks that they, with what /Schemas publishes, cover the RFC's core schemas
exactly."""
from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from . import constants as c
from .errors import BadRequest, InvalidPath
from .filters import ENTERPRISE_STRINGS, NAME_EXTRAS
from .patch import PatchPath

USER = "User"
GROUP = "Group"

# --- the list ---------------------------------------------------------------------
# Attributes of the core User schema (RFC 7643 §4.1) Orgdesk does not keep.
USER_IGNORED: dict[str, str] = {
    "password": "never taken from an identity provider: people sign in through SSO or their own account",
    "nickName": "not kept",
    "profileUrl": "not kept",
    "title": "not kept",
    "userType": "not kept",
    "preferredLanguage": "not kept",
    "locale": "not kept",
    "timezone": "not kept",
    "phoneNumbers": "not kept",
    "ims": "not kept",
    "photos": "not kept",
    "addresses": "not kept",
    "entitlements": "not kept",
    "roles": "not kept: access comes from group mappings and the Owner's assignments",
    "x509Certificates": "not kept",
    # Read-only: sent back by IdPs that PUT what they read (Okta's GET-then-PUT).
    "id": "read-only: assigned by Orgdesk",
    "meta": "read-only: kept by Orgdesk",
    "groups": "read-only on a User: group membership is written through /Groups",
    # A body's "schemas" is its declaration and is read; a PATCH *path* naming it is ignored.
    "schemas": "derived from the attributes the resource holds",
}
# Read-only attributes of the core Group schema (RFC 7643 §4.2); Okta's path-less
# rename carries the group's id.
GROUP_IGNORED: dict[str, str] = {
    "id": "read-only: assigned by Orgdesk",
    "meta": "read-only: kept by Orgdesk",
    "schemas": "derived from the attributes the resource holds",
}
# Sub-attributes of the enterprise extension that are read-only.
ENTERPRISE_IGNORED: dict[str, str] = {"manager.displayName": "read-only: the manager's own name"}
# And any extension URN /Schemas does not publish (every URN but the enterprise
# extension on a User): "an extension Orgdesk does not publish".
UNPUBLISHED_EXTENSION = "an extension Orgdesk does not publish"

# --- what is stored (the attributes /Schemas publishes, plus externalId) -------------
NAME_SUBS = ("givenName", "familyName", *NAME_EXTRAS)
EMAIL_SUBS = ("value", "type", "primary", "display")
MEMBER_SUBS = ("value", "display", "type", "$ref")  # Okta sends `display` with each member value
MANAGER_SUBS = ("value", "$ref")  # manager.displayName is read-only (ENTERPRISE_IGNORED)

# canonical name -> its stored sub-attributes (None: a simple attribute)
USER_STORED: dict[str, tuple[str, ...] | None] = {
    "userName": None, "externalId": None, "displayName": None, "active": None, "name": NAME_SUBS, "emails": EMAIL_SUBS,
}
GROUP_STORED: dict[str, tuple[str, ...] | None] = {"displayName": None, "externalId": None, "members": MEMBER_SUBS}
ENTERPRISE_STORED: dict[str, tuple[str, ...] | None] = {**dict.fromkeys(ENTERPRISE_STRINGS), "manager": MANAGER_SUBS}
MULTI_VALUED = ("emails", "members")  # the only stored attributes a path may filter


def _lower(d: dict[str, Any]) -> dict[str, str]:
    return {k.lower(): k for k in d}


_STORED = {USER: _lower(USER_STORED), GROUP: _lower(GROUP_STORED)}
_SUBS = {USER: USER_STORED, GROUP: GROUP_STORED}
_IGNORED = {USER: _lower(USER_IGNORED), GROUP: _lower(GROUP_IGNORED)}
_ENTERPRISE = _lower(ENTERPRISE_STORED)
_CORE = {USER: c.USER_SCHEMA, GROUP: c.GROUP_SCHEMA}
_CORE_URNS = {c.USER_SCHEMA.lower(), c.GROUP_SCHEMA.lower()}
_ENT = c.ENTERPRISE_USER_SCHEMA.lower()


def _unknown(kind: str, name: str, where: str = "") -> str:
    schemas = "the core User schema or the enterprise extension" if kind == USER else "the core Group schema"
    return f"Unknown attribute {name!r}{where}: it is not in {schemas}"[:300]


def check_path(kind: str, path: PatchPath, *, error: type[Exception] = InvalidPath) -> str | None:
    """None when `path` names something stored; the name to report when it is
    deliberately ignored; raises `error` (invalidPath for a PATCH path,
    invalidValue for a key of a path-less value) when it names nothing that exists."""
    raw = path.raw or path.attr
    if path.urn:
        urn = path.urn.lower()
        if kind == USER and urn == _ENT:
            return _check_enterprise(path, error)
        if urn in _CORE_URNS:
            raise error(f"Unsupported PATCH path {raw!r}: name the attribute after the schema URN")
        return raw  # an unpublished extension: ignored, named as sent
    canonical = _STORED[kind].get(path.attr)
    if canonical is None:
        ignored = _IGNORED[kind].get(path.attr)
        if ignored is None:
            raise error(_unknown(kind, raw))
        return ignored
    subs = _SUBS[kind][canonical]
    if path.filter_attr is not None:
        if canonical not in MULTI_VALUED or path.filter_attr not in {s.lower() for s in subs or ()}:
            raise error(_unknown(kind, raw, f" (no sub-attribute {path.filter_attr!r} to filter {canonical!r} on)"))
    if path.sub is not None and (subs is None or path.sub.lower() not in {s.lower() for s in subs}):
        raise error(_unknown(kind, raw))
    return None


def _check_enterprise(path: PatchPath, error: type[Exception]) -> str | None:
    raw = path.raw or f"{c.ENTERPRISE_USER_SCHEMA}:{path.attr}"
    if not path.attr:
        return None  # the extension as a whole
    canonical = _ENTERPRISE.get(path.attr.lower())
    if canonical is None:
        raise error(_unknown(USER, raw))
    if path.sub is None:
        return None
    sub = path.sub.lower()
    if canonical == "manager" and sub in {s.lower() for s in MANAGER_SUBS}:
        return None
    if f"{canonical}.{sub}".lower() in {k.lower() for k in ENTERPRISE_IGNORED}:
        return raw
    raise error(_unknown(USER, raw))


def check_document(kind: str, d: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A POST/PUT body (or a path-less PATCH value, whose keys are attributes
    too): (the body with core attributes given by their URN-qualified name
    renamed to the plain name (RFC 7644 §3.10), the names ignored). An unknown
    top-level attribute is 400 invalidValue naming it."""
    ignored: list[str] = []
    out: dict[str, Any] = {}
    core = _CORE[kind].lower() + ":"
    for key, value in d.items():
        lk = key.lower()
        if lk == "schemas":
            out[key] = value  # the body's declaration, read as such
            continue
        if lk.startswith(core):
            key, lk = key[len(core):], lk[len(core):]
        if lk.startswith("urn:"):
            if kind == USER and lk == _ENT:
                if isinstance(value, dict):  # its keys are the extension's attributes
                    for attr in value:
                        if attr.lower() == "schemas":
                            continue  # scim2-models puts the extension's declaration there too
                        name = check_path(USER, PatchPath(attr=attr, urn=c.ENTERPRISE_USER_SCHEMA, raw=f"{key}:{attr}"), error=BadRequest)
                        if name:
                            ignored.append(name)
                    manager = next((v for k, v in value.items() if k.lower() == "manager"), None)
                    if isinstance(manager, dict) and any(k.lower() == "displayname" for k in manager):
                        ignored.append(f"{c.ENTERPRISE_USER_SCHEMA}:manager.displayName")
                out[key] = value
            elif lk in _CORE_URNS:
                raise BadRequest(f"Unknown attribute {key!r}: give core attributes by name, not nested under the schema URN")
            else:
                ignored.append(key)
            continue
        if lk in _STORED[kind]:
            out[key] = value
            continue
        name = _IGNORED[kind].get(lk)
        if name is None:
            raise BadRequest(_unknown(kind, key))
        ignored.append(name)
    return out, ignored


def note(request: HttpRequest | None, names: list[str] | tuple[str, ...]) -> None:
    """Name what this call ignored in its Provisioning activity entry (scim.activity)."""
    if request is None or not names:
        return
    seen = request.__dict__.setdefault("scim_ignored", [])
    for name in names:
        if name not in seen:
            seen.append(name)


def describe(request: HttpRequest) -> str:
    """"ignored: password, locale" for the activity entry, or ""."""
    names = getattr(request, "scim_ignored", None)
    return f"ignored: {', '.join(names)}" if names else ""
