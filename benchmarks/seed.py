"""Seed one benchmark org quickly with bulk inserts (not one request per user).

Run as `python -m benchmarks.seed --users N --groups G --big-group M` with
DATABASE_URL set; prints one JSON object: org uid, token, ids the load driver needs."""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--big-group", type=int, default=20000)
    parser.add_argument("--label", default="bench")
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
                User(email=f"u{i}-{args.label}@bench.example", password="!", first_name="U", last_name=str(i))
                for i in range(start, stop)
            ]
            User.objects.bulk_create(users, batch_size=batch)
        user_ids = list(
            User.objects.filter(email__endswith=f"-{args.label}@bench.example").order_by("pk").values_list("pk", "email")
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

    if connection.vendor == "postgresql":
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
                "sample_user_ids": [pk for pk, _ in memberships[-200:]],
                "non_member_ids": member_ids[len(big_members) :][:200] or member_ids[:200],
                "sample_usernames": [u for _, u in memberships[:: max(1, len(memberships) // 200)]][:200],
                "stack_ids": [s.pk for s in stacks],
                "seed_seconds": round(time.monotonic() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    sys.exit(main())
