"""Seed one benchmark org quickly with bulk inserts (not one request per user).

Run as `python -m benchmarks.seed --users N --groups G --big-group M` with
DATABASE_URL set; prints one JSON object: org uid, token, ids the load driver needs.

Besides the members and groups, the org gets the trail a real one accumulates
(plain INSERT ... SELECT, a few seconds for hundreds of thousands of rows):
- provisioning activity (`--activity`, default ACTIVITY_PER_MEMBER per member):
  30 days of an identity provider's calls, mostly lookups, with writes, refused
  calls, a few 5xx and coalesced 401/429 entries, at random times over the 30
  days: what the SCIM tab's list and its health chart read, rolled up into hours
  as beat keeps them (`manage.py rollup_provisioning_health`, scim/health_rollup.py);
- one audit entry per member ("provisioned by SCIM"), what the Audit log tab reads.

`--no-analyze` leaves the statistics as they are: the org stays unknown to the
planner (benchmarks/run.py's admin run without ANALYZE)."""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import time

# Provisioning activity rows per member (30 days of calls): an import (a lookup and a
# POST each), then daily pushes and re-evaluations; 300,000 rows for 100,000 members.
ACTIVITY_PER_MEMBER = 3
ACTIVITY_DAYS = 30

# (weight, method, path suffix, operation, status, outcome, occurrences) of the activity mix.
ACTIVITY_MIX = (
    (70, "GET", "/Users", "List users", 200, "success", 1),
    (8, "GET", "/Users/{id}", "Get user", 200, "success", 1),
    (7, "POST", "/Users", "Create user", 201, "success", 1),
    (6, "PATCH", "/Users/{id}", "Update user", 200, "success", 1),
    (4, "PUT", "/Users/{id}", "Replace user", 200, "success", 1),
    (3, "PATCH", "/Groups/{id}", "Update group members", 204, "success", 1),
    (1, "POST", "/Users", "Create user", 409, "failure", 1),
    (1, "PATCH", "/Users/{id}", "Update user", 400, "failure", 1),
    (0.5, "GET", "/Users", "List users", 401, "failure", 25),
    (0.3, "GET", "/Users", "List users", 429, "failure", 40),
    (0.2, "PATCH", "/Users/{id}", "Update user", 500, "failure", 1),
)


def seed_activity(connection, org, installation, rows: int) -> None:
    """`rows` provisioning events at random times over the last ACTIVITY_DAYS days."""
    from scim.models import ProvisioningEvent

    if rows <= 0:
        return
    total = sum(w for w, *_ in ACTIVITY_MIX)
    cases, edge = [], 0.0
    for weight, method, suffix, operation, status, outcome, occurrences in ACTIVITY_MIX:
        edge += weight / total
        cases.append((round(edge, 6), method, suffix, operation, status, outcome, occurrences))
    base = f"/scim/v2/organizations/{org.uid}"

    # The same random `r` for every column of a row picks one case of the mix.
    pick = "CASE " + " ".join(f"WHEN r < {c[0]} THEN %s" for c in cases[:-1]) + " ELSE %s END"

    columns = {1: "method", 2: "path", 3: "operation", 4: "status", 5: "outcome", 6: "occurrences"}
    selects, params = [], []
    for index, name in columns.items():
        values = [c[index] if index != 2 else base + c[2] for c in cases]
        cast = "::int" if name in ("status", "occurrences") else ""
        selects.append(f"({pick}){cast}")
        params.extend(values)
    table = ProvisioningEvent._meta.db_table
    sql = (
        f"INSERT INTO {table} (organization_id, installation_id, created_at, method, path, operation, target, "
        f"status, outcome, detail, duration_ms, occurrences) "
        f"SELECT %s, %s, now() - random() * interval '{ACTIVITY_DAYS} days', {selects[0]}, {selects[1]}, {selects[2]}, "
        f"'u' || i || '@bench.example', {selects[3]}, {selects[4]}, '', 5 + (random() * 40)::int, {selects[5]} "
        f"FROM (SELECT i, random() AS r FROM generate_series(1, %s) AS i) AS g"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [org.pk, installation.pk, *params, rows])


