"""The SCIM Group adapter: a ScimGroup whose members are memberships of the org."""
from __future__ import annotations

from typing import Any

from django_scim.adapters import SCIMGroup

from scim import provisioning
from scim.models import ScimGroup

from . import constants as c
from . import ignored, limits, versions
from .adapter_base import ResourceAdapter, _ci_get, document_urls, translate_service_errors
from .errors import BadRequest, Mutability
from .patch import PatchPath


class ScimGroupAdapter(ResourceAdapter, SCIMGroup):
    id_field = "pk"
    url_name = "scim_api:group"
    resource_type = "Group"
    endpoint = "/Groups"
    description = "A group pushed by the identity provider; its members are users of this organization"
    schema = c.GROUP_SCHEMA

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
    def display_name(self) -> str:
        return self.obj.display_name

    @property
    def version(self) -> str:
        return versions.group(self.obj.updated_at)

    @property
    def members(self) -> list[dict[str, Any]]:
        links = getattr(self.obj, "prefetched_members", None)
        if links is None:
            links = self.obj.memberships.order_by("pk")
        # No `display`: it is not in RFC 7643's Group schema, IdPs do not read it
        # back, and leaving it out keeps a big group's page a single-table query.
        base, _ = document_urls(self.request)
        return [
            {"value": str(link.membership_id), "$ref": f"{base}/{link.membership_id}", "type": "User"}
            for link in links
        ]

    def to_dict(self, *, include_members: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {"schemas": [c.GROUP_SCHEMA], "id": self.id}
        if self.obj.external_id:
            d["externalId"] = self.obj.external_id
        d["displayName"] = self.obj.display_name
        if include_members:
            d["members"] = self.members
        d["meta"] = self.meta
        return d

    # --- parsing ----------------------------------------------------------------
    @staticmethod
    def member_values(value: Any) -> set[str]:
        if value is None:
            return set()
        if isinstance(value, dict):  # Okta may send a single member object
            value = [value]
        if not isinstance(value, list):
            raise limits.InvalidValue('"members" must be an array of objects')
        values = set()
        for item in value:
            # The shape every IdP sends, {"value": "<id>", ...}, taken without the
            # checks below: a push names 100 members, each checked per call.
            member = item.get("value") if type(item) is dict else None
            if type(member) is str and member:
                values.add(member)
                continue
            item = limits.complex_value(item, "members")
            member = _ci_get(item, "value")
            if member in (None, ""):
                raise BadRequest('every member needs a "value"')
            values.add(limits.group_string(member, "members.value"))
        return values

    def from_dict(self, d: dict) -> None:
        """POST and PUT. A PUT without `members` keeps the members (safer than
        RFC's "unassigned" when an IdP only renames); `members: []` empties it."""
        self.validate_dict(d)
        d, names = ignored.check_document(ignored.GROUP, d)  # unknown attributes: 400 invalidValue
        ignored.note(self.request, names)
        name = _ci_get(d, "displayName")
        if name is None or (isinstance(name, str) and not name.strip()):
            raise BadRequest('"displayName" is required')
        self.name = limits.group_string(name, "displayName")
        self.external_id = limits.group_string(_ci_get(d, "externalId"), "externalId")
        members = _ci_get(d, "members")
        if members is not None or self.obj.pk is None:
            self.replace_values = self.member_values(members)
            self.members_touched = True

    # --- PATCH (parse_path_and_values, handle_add/replace/remove -> _apply: ResourceAdapter)
    def _kept(self, pairs: list[tuple[PatchPath, Any]], error: type[Exception]) -> list[tuple[PatchPath, Any]]:
        """Pairs naming stored attributes; ignored ones (Okta's path-less rename
        carries the group's `id`) are named in the activity entry, unknown ones refused."""
        kept = []
        for path, value in pairs:
            name = ignored.check_path(ignored.GROUP, path, error=error)
            if name:
                ignored.note(self.request, [name])
            else:
                kept.append((path, value))
        return kept

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
                raise Mutability('"displayName" is required and cannot be removed')
            self.name = limits.group_string(value, "displayName")
        elif path.attr == "externalid":
            self.external_id = "" if op == c.OP_REMOVE else limits.group_string(value, "externalId")
        # Nothing else gets here: _kept named the ignored ones ("id" of Okta's
        # path-less rename, "meta", extensions) and refused unknown attributes.

    # --- writing ------------------------------------------------------------------
    @translate_service_errors
    def save(self) -> None:
        request = self.request
        actor, org = request.scim_installation, request.scim_org
        lenient_remove = self.remove_values
        if self.obj.pk is not None and self.members_touched and self.replace_values is None:
            # Removing someone who is not (or no longer) a member is a no-op, not an
            # error: Okta retries removals of users deleted meanwhile. The ids to add
            # are checked for this org in the statement that reads the named links.
            add_ids, bad = provisioning.parse_member_ids(self.add_values)
            if bad:
                provisioning.resolve_member_ids(org, bad)  # refuses them, naming them
            remove_ids = {pk for v in lenient_remove if (pk := provisioning.parse_id(v)) is not None}
            provisioning.change_group_members(self.obj, add=add_ids, remove=remove_ids, actor=actor, unresolved_add=True)
            self._save_name()  # after the members are checked: an unknown member is the error named
            return
        strict = self.add_values | (self.replace_values or set())
        member_ids = provisioning.resolve_member_ids(org, strict) if strict else set()
        if self.obj.pk is None:
            self.obj = provisioning.create_group(
                org, self.name or "", external_id=self.external_id or "", member_ids=member_ids, actor=actor
            )
            return
        self._save_name()
        if self.members_touched:  # the whole list (PUT with members, PATCH replace)
            provisioning.change_group_members(self.obj, replace=member_ids, actor=actor)

    def _save_name(self) -> None:
        if self.name is not None or self.external_id is not None:
            provisioning.update_group(
                self.obj, display_name=self.name, external_id=self.external_id, actor=self.request.scim_installation
            )

    @translate_service_errors
    def delete(self) -> None:
        provisioning.delete_group(self.obj, actor=self.request.scim_installation)
