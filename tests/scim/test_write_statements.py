"""Every SCIM write runs a fixed number of statements (transaction control left
out: a test runs inside a transaction, production does not). What each one
runs is listed in the comments; a change to these numbers is a change to the
cost of every push an identity provider makes."""
from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from mappings.models import GroupMapping
from organizations.audit_actions import ACCESS_RECOMPUTE
from organizations.models import AuditEvent, Membership, MembershipEmail, OrgRole, StackAccess, User
from scim.models import ScimGroup, ScimGroupMember
from scim.redis_client import redis_client
from tests import builders

pytestmark = pytest.mark.django_db

CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK", "BEGIN", "COMMIT")
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def token_queries() -> int:
    """The token lookup: none once remembered, which needs Redis (scim.tokens)."""
    return 0 if redis_client() is not None else 1


def locked_user() -> int:
    """The User row a write locks, with its e-mails and groups (its response is
    rendered from it, not read back): one statement on PostgreSQL (JSON
    subqueries), three elsewhere (the row, its e-mails, its groups)."""
    return 1 if connection.vendor == "postgresql" else 3


ACTIVITY = 1  # the ProvisioningEvent INSERT (of a call that wrote nothing)


def change(*riders: str) -> int:
    """A User write's change: on PostgreSQL one statement, the membership's
    UPDATE or INSERT carrying what goes with it (its e-mails, its audit entries,
    the call's activity entry: scim.rawsql.write_with); elsewhere one statement
    for the membership and one for each of them."""
    return 1 if connection.vendor == "postgresql" else 1 + len(riders)


def group_members_write() -> int:
    """A group PATCH's add/remove, after the group's lock: on PostgreSQL one
    statement checks the ids for the org, writes the links, touches the group
    and writes the audit entry (scim.group_diff); elsewhere four (the ids checked
    and which are members; INSERT or DELETE; the group touched and counted;
    audit)."""
    return 1 if connection.vendor == "postgresql" else 4


class Scim:
    def __init__(self, org):
        self.base = f"/scim/v2/organizations/{org.uid}"
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {builders.bare_scim_token(org)}"}
        self.client = Client()

    def send(self, method: str, path: str, body=None):
        data = json.dumps(body) if body is not None else ""
        return getattr(self.client, method)(self.base + path, data, content_type="application/scim+json", **self.headers)

    def statements(self, method: str, path: str, body=None, *, status: int) -> list[str]:
        with CaptureQueriesContext(connection) as ctx:
            response = self.send(method, path, body)
        assert response.status_code == status, response.content
        return [q["sql"] for q in ctx.captured_queries if not q["sql"].upper().startswith(CONTROL)]


@pytest.fixture
def scim(org):
    client = Scim(org)
    client.send("get", "/Users?count=1")
    client.send("get", "/Users?count=1")  # the token is remembered from now on (with Redis)
    return client


def members(org, n: int) -> list[Membership]:
    start = User.objects.count()
    users = User.objects.bulk_create(User(email=f"w{start + i}@x.example", password="!") for i in range(n))
    made = Membership.objects.bulk_create(
        Membership(organization=org, user=u, scim_username=u.email, scim_managed=True) for u in users
    )
    MembershipEmail.objects.bulk_create(MembershipEmail(membership=m, value=m.scim_username, type="work", primary=True) for m in made)
    return made


def user_body(user_name: str, **extra) -> dict:
    return {"schemas": [USER], "userName": user_name, "name": {"givenName": "Ada", "familyName": "L"},
            "emails": [{"value": user_name, "type": "work", "primary": True}], "active": True, **extra}


def patch(*ops) -> dict:
    return {"schemas": [PATCH], "Operations": list(ops)}


def test_post_user(scim, org):
    # account INSERT ... ON CONFLICT; membership INSERT ... ON CONFLICT (the
    # invitation owed is a column of it) with its e-mails, audit entry and the
    # activity entry. The response is rendered from what was written.
    invited = scim.statements("post", "/Users", user_body("a@x.example"), status=201)
    assert len(invited) == token_queries() + 1 + change("emails", "audit", "activity"), invited
    assert not any("organizations_invitation" in s for s in invited)  # built by the worker
    org.invite_provisioned_members = False
    org.save(update_fields=["invite_provisioned_members"])
    scim.send("get", "/Users?count=1")  # (saving the org makes the token be checked again once)
    sso = scim.statements("post", "/Users", user_body("b@x.example"), status=201)
    assert len(sso) == token_queries() + 1 + change("emails", "audit", "activity"), sso


