"""The SCIM User adapter: a User is an org Membership (docs/ARCHITECTURE.md,
"How a SCIM write travels"). It parses SCIM into a UserProfile and writes
through scim.provisioning; scim.api.user_documents renders."""
from __future__ import annotations

import copy
from typing import Any

from django_scim.adapters import SCIMUser

from organizations.models import Membership
from scim import activity, provisioning
from scim.provisioning import UserProfile
from scim.rawsql import Riders

from . import constants as c
from . import ignored, limits, user_documents, user_rows
from .adapter_base import ResourceAdapter, _ci_get, translate_service_errors
from .errors import BadRequest, Mutability
from .filters import ENTERPRISE_STRINGS, NAME_EXTRAS
from .patch import PatchPath
from .values import coerce_bool, parse_bool

ENTERPRISE = c.ENTERPRISE_USER_SCHEMA
NAME_SUBS = ("givenName", "familyName", *NAME_EXTRAS)  # given and family are columns, the rest in scim_extra
ENTERPRISE_ATTRS = {a.lower(): a for a in (*ENTERPRISE_STRINGS, "manager")}
MANAGER_SUBS = {"value": "value", "$ref": "$ref"}  # manager.displayName is readOnly: ignored when sent


def _parse_emails(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, dict):  # OneLogin sends one e-mail as an object
        value = [value]
    if not isinstance(value, list):
        raise limits.InvalidValue('"emails" must be an array of objects')
    emails = []
    for item in value:
        item = limits.complex_value(item, "emails")
        address = limits.user_string(_ci_get(item, "value"), "emails.value").strip()
        if not address:
            continue
        primary = _ci_get(item, "primary")
        emails.append(
            user_rows.email_entry(
                address,
                limits.user_string(_ci_get(item, "type"), "emails.type"),
                coerce_bool(primary, "emails.primary") if primary is not None else False,
                limits.user_string(_ci_get(item, "display"), "emails.display"),
            )
        )
    return emails


def _parse_name(value: Any) -> dict[str, str]:
    """Every sub-attribute of `name`, "" when not given."""
    name = limits.complex_value(value, "name")
    return {sub: limits.user_string(_ci_get(name, sub), f"name.{sub}") for sub in NAME_SUBS}