def seed_audit(connection, org, memberships: list[tuple[int, str]]) -> None:
    """One "provisioned by SCIM" entry per member, spread over the last 30 days."""
    from organizations.models import AuditEvent

    if not memberships:
        return
    table = AuditEvent._meta.db_table
    sql = (
        f"INSERT INTO {table} (organization_id, org_uid, actor_type, actor_id, actor_label, action, target_type, "
        f"target_id, target_label, request_id, client_address, created_at) "
        f"SELECT %s, %s, 'installation', '', 'Okta', 'scim.user.provision', 'membership', m.id::text, "
        f"m.scim_username, '', '', now() - random() * interval '{ACTIVITY_DAYS} days' "
        f"FROM organizations_membership AS m WHERE m.organization_id = %s AND m.scim_managed"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [org.pk, org.uid, org.pk])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--big-group", type=int, default=20000)
    parser.add_argument("--label", default="bench")
    parser.add_argument("--domain", default="bench.example",
                        help="the domain of the members' e-mail addresses (their userNames)")
    parser.add_argument("--activity", type=int, default=None,
                        help=f"provisioning activity rows (default {ACTIVITY_PER_MEMBER} per member)")
    parser.add_argument("--no-analyze", dest="analyze", action="store_false",
                        help="leave the statistics as they are: the planner does not know this org")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection, transaction

    from organizations import services
    from organizations.models import Membership, MembershipEmail, OrgRole, StackRole, User
    from scim.models import AppInstallation, MarketplaceApp, ScimGroup, ScimGroupMember
    from scim.tokens import issue_token

    started = time.monotonic()
    rng = random.Random(42)
    org = services.create_organization(f"Bench {args.label}", owner_email=f"owner.{args.label}@owners.example", actor=None)
    org.scim_enabled = True
    org.save(update_fields=["scim_enabled"])
    stacks = [services.create_stack(org, f"Stack {i}", actor=None) for i in range(3)]
    installation = AppInstallation.objects.create(
        organization=org, app=MarketplaceApp.objects.get(slug="okta-generic-scim")
    )
    token = issue_token(installation).secret

    batch = 5000
    n = args.users
    with transaction.atomic():
        for start in range(0, n, batch):
            stop = min(n, start + batch)
            users = [
                User(email=f"u{i}-{args.label}@{args.domain}", password="!", first_name="U", last_name=str(i))
                for i in range(start, stop)
            ]
            User.objects.bulk_create(users, batch_size=batch)
        user_ids = list(
            User.objects.filter(email__endswith=f"-{args.label}@{args.domain}").order_by("pk").values_list("pk", "email")
        )
        for start in range(0, n, batch):
            chunk = user_ids[start : start + batch]
            Membership.objects.bulk_create(
                [
                    Membership(
                        organization=org,
                        user_id=uid,
                        role=OrgRole.MEMBER,
                        manual_role=OrgRole.MEMBER,
                        scim_username=email,
                        given_name="U",
                        family_name=email.split("@")[0],
                        display_name=email.split("@")[0],
                        scim_external_id=f"00u{uid:010d}",
                        scim_managed=True,
                    )
                    for uid, email in chunk
                ],
                batch_size=batch,
            )
        memberships = list(
            Membership.objects.filter(organization=org).exclude(role=OrgRole.OWNER).order_by("pk").values_list("pk", "scim_username")
        )
        external_ids = list(
            Membership.objects.filter(organization=org).exclude(role=OrgRole.OWNER).order_by("pk")
            .values_list("scim_external_id", flat=True)
        )
        for start in range(0, len(memberships), batch):
            MembershipEmail.objects.bulk_create(
                [MembershipEmail(membership_id=pk, value=u, type="work", primary=True) for pk, u in memberships[start : start + batch]],
                batch_size=batch,
            )
        ScimGroup.objects.bulk_create(
            [ScimGroup(organization=org, display_name=f"Group {i:04d}") for i in range(args.groups)], batch_size=batch
        )
        group_ids = list(ScimGroup.objects.filter(organization=org).order_by("pk").values_list("pk", flat=True))
        big = group_ids[0]
        member_ids = [pk for pk, _ in memberships]
        big_members = member_ids[: min(args.big_group, len(member_ids))]
        rows = [ScimGroupMember(group_id=big, membership_id=m) for m in big_members]
        # Every other group: a handful of random members.
        for gid in group_ids[1:]:
            for m in rng.sample(member_ids, k=min(5, len(member_ids))):
                rows.append(ScimGroupMember(group_id=gid, membership_id=m))
        ScimGroupMember.objects.bulk_create(rows, batch_size=batch, ignore_conflicts=True)

    from mappings.models import GroupMapping, GroupMappingStackRole

    dev = StackRole.objects.get(organization=None, name="Developer")
    for gid in group_ids[1:4]:
        mapping = GroupMapping.objects.create(organization=org, group_id=gid, org_role=OrgRole.MEMBER)
        GroupMappingStackRole.objects.create(mapping=mapping, stack=stacks[0], role=dev)
    # A group whose members become Admins: joining or leaving it changes a member's access.
    GroupMapping.objects.create(organization=org, group_id=group_ids[-2], org_role=OrgRole.ADMIN)

    activity = ACTIVITY_PER_MEMBER * n if args.activity is None else args.activity
    seed_activity(connection, org, installation, activity)
    seed_audit(connection, org, memberships)
    # The steady state a running beat keeps: the health chart reads the completed hours rolled up.
    from django.core.management import call_command

    call_command("rollup_provisioning_health", stdout=io.StringIO())

    if connection.vendor == "postgresql" and args.analyze:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")  # what autovacuum would have done: visibility map for index-only scans
    print(
        json.dumps(
            {
                "org_uid": org.uid,
                "token": token,
                "users": n,
                "groups": len(group_ids),
                "big_group_id": big,
                "big_group_members": len(big_members),
                "small_group_id": group_ids[-1],
                "mapped_group_id": group_ids[-2],
                "sample_user_ids": [pk for pk, _ in memberships[-200:]],
                "non_member_ids": member_ids[len(big_members) :][:200] or member_ids[:200],
                "sample_usernames": [u for _, u in memberships[:: max(1, len(memberships) // 200)]][:200],
                # Spread over the org, none of the last 200 members (PUT rewrites those).
                "sample_external_ids": external_ids[:-200][:: max(1, (len(external_ids) - 200) // 200)][:200]
                or external_ids[:200],
                "activity_rows": activity,
                "stack_ids": [s.pk for s in stacks],
                "seed_seconds": round(time.monotonic() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    sys.exit(main())
