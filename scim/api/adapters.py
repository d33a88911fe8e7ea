"""django-scim2 adapters for Orgdesk: a SCIM User is a Membership, a SCIM Group a
ScimGroup. Thin translation layer: parsing and rendering here, every write in
scim.provisioning. We keep django-scim2's PATCH driver (`handle_operations`,
op-name lower-casing, the `remove` needs a path rule) and override what it
gets wrong for real IdPs (see DESIGN.md, "django-scim2 0.23")."""
from __future__ import annotations

import copy
from typing import Any

from django.conf import settings
from django.urls import reverse
from django_scim.adapters import SCIMGroup, SCIMUser

from organizations.models import Membership
from organizations.services import OwnershipError
from scim import provisioning
from scim.models import ScimGroup
from scim.provisioning import UserProfile

from . import constants as c
from .errors import BadRequest, Conflict, Forbidden, Mutability, NoTarget
from .patch import PatchPath, coerce_bool, parse_path


def get_membership_model() -> type[Membership]:
    """USER_MODEL_GETTER: the SCIM User resource is the org membership."""
    return Membership


def absolute(path: str) -> str:
    return settings.PUBLIC_BASE_URL + path


def resource_url(request, name: str, **kwargs: Any) -> str:
    """Absolute URL of a route of this org (django-scim2 reverses without an org)."""
    return absolute(reverse(f"scim_api:{name}", kwargs={"org_uid": request.scim_org.uid, **kwargs}))


def translate_service_errors(func):
    """Service errors become SCIM errors (409 uniqueness, 400 invalidValue, 403)."""

    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except provisioning.UniquenessError as exc:
            raise Conflict(str(exc)) from exc
        except OwnershipError as exc:
            raise Forbidden(str(exc)) from exc
        except provisioning.InvalidValue as exc:
            raise BadRequest(str(exc)) from exc

    return wrapper


def _string(d: dict, key: str, *, default: str = "") -> str:
    value = d.get(key)
    if value is None:
        return default
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise BadRequest(f'"{key}" must be a string, got {type(value).__name__}')
    return value


def _ci_get(d: dict, key: str) -> Any:
    """Attribute names are case-insensitive (RFC 7643 §2.1)."""
    if key in d:
        return d[key]
    lowered = key.lower()
    for k, v in d.items():
        if isinstance(k, str) and k.lower() == lowered:
            return v
    return None


def _parse_emails(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, dict):  # OneLogin sends one e-mail as an object
        value = [value]
    if not isinstance(value, list):
        raise BadRequest('"emails" must be a list')
    emails = []
    for item in value:
        if not isinstance(item, dict):
            raise BadRequest('every entry of "emails" must be an object')
        address = _string(item, "value").strip()
        if not address:
            continue
        emails.append(
            {
                "value": address,
                "type": _string(item, "type"),
                "primary": coerce_bool(item["primary"], "emails.primary") if item.get("primary") is not None else False,
                "display": _string(item, "display"),
            }
        )
    return emails