def test_put_user(scim, org):
    target = members(org, 3)[1]
    body = user_body(target.scim_username)
    # row locked (with e-mails and groups); UPDATE of the changed columns with
    # its audit entry and the activity entry (the e-mails are the same: not rewritten)
    first = scim.statements("put", f"/Users/{target.pk}", body, status=200)
    assert len(first) == token_queries() + locked_user() + change("audit", "activity"), first
    # new e-mails: replaced (DELETE + INSERT) with the same UPDATE
    body["emails"] = [{"value": "new@x.example"}]
    emails = scim.statements("put", f"/Users/{target.pk}", body, status=200)
    assert len(emails) == token_queries() + locked_user() + change("delete e-mails", "e-mails", "audit", "activity"), emails
    assert any("organizations_auditevent" in s and "scim_provisioningevent" in s for s in emails) == (
        connection.vendor == "postgresql"
    )
    # only the name changes: UPDATE and audit, no access recompute
    renamed = scim.statements("put", f"/Users/{target.pk}", {**body, "name": {"givenName": "B"}}, status=200)
    assert len(renamed) == token_queries() + locked_user() + change("audit", "activity"), renamed
    # nothing changes: nothing written but the activity entry
    same = scim.statements("put", f"/Users/{target.pk}", {**body, "name": {"givenName": "B"}}, status=200)
    assert len(same) == token_queries() + locked_user() + ACTIVITY, same


def test_patch_active_false_then_true(scim, org):
    target = members(org, 3)[1]
    # row locked (with e-mails and groups); UPDATE with its audit entry and the
    # activity entry; open invitations (none to revoke); its derived grants
    # (none: deactivation reads no mapping)
    off = scim.statements("patch", f"/Users/{target.pk}", patch({"op": "replace", "value": {"active": False}}), status=200)
    assert len(off) == token_queries() + locked_user() + change("audit", "activity") + 2, off
    # row locked; UPDATE (the invitation owed with it) with its audit entry and
    # the activity entry; the access engine for this member (the org's mappings;
    # its groups and grants in one read)
    on = scim.statements("patch", f"/Users/{target.pk}", patch({"op": "replace", "value": {"active": True}}), status=200)
    assert len(on) == token_queries() + locked_user() + change("audit", "activity") + 2, on


def test_delete_user(scim, org):
    target = members(org, 3)[1]
    # row locked; organizations.services.remove_member (its groups touched, its
    # open invitations, the membership and what cascades with it, audit); activity
    statements = scim.statements("delete", f"/Users/{target.pk}", status=204)
    assert len(statements) == token_queries() + locked_user() + 9 + ACTIVITY, statements


@pytest.mark.parametrize("mapped", [False, True], ids=["unmapped", "mapped"])
def test_group_writes(scim, org, mapped):
    people = members(org, 40)
    ids = [str(m.pk) for m in people]
    created = scim.statements(
        "post", "/Groups", {"schemas": [GROUP], "displayName": "Eng", "members": [{"value": i} for i in ids[:10]]}, status=201
    )
    group = ScimGroup.objects.get(organization=org, display_name="Eng")
    if mapped:
        GroupMapping.objects.create(organization=org, group=group, org_role=OrgRole.ADMIN)
    add = scim.statements("patch", f"/Groups/{group.pk}", patch({"op": "add", "path": "members", "value": [{"value": i} for i in ids[10:30]]}), status=204)
    remove = scim.statements("patch", f"/Groups/{group.pk}", patch({"op": "remove", "path": "members", "value": [{"value": i} for i in ids[20:30]]}), status=204)
    replace = scim.statements("patch", f"/Groups/{group.pk}", patch({"op": "replace", "path": "members", "value": [{"value": i} for i in ids[30:40]]}), status=204)
    put = scim.statements("put", f"/Groups/{group.pk}", {"schemas": [GROUP], "displayName": "Eng2", "members": [{"value": i} for i in ids[:5]]}, status=200)
    counts = {name: len(s) - token_queries() - ACTIVITY for name, s in
              (("post", created), ("add", add), ("remove", remove), ("replace", replace), ("put", put))}
    # POST: ids resolved, name taken?, INSERT ... ON CONFLICT, links INSERT, audit,
    # is it mapped (not yet), its members for the response.
    # PATCH add/remove: group locked; the members written (group_members_write);
    # is it mapped. PATCH replace (and PUT's
    # members): ids resolved, the current links, DELETE and INSERT. PUT also
    # renames (name taken?, UPDATE, audit) and reads the group back.
    # Mapped, every change of members re-derives their access: memberships
    # locked (the "is it mapped" question asked in the same statement), the
    # org's mappings, their groups and grants (one statement), one UPDATE per
    # resulting role, one audit INSERT for all of them.
    add = 1 + group_members_write() + 1
    expected = {"post": 7, "add": add, "remove": add, "replace": 8, "put": 13}
    if mapped:
        recompute = 3 + 1 + 1 - 1  # reads, the role UPDATE, the audit INSERT; less the "is it mapped" read
        expected.update(add=add + recompute, remove=add + recompute, replace=8 + recompute + 1, put=13 + recompute + 1)
    assert counts == expected
    roles = set(Membership.objects.filter(pk__in=[int(i) for i in ids[:5]]).values_list("role", flat=True))
    assert roles == ({OrgRole.ADMIN} if mapped else {OrgRole.MEMBER})