def _parse_enterprise(value: Any) -> dict[str, Any]:
    """The enterprise extension as the schema declares it, with the schema's
    attribute names: strings, and `manager` as {value, $ref}. Entra sends the
    manager as a bare id string."""
    ent = limits.complex_value(value, ENTERPRISE)
    out: dict[str, Any] = {}
    for attr in ENTERPRISE_STRINGS:
        text = limits.user_string(_ci_get(ent, attr), f"{ENTERPRISE}:{attr}")
        if text:
            out[attr] = text
    manager = _ci_get(ent, "manager")
    if isinstance(manager, str):
        manager = {"value": manager}
    manager = limits.complex_value(manager, f"{ENTERPRISE}:manager")
    kept = {}
    for sub in MANAGER_SUBS:
        text = limits.user_string(_ci_get(manager, sub), f"{ENTERPRISE}:manager.{sub}")
        if text:
            kept[sub] = text
    if kept:
        out["manager"] = kept
    return out


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

    @property
    def version(self) -> str:
        return user_documents.version_of(self.obj, None)

    def to_dict(self) -> dict[str, Any]:
        return user_documents.of_membership(self.request, self.obj, None)

    # --- parsing ----------------------------------------------------------------
    def from_dict(self, d: dict) -> None:
        """Whole-resource parse of a POST or PUT body. What Orgdesk does not store
        is either on scim.api.ignored's list (`password`, `locale`, read-only `id`,
        `meta`, `groups`, unpublished extensions: named in the activity entry) or
        refused, 400 invalidValue naming it."""
        self.validate_dict(d)
        d, names = ignored.check_document(ignored.USER, d)
        ignored.note(self.request, names)
        self._parse(d)

    def _parse(self, d: dict) -> None:
        """The document as a UserProfile (POST, PUT, and the result of a PATCH):
        every stored value is checked against its type and storage limit first
        (scim.api.limits), nothing is coerced or cut."""
        user_name = _ci_get(d, "userName")
        if user_name is None or (isinstance(user_name, str) and not user_name.strip()):
            raise BadRequest('"userName" is required')
        user_name = limits.user_string(user_name, "userName").strip()
        name = _parse_name(_ci_get(d, "name"))
        active = _ci_get(d, "active")
        if active is None:  # PUT without `active` keeps the state (POST: active)
            active_value = self.obj.active if self.obj.pk else True
        else:
            active_value = coerce_bool(active, "active")
        extra = dict(self.obj.scim_extra or {}) if self.obj.pk else {}
        enterprise = _parse_enterprise(_ci_get(d, ENTERPRISE))
        name_extras = {sub: name[sub] for sub in NAME_EXTRAS if name[sub]}
        for key, value in ((ENTERPRISE, enterprise), (c.USER_SCHEMA, {"name": name_extras} if name_extras else {})):
            if value:
                extra[key] = value
            else:
                extra.pop(key, None)
        self.profile = UserProfile(
            user_name=user_name,
            external_id=limits.user_string(_ci_get(d, "externalId"), "externalId"),
            display_name=limits.user_string(_ci_get(d, "displayName"), "displayName"),
            given_name=name["givenName"],
            family_name=name["familyName"],
            emails=_parse_emails(_ci_get(d, "emails")),
            active=active_value,
            extra=extra,
        )

    def as_document(self) -> dict[str, Any]:
        """The mutable attributes as a plain SCIM document, for PATCH to work on."""
        m = self.obj
        extra = m.scim_extra or {}
        name = {sub: "" for sub in NAME_SUBS}
        name.update(((extra.get(c.USER_SCHEMA) or {}).get("name") or {}), givenName=m.given_name, familyName=m.family_name)
        return {
            "userName": m.scim_username,
            "externalId": m.scim_external_id,
            "displayName": m.display_name,
            "name": name,
            "emails": [user_rows.email_entry(e.value, e.type, e.primary, e.display) for e in m.email_set.all()],
            "active": m.active,
            ENTERPRISE: copy.deepcopy(extra.get(ENTERPRISE) or {}),
        }

    # --- PATCH (parse_path_and_values, handle_add/replace/remove -> _apply: ResourceAdapter)
    @staticmethod
    def _expanded(path: PatchPath, value: Any) -> list[tuple[PatchPath, Any]]:
        """The enterprise extension given as one object: one pair per attribute."""
        if path.urn == ENTERPRISE and not path.attr and isinstance(value, dict):
            # (scim2-models also puts a "schemas" declaration in it: read as such)
            return [
                (PatchPath(attr=k, urn=path.urn, raw=f"{path.raw}:{k}"), v)
                for k, v in value.items() if k.lower() != "schemas"
            ]
        return [(path, value)]

    def _kept(self, pairs: list[tuple[PatchPath, Any]], error: type[Exception]) -> list[tuple[PatchPath, Any]]:
        """The pairs naming stored attributes; the deliberately ignored ones are
        named in the activity entry (scim.api.ignored), unknown ones refused."""
        kept = []
        for path, value in pairs:
            name = ignored.check_path(ignored.USER, path, error=error)
            if name:
                ignored.note(self.request, [name])
                continue
            if path.urn and path.attr.lower() == "manager" and isinstance(value, dict) and any(
                isinstance(k, str) and k.lower() == "displayname" for k in value
            ):
                ignored.note(self.request, [f"{ENTERPRISE}:manager.displayName"])
            kept.append((path, value))
        return kept

    def handle_operations(self, operations: list) -> None:
        if self._doc is None:
            self._doc = self.as_document()
        had_emails = bool(self._doc["emails"])
        super().handle_operations(operations)
        self._parse(self._doc)
        if had_emails and not self.profile.emails:
            # /Schemas declares emails required (RFC 7644 §3.5.2.2: mutability).
            raise Mutability('"emails" is required: the last e-mail cannot be removed')

    def _apply(self, path: PatchPath, value: Any, op: str) -> None:
        """Apply one operation to the plain document; from_dict then checks types
        and limits of the result as a whole."""
        doc = self._doc
        if path.urn:  # only the enterprise extension gets here (_kept)
            self._apply_enterprise(path, value, op)
            return
        attr = path.attr
        if attr in ("username", "externalid", "displayname", "active"):
            key = {"username": "userName", "externalid": "externalId", "displayname": "displayName", "active": "active"}[attr]
            if op == c.OP_REMOVE:
                if key in ("userName", "active"):
                    # Required in /Schemas: a membership always has a userName and a state.
                    raise Mutability(f'"{key}" is required and cannot be removed')
                doc[key] = ""
            else:
                doc[key] = value
        elif attr == "name":
            name = doc["name"]
            canonical = {sub.lower(): sub for sub in NAME_SUBS}
            if path.sub:
                if path.sub in canonical:
                    name[canonical[path.sub]] = "" if op == c.OP_REMOVE else value
            elif op == c.OP_REMOVE:
                name.update(dict.fromkeys(NAME_SUBS, ""))
            elif isinstance(value, dict):
                # Sub-attributes not given are left unchanged (RFC 7644 §3.5.2.3).
                for sub in NAME_SUBS:
                    if _ci_get(value, sub) is not None:
                        name[sub] = _ci_get(value, sub)
            else:
                raise limits.InvalidValue('"name" must be an object')
        elif attr == "emails":
            self._apply_emails(path, value, op)
        # Nothing else gets here: _kept named the ignored attributes and refused the rest.

    def _apply_enterprise(self, path: PatchPath, value: Any, op: str) -> None:
        ent = self._doc[ENTERPRISE]
        if not path.attr:
            if op == c.OP_REMOVE:
                ent.clear()
            else:
                ent.update(limits.complex_value(value, ENTERPRISE))
            return
        attr = ENTERPRISE_ATTRS.get(path.attr.lower())
        if attr is None:
            return  # refused before (scim.api.ignored.check_path)
        if path.sub:
            target = ent.get(attr)
            if not isinstance(target, dict):
                target = ent[attr] = {} if target is None or op == c.OP_REMOVE else {"value": target}
            sub = MANAGER_SUBS.get(path.sub.lower()) if attr == "manager" else None
            if sub is None:
                return
            if op == c.OP_REMOVE:
                target.pop(sub, None)
            else:
                target[sub] = value
        elif op == c.OP_REMOVE:
            ent.pop(attr, None)
        else:
            # Entra sends the manager as a bare id; _parse_enterprise makes it {"value": id}.
            ent[attr] = value

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
        request = self.request
        actor = request.scim_installation
        new = self.obj.pk is None
        # The call's activity entry is written in the statement that writes the
        # change (scim.activity.entry_with_change), when something changes.
        riders = Riders()
        riders.insert(activity.EVENT, [activity.entry_with_change(request, 201 if new else 200, ignored.describe(request))])
        if new:
            self.obj = provisioning.provision_user(request.scim_org, self.profile, actor=actor, riders=riders)
        else:
            # PUT/PATCH: the view locked and read the row in this transaction.
            self.obj = provisioning.update_user_profile(self.obj, self.profile, actor=actor, locked=True, riders=riders)
        if riders.written:
            request.scim_activity_written = True

    @translate_service_errors
    def delete(self) -> None:
        provisioning.delete_membership(self.obj, actor=self.request.scim_installation)