class ScimUser(SCIMUser):
    id_field = "pk"
    url_name = "scim_api:user"
    resource_type = "User"

    def __init__(self, obj: Membership, request=None) -> None:
        super().__init__(obj, request)
        self._doc: dict[str, Any] | None = None  # PATCH works on a plain document

    # --- rendering ------------------------------------------------------------
    @property
    def path(self) -> str:
        return reverse(self.url_name, kwargs={"org_uid": self.request.scim_org.uid, "uuid": self.id})

    @property
    def location(self) -> str:
        return absolute(self.path)

    @property
    def display_name(self) -> str:
        m = self.obj
        return m.display_name or f"{m.given_name} {m.family_name}".strip() or m.scim_username

    @property
    def emails(self) -> list[dict[str, Any]]:
        out = []
        for e in self.obj.email_set.all():
            item = {"value": e.value, "primary": e.primary}
            if e.type:
                item["type"] = e.type
            if e.display:
                item["display"] = e.display
            out.append(item)
        return out

    @property
    def groups(self) -> list[dict[str, Any]]:
        return [
            {
                "value": str(link.group_id),
                "$ref": resource_url(self.request, "group", uuid=link.group_id),
                "display": link.group.display_name,
                "type": "direct",
            }
            for link in self.obj.group_memberships.all()
        ]

    @property
    def meta(self) -> dict[str, Any]:
        return {
            "resourceType": self.resource_type,
            "created": self.obj.created_at.isoformat(),
            "lastModified": self.obj.updated_at.isoformat(),
            "location": self.location,
        }

    def to_dict(self, *, include_groups: bool = True) -> dict[str, Any]:
        m = self.obj
        name = {k: v for k, v in (("givenName", m.given_name), ("familyName", m.family_name)) if v}
        d: dict[str, Any] = {"schemas": [c.USER_SCHEMA], "id": self.id}
        if m.scim_external_id:
            d["externalId"] = m.scim_external_id
        d["userName"] = m.scim_username
        if name:
            d["name"] = name
        if m.display_name:
            d["displayName"] = m.display_name
        emails = self.emails
        if emails:
            d["emails"] = emails
        d["active"] = m.active
        if include_groups:
            groups = self.groups
            if groups:
                d["groups"] = groups
        enterprise = (m.scim_extra or {}).get(c.ENTERPRISE_USER_SCHEMA)
        if enterprise:
            d["schemas"].append(c.ENTERPRISE_USER_SCHEMA)
            d[c.ENTERPRISE_USER_SCHEMA] = enterprise
        d["meta"] = self.meta
        return d

    @classmethod
    def resource_type_dict(cls, request=None) -> dict[str, Any]:
        return {
            "schemas": [c.SchemaURI.RESOURCE_TYPE],
            "id": cls.resource_type,
            "name": "User",
            "endpoint": "/Users",
            "description": "A person in this organization (an org membership)",
            "schema": c.USER_SCHEMA,
            "schemaExtensions": [{"schema": c.ENTERPRISE_USER_SCHEMA, "required": False}],
            "meta": {"location": resource_url(request, "resource-type", uuid=cls.resource_type), "resourceType": "ResourceType"},
        }

    # --- parsing ----------------------------------------------------------------
    def validate_dict(self, d: dict) -> None:
        if not isinstance(d, dict):
            raise BadRequest("The body must be a JSON object")

    def from_dict(self, d: dict) -> None:
        """Whole-resource parse (POST and PUT). Read-only and unknown attributes
        (`id`, `meta`, `groups`, `password`, `locale`, ...) are ignored."""
        self.validate_dict(d)
        user_name = _ci_get(d, "userName")
        if user_name is None or (isinstance(user_name, str) and not user_name.strip()):
            raise BadRequest('"userName" is required')
        if not isinstance(user_name, str):
            raise BadRequest('"userName" must be a string')
        name = _ci_get(d, "name")
        if name is None:
            name = {}
        if not isinstance(name, dict):
            raise BadRequest('"name" must be an object')
        active = _ci_get(d, "active")
        if active is None:  # PUT without `active` keeps the state (POST: active)
            active_value = self.obj.active if self.obj.pk else True
        else:
            active_value = coerce_bool(active, "active")
        extra = dict(self.obj.scim_extra or {}) if self.obj.pk else {}
        enterprise = _ci_get(d, c.ENTERPRISE_USER_SCHEMA)
        if enterprise is not None:
            if not isinstance(enterprise, dict):
                raise BadRequest(f'"{c.ENTERPRISE_USER_SCHEMA}" must be an object')
            if enterprise:
                extra[c.ENTERPRISE_USER_SCHEMA] = enterprise
            else:
                extra.pop(c.ENTERPRISE_USER_SCHEMA, None)
        else:
            extra.pop(c.ENTERPRISE_USER_SCHEMA, None)
        self.profile = UserProfile(
            user_name=user_name.strip(),
            external_id=_string({"externalId": _ci_get(d, "externalId")}, "externalId"),
            display_name=_string({"displayName": _ci_get(d, "displayName")}, "displayName"),
            given_name=_string(name, "givenName"),
            family_name=_string(name, "familyName"),
            emails=_parse_emails(_ci_get(d, "emails")),
            active=active_value,
            extra=extra,
        )

    def as_document(self) -> dict[str, Any]:
        """The mutable attributes as a plain SCIM document, for PATCH to work on."""
        m = self.obj
        return {
            "userName": m.scim_username,
            "externalId": m.scim_external_id,
            "displayName": m.display_name,
            "name": {"givenName": m.given_name, "familyName": m.family_name},
            "emails": [
                {"value": e.value, "type": e.type, "primary": e.primary, "display": e.display}
                for e in m.email_set.all()
            ],
            "active": m.active,
            c.ENTERPRISE_USER_SCHEMA: copy.deepcopy((m.scim_extra or {}).get(c.ENTERPRISE_USER_SCHEMA) or {}),
        }

    # --- PATCH --------------------------------------------------------------------
    # Our handlers coerce types themselves ("False" from Entra is fine).
    validate_op_add = validate_op_remove = validate_op_replace = None

    def split_path(self, path: str) -> PatchPath:
        return parse_path(path)

    def parse_path_and_values(self, path, value):
        if not path:
            if not isinstance(value, dict):
                raise NoTarget("A PATCH operation without a path needs an object value")
            # Path-less add/replace: every key is a path, including Entra's dotted
            # keys ("name.givenName") and extension URNs.
            pairs = []
            for key, item in value.items():
                parsed = self.split_path(key)
                if parsed.urn and not parsed.attr and isinstance(item, dict):
                    pairs.extend((PatchPath(attr=k, urn=parsed.urn, raw=f"{key}:{k}"), v) for k, v in item.items())
                else:
                    pairs.append((parsed, item))
            return pairs
        return [(self.split_path(path), value)]

    def handle_operations(self, operations: list) -> None:
        if self._doc is None:
            self._doc = self.as_document()
        if not isinstance(operations, list):
            raise BadRequest('"Operations" must be a list')
        for operation in operations:
            if not isinstance(operation, dict) or not isinstance(operation.get("op"), str):
                raise BadRequest('Every operation needs an "op"')
        super().handle_operations(operations)
        self.from_dict(self._doc)

    def handle_add(self, path: PatchPath, value, operation) -> None:
        self._apply(path, value, c.OP_ADD)

    def handle_replace(self, path: PatchPath, value, operation) -> None:
        self._apply(path, value, c.OP_REPLACE)

    def handle_remove(self, path: PatchPath, value, operation) -> None:
        self._apply(path, value, c.OP_REMOVE)

    def _apply(self, path: PatchPath, value: Any, op: str) -> None:
        doc = self._doc
        if path.urn:
            if path.urn != c.ENTERPRISE_USER_SCHEMA:
                return  # an extension we do not store: ignored like unknown attributes
            ent = doc[c.ENTERPRISE_USER_SCHEMA]
            if not path.attr:
                if op == c.OP_REMOVE:
                    ent.clear()
                elif isinstance(value, dict):
                    ent.update(value)
                return
            if path.sub:
                target = ent.setdefault(path.attr, {})
                if not isinstance(target, dict):
                    target = ent[path.attr] = {}
                if op == c.OP_REMOVE:
                    target.pop(path.sub, None)
                else:
                    target[path.sub] = value
            elif op == c.OP_REMOVE:
                ent.pop(path.attr, None)
            else:
                ent[path.attr] = value
            return
        attr = path.attr
        if attr in ("username", "externalid", "displayname", "active"):
            key = {"username": "userName", "externalid": "externalId", "displayname": "displayName", "active": "active"}[attr]
            if op == c.OP_REMOVE:
                if key in ("userName", "active"):
                    # A membership always has a userName and a state; RFC 7644 §3.12 `mutability`.
                    raise Mutability(f'"{key}" cannot be removed')
                doc[key] = ""
            else:
                doc[key] = value
        elif attr == "name":
            name = doc["name"]
            if path.sub:
                if path.sub in ("givenname", "familyname"):
                    name["givenName" if path.sub == "givenname" else "familyName"] = "" if op == c.OP_REMOVE else value
            elif op == c.OP_REMOVE:
                name.update(givenName="", familyName="")
            elif isinstance(value, dict):
                for k in ("givenName", "familyName"):
                    if _ci_get(value, k) is not None:
                        name[k] = _ci_get(value, k)
            else:
                raise BadRequest('"name" must be an object')
        elif attr == "emails":
            self._apply_emails(path, value, op)
        # groups, password, meta, id, schemas, locale and unknown attributes: ignored.

    def _apply_emails(self, path: PatchPath, value: Any, op: str) -> None:
        doc = self._doc
        if path.filter_attr is None:
            if op == c.OP_REMOVE:
                doc["emails"] = []
            elif op == c.OP_REPLACE:
                doc["emails"] = _parse_emails(value)
            else:
                added = _parse_emails(value)
                known = {e["value"].lower() for e in doc["emails"]}
                doc["emails"].extend(e for e in added if e["value"].lower() not in known)
            return
        # emails[type eq "work"].value (Entra) or emails[value eq "..."]
        fattr, fvalue = path.filter_attr, (path.filter_value or "").lower()

        def matches(e: dict) -> bool:
            if fattr == "primary":
                return bool(e.get("primary")) == (fvalue == "true")
            return str(e.get(fattr, "")).lower() == fvalue

        selected = [e for e in doc["emails"] if matches(e)]
        if op == c.OP_REMOVE:
            if path.sub:
                for e in selected:
                    e[path.sub] = "" if path.sub != "primary" else False
                doc["emails"] = [e for e in doc["emails"] if e.get("value")]
            else:
                doc["emails"] = [e for e in doc["emails"] if not matches(e)]
            return
        if not selected:  # RFC 7644 §3.5.2.3 would say noTarget; Entra expects an add
            new = {"value": "", "type": path.filter_value if fattr == "type" else "", "primary": not doc["emails"]}
            doc["emails"].append(new)
            selected = [new]
        for e in selected:
            if path.sub:
                e[{"value": "value", "type": "type", "primary": "primary", "display": "display"}.get(path.sub, path.sub)] = value
            elif isinstance(value, dict):
                e.update({k: v for k, v in value.items() if k in ("value", "type", "primary", "display")})

    # --- writing ------------------------------------------------------------------
    @translate_service_errors
    def save(self) -> None:
        actor = self.request.scim_installation
        if self.obj.pk is None:
            self.obj = provisioning.provision_user(self.request.scim_org, self.profile, actor=actor)
        else:
            self.obj = provisioning.update_user_profile(self.obj, self.profile, actor=actor)

    @translate_service_errors
    def delete(self) -> None:
        provisioning.delete_membership(self.obj, actor=self.request.scim_installation)