@pytest.mark.parametrize("changed", [10, 100])
def test_mapped_group_patch_costs_the_same_for_10_and_100_members(scim, org, changed):
    """Each member added to (or removed from) a mapped group changes access: org
    role, stack grants, an audit entry. The statements are the same for 10 and
    for 100 of them, grants included."""
    people = [str(m.pk) for m in members(org, changed)]
    stack = builders.make_stack(org)
    group = ScimGroup.objects.create(organization=org, display_name="Admins")
    mapping = GroupMapping.objects.create(organization=org, group=group, org_role=OrgRole.ADMIN)
    mapping.stack_roles.create(stack=stack, role=builders.builtin("Developer"))
    value = [{"value": i} for i in people]
    add = scim.statements("patch", f"/Groups/{group.pk}", patch({"op": "add", "path": "members", "value": value}), status=204)
    remove = scim.statements("patch", f"/Groups/{group.pk}", patch({"op": "remove", "path": "members", "value": value}), status=204)
    # The group's part (as for an unmapped group, less its "is it mapped" read):
    # group locked and its members written (group_members_write). Then the
    # recompute: memberships locked (if the group is mapped), the org's
    # mappings, their groups and grants; the grants INSERT or DELETE, the role
    # UPDATE, the audit entries (one INSERT for all).
    group_part, recompute = 1 + group_members_write(), 3 + 3
    assert len(add) == token_queries() + group_part + recompute + ACTIVITY, add
    assert len(remove) == token_queries() + group_part + recompute + ACTIVITY, remove
    # the members' entries; elsewhere than PostgreSQL also the group's own (there
    # it is part of the group_diff statement)
    group_entry = 0 if connection.vendor == "postgresql" else 1
    assert sum(s.startswith('INSERT INTO "organizations_auditevent"') or " times: " in s for s in add) == 1 + group_entry
    assert StackAccess.objects.filter(membership__organization=org, source="scim").count() == 0
    assert AuditEvent.objects.filter(action=ACCESS_RECOMPUTE).count() == 2 * changed


def test_group_patch_statements_do_not_grow_with_the_members_named(scim, org):
    """Okta and Entra push 100 members a call: adding or removing 100 runs the
    statements adding or removing 10 does, and a call that changes nothing (all
    already members, none of them members) writes nothing but the activity."""
    people = [str(m.pk) for m in members(org, 110)]
    group = ScimGroup.objects.create(organization=org, display_name="Push")

    def members_op(op: str, ids: list[str]) -> list[str]:
        body = patch({"op": op, "path": "members", "value": [{"value": i} for i in ids]})
        return scim.statements("patch", f"/Groups/{group.pk}", body, status=204)

    ten, hundred = members_op("add", people[:10]), members_op("add", people[10:])
    assert len(ten) == len(hundred) == token_queries() + 1 + group_members_write() + 1 + ACTIVITY, hundred
    assert ScimGroupMember.objects.filter(group=group).count() == 110
    again = members_op("add", people[10:])  # nothing new: the lock and the check, no write, no access check
    assert len(again) == token_queries() + 1 + 1 + ACTIVITY, again
    ten, hundred = members_op("remove", people[:10]), members_op("remove", people[10:])
    assert len(ten) == len(hundred) == token_queries() + 1 + group_members_write() + 1 + ACTIVITY, hundred
    assert not ScimGroupMember.objects.filter(group=group).exists()


def test_no_op_put_and_name_only_put_recompute_nobody(scim, org):
    """A PUT that changes only a name (or nothing) reads no mapping and writes no
    access: nothing that feeds the access engine changed."""
    target = members(org, 2)[0]
    group = ScimGroup.objects.create(organization=org, display_name="Mapped")
    GroupMapping.objects.create(organization=org, group=group, org_role=OrgRole.ADMIN)
    ScimGroupMember.objects.create(group=group, membership=target)
    body = user_body(target.scim_username)
    for name in ("Ada", "Grace", "Grace"):
        statements = scim.statements("put", f"/Users/{target.pk}", {**body, "name": {"givenName": name}}, status=200)
        assert not any("mappings_groupmapping" in s or "organizations_stackaccess" in s for s in statements), statements
        assert not any("access.recompute" in s for s in statements)
