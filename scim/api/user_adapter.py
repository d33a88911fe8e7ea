"""The SCIM User adapter: a User is an org Membership (docs/ARCHITECTURE.md,
"How a SCIM write travels"). It parses SCIM into a UserProfile and writes
through scim.provisioning; scim.api.user_documents renders."""
from __future__ import annotations

import copy
from typing import Any

from django_scim.adapters import SCIMUser

from organizations.models import Membership
from scim import provisioning
from scim.provisioning import UserProfile

from . import constants as c
from . import user_documents, user_rows
from .adapter_base import ResourceAdapter, _ci_get, _string, translate_service_errors
from .errors import BadRequest, Mutability, NoTarget
from .patch import PatchPath
from .values import coerce_bool, parse_bool


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
        primary = coerce_bool(item["primary"], "emails.primary") if item.get("primary") is not None else False
        emails.append(user_rows.email_entry(address, _string(item, "type"), primary, _string(item, "display")))
    return emails


class ScimUserAdapter(ResourceAdapter, SCIMUser):
    id_field = "pk"
    url_name = "scim_api:user"
    resource_type = "User"
    endpoint = "/Users"
    description = "A person in this organization (an org membership)"
    schema = c.USER_SCHEMA
    schema_extensions = (c.ENTERPRISE_USER_SCHEMA,)

    def __init__(self, obj: Membership, request=None) -> None:
        super().__init__(obj, request)
        self._doc: dict[str, Any] | None = None  # PATCH works on a plain document

    # --- rendering (one renderer for reads and writes: scim.api.user_documents) ------
    @property
    def display_name(self) -> str:
        m = self.obj
        return m.display_name or f"{m.given_name} {m.family_name}".strip() or m.scim_username

    def to_dict(self) -> dict[str, Any]:
        return user_documents.of_membership(self.request, self.obj, None)

    # --- parsing ----------------------------------------------------------------
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
            "emails": [user_rows.email_entry(e.value, e.type, e.primary, e.display) for e in m.email_set.all()],
            "active": m.active,
            c.ENTERPRISE_USER_SCHEMA: copy.deepcopy((m.scim_extra or {}).get(c.ENTERPRISE_USER_SCHEMA) or {}),
        }

    # --- PATCH (handle_add/replace/remove -> _apply: ResourceAdapter) ---------------
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
        super().handle_operations(operations)
        self.from_dict(self._doc)

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
            elif path.attr.lower() == "manager" and isinstance(value, str):
                # Entra sends the manager as a bare id; the schema's manager is complex.
                ent["manager"] = {"value": value}
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
                return bool(e.get("primary")) == (parse_bool(fvalue) is True)
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
            new = user_rows.email_entry("", path.filter_value if fattr == "type" else "", not doc["emails"], "")
            doc["emails"].append(new)
            selected = [new]
        for e in selected:
            if path.sub:
                e[path.sub] = value  # lower-cased by parse_path, as the entry's keys are
            elif isinstance(value, dict):
                e.update({k: v for k, v in value.items() if k in ("value", "type", "primary", "display")})

    # --- writing ------------------------------------------------------------------
    @translate_service_errors
    def save(self) -> None:
        actor = self.request.scim_installation
        if self.obj.pk is None:
            self.obj = provisioning.provision_user(self.request.scim_org, self.profile, actor=actor)
        else:
            # PUT/PATCH: the view locked and read the row in this transaction.
            self.obj = provisioning.update_user_profile(self.obj, self.profile, actor=actor, locked=True)

    @translate_service_errors
    def delete(self) -> None:
        provisioning.delete_membership(self.obj, actor=self.request.scim_installation)