class ScimGroupAdapter(SCIMGroup):
    id_field = "pk"
    url_name = "scim_api:group"
    resource_type = "Group"

    def __init__(self, obj: ScimGroup, request=None) -> None:
        super().__init__(obj, request)
        self.name: str | None = None
        self.external_id: str | None = None
        # Pending membership change, composed across PATCH operations.
        self.replace_values: set[str] | None = None
        self.add_values: set[str] = set()
        self.remove_values: set[str] = set()
        self.members_touched = False

    @property
    def path(self) -> str:
        return reverse(self.url_name, kwargs={"org_uid": self.request.scim_org.uid, "uuid": self.id})

    @property
    def location(self) -> str:
        return absolute(self.path)

    @property
    def display_name(self) -> str:
        return self.obj.display_name

    @property
    def members(self) -> list[dict[str, Any]]:
        links = getattr(self.obj, "prefetched_members", None)
        if links is None:
            links = self.obj.memberships.order_by("pk")
        # No `display`: it is not in RFC 7643's Group schema, IdPs do not read it
        # back, and leaving it out keeps a big group's page a single-table query.
        org_uid = self.request.scim_org.uid
        base = absolute(reverse("scim_api:users", kwargs={"org_uid": org_uid}))
        return [
            {"value": str(link.membership_id), "$ref": f"{base}/{link.membership_id}", "type": "User"}
            for link in links
        ]

    @property
    def meta(self) -> dict[str, Any]:
        return {
            "resourceType": self.resource_type,
            "created": self.obj.created_at.isoformat(),
            "lastModified": self.obj.updated_at.isoformat(),
            "location": self.location,
        }

    def to_dict(self, *, include_members: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {"schemas": [c.GROUP_SCHEMA], "id": self.id}
        if self.obj.external_id:
            d["externalId"] = self.obj.external_id
        d["displayName"] = self.obj.display_name
        if include_members:
            d["members"] = self.members
        d["meta"] = self.meta
        return d

    @classmethod
    def resource_type_dict(cls, request=None) -> dict[str, Any]:
        return {
            "schemas": [c.SchemaURI.RESOURCE_TYPE],
            "id": cls.resource_type,
            "name": "Group",
            "endpoint": "/Groups",
            "description": "A group pushed by the identity provider; its members are users of this organization",
            "schema": c.GROUP_SCHEMA,
            "schemaExtensions": [],
            "meta": {"location": resource_url(request, "resource-type", uuid=cls.resource_type), "resourceType": "ResourceType"},
        }

    # --- parsing ----------------------------------------------------------------
    @staticmethod
    def member_values(value: Any) -> set[str]:
        if value is None:
            return set()
        if isinstance(value, dict):  # Okta may send a single member object
            value = [value]
        if not isinstance(value, list):
            raise BadRequest('"members" must be a list')
        values = set()
        for item in value:
            if not isinstance(item, dict) or item.get("value") in (None, ""):
                raise BadRequest('every member needs a "value"')
            values.add(str(item["value"]))
        return values

    def validate_dict(self, d: dict) -> None:
        if not isinstance(d, dict):
            raise BadRequest("The body must be a JSON object")

    def from_dict(self, d: dict) -> None:
        """POST and PUT. A PUT without `members` keeps the members (safer than
        RFC's "unassigned" when an IdP only renames); `members: []` empties it."""
        self.validate_dict(d)
        name = _ci_get(d, "displayName")
        if not isinstance(name, str) or not name.strip():
            raise BadRequest('"displayName" is required and must be a string')
        self.name = name
        self.external_id = _string({"externalId": _ci_get(d, "externalId")}, "externalId")
        members = _ci_get(d, "members")
        if members is not None or self.obj.pk is None:
            self.replace_values = self.member_values(members)
            self.members_touched = True

    # --- PATCH --------------------------------------------------------------------
    validate_op_add = validate_op_remove = validate_op_replace = None

    def split_path(self, path: str) -> PatchPath:
        return parse_path(path)

    def parse_path_and_values(self, path, value):
        if not path:
            if not isinstance(value, dict):
                raise NoTarget("A PATCH operation without a path needs an object value")
            return [(self.split_path(key), item) for key, item in value.items()]
        return [(self.split_path(path), value)]

    def handle_operations(self, operations: list) -> None:
        if not isinstance(operations, list):
            raise BadRequest('"Operations" must be a list')
        for operation in operations:
            if not isinstance(operation, dict) or not isinstance(operation.get("op"), str):
                raise BadRequest('Every operation needs an "op"')
        super().handle_operations(operations)

    def _members_op(self, op: str, values: set[str]) -> None:
        self.members_touched = True
        if op == c.OP_REPLACE:
            self.replace_values, self.add_values, self.remove_values = set(values), set(), set()
        elif op == c.OP_ADD:
            if self.replace_values is not None:
                self.replace_values |= values
            else:
                self.add_values |= values
                self.remove_values -= values
        else:
            if self.replace_values is not None:
                self.replace_values -= values
            else:
                self.remove_values |= values
                self.add_values -= values

    def handle_add(self, path: PatchPath, value, operation) -> None:
        self._apply(path, value, c.OP_ADD)

    def handle_replace(self, path: PatchPath, value, operation) -> None:
        self._apply(path, value, c.OP_REPLACE)

    def handle_remove(self, path: PatchPath, value, operation) -> None:
        self._apply(path, value, c.OP_REMOVE)

    def _apply(self, path: PatchPath, value: Any, op: str) -> None:
        if path.attr == "members":
            if path.filter_attr == "value":
                # Okta: {"op":"remove","path":"members[value eq \"<id>\"]"}
                self._members_op(op if op == c.OP_REMOVE else c.OP_ADD, {path.filter_value or ""})
            elif path.filter_attr is not None:
                raise BadRequest(f"Unsupported member filter in {path.raw!r}")
            elif op == c.OP_REMOVE and value in (None, [], {}):
                self._members_op(c.OP_REPLACE, set())  # remove all members
            else:
                # Entra removes by value list: {"op":"Remove","path":"members","value":[{"value":"<id>"}]}
                self._members_op(op, self.member_values(value))
        elif path.attr == "displayname":
            if op == c.OP_REMOVE:
                raise BadRequest('"displayName" cannot be removed')
            if not isinstance(value, str):
                raise BadRequest('"displayName" must be a string')
            self.name = value
        elif path.attr == "externalid":
            self.external_id = "" if op == c.OP_REMOVE else _string({"externalId": value}, "externalId")
        # "id" (Okta's path-less rename carries the group id), "schemas", "meta",
        # unknown attributes: ignored, so Okta's rename never fails.

    # --- writing ------------------------------------------------------------------
    @translate_service_errors
    def save(self) -> None:
        request = self.request
        actor, org = request.scim_installation, request.scim_org
        lenient_remove = self.remove_values
        strict = self.add_values | (self.replace_values or set())
        member_ids = provisioning.resolve_member_ids(org, strict) if strict else set()
        if self.obj.pk is None:
            self.obj = provisioning.create_group(
                org, self.name or "", external_id=self.external_id or "", member_ids=member_ids, actor=actor
            )
            return
        if self.name is not None or self.external_id is not None:
            provisioning.update_group(self.obj, display_name=self.name, external_id=self.external_id, actor=actor)
        if self.members_touched:
            # Removing someone who is not (or no longer) a member is a no-op, not an
            # error: Okta retries removals of users deleted meanwhile.
            remove_ids = {int(v) for v in lenient_remove if v.isdigit() and len(v) < 19}
            if self.replace_values is not None:
                provisioning.change_group_members(self.obj, replace=member_ids, actor=actor)
            else:
                provisioning.change_group_members(
                    self.obj, add=member_ids & {int(v) for v in self.add_values}, remove=remove_ids, actor=actor
                )

    @translate_service_errors
    def delete(self) -> None:
        provisioning.delete_group(self.obj, actor=self.request.scim_installation)
