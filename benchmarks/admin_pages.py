"""The admin in a browser's place: server time, SQL statements and HTML bytes of
every admin page an Owner opens, at each seeded org size.

Runs inside one Django process (the test client: the whole middleware stack and
view, no network), signed in as each org's Owner; every page is fetched once to
warm up, then REPEAT times, and the median is kept. Run alone against a seeded
database:

    DATABASE_URL=postgres://…/orgdesk_bench python -m benchmarks.admin_pages ORG_UID [ORG_UID …]

or from benchmarks/run.py, which seeds the orgs first. Prints one JSON object."""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

REPEAT = 5
# Targets, per page, at 100,000 members.
MAX_MS = 300
MAX_KB = 300
MAX_RATIO = 1.5


def pages(org, big_group_id: int | None) -> list[tuple[str, str]]:
    """(label, URL) of every admin page, for one org."""
    from django.urls import NoReverseMatch, reverse

    from mappings.models import GroupMapping
    from organizations.models import Membership, OrgRole, Stack
    from scim.models import AppInstallation, ScimGroup

    uid = org.uid
    member = Membership.objects.filter(organization=org).exclude(role=OrgRole.OWNER).order_by("-pk").first()
    stack = Stack.objects.filter(organization=org).order_by("pk").first()
    installation = AppInstallation.objects.filter(organization=org).order_by("pk").first()
    group = ScimGroup.objects.filter(pk=big_group_id).first() if big_group_id else None
    group = group or ScimGroup.objects.filter(organization=org).order_by("pk").first()
    mapping = GroupMapping.objects.filter(organization=org).order_by("pk").first()
    def r(name: str, *args) -> str:
        try:
            return reverse(name, args=args)
        except NoReverseMatch:  # a page this version of the app does not have
            return ""

    urls = [
        ("admin home", r("admin:index")),
        ("Settings > General", r("admin:org-settings", uid)),
        ("Settings > Members", r("admin:org-settings-members", uid)),
        ("Settings > Members, page 2", r("admin:org-settings-members", uid) + "?page=2"),
        ("Settings > Members, page 150", r("admin:org-settings-members", uid) + "?page=150"),
        ("Settings > Members, search `u99`", r("admin:org-settings-members", uid) + "?q=u99"),
        ("Settings > Members, search `bench`", r("admin:org-settings-members", uid) + "?q=bench"),
        ("Settings > Members, search one e-mail", r("admin:org-settings-members", uid) + f"?q={member.scim_username}"),
        ("Settings > Members, deactivated admins by hand",
         r("admin:org-settings-members", uid) + "?role=admin&status=deactivated&source=manual"),
        ("Settings > Members, SCIM members", r("admin:org-settings-members", uid) + "?source=scim&status=active"),
        ("member page", r("admin:member-detail", uid, member.pk)),
        ("member: deactivate confirmation", r("admin:member-deactivate", uid, member.pk)),
        ("member: why (access)", r("admin:member-access", uid, member.pk)),
        ("member picker JSON, empty term", r("admin:member-picker", uid)),
        ("member picker JSON, `u999`", r("admin:member-picker", uid) + "?term=u999"),
        ("Settings > Stacks", r("admin:org-settings-stacks", uid)),
        ("Settings > SCIM", r("admin:org-settings-scim", uid)),
        # The tab with its Provisioning health chart (scim/health.py: 24 h and 30 days of activity).
        ("Settings > SCIM, health chart", r("admin:org-settings-scim", uid) + "#provisioning-health"),
        ("Settings > SCIM, all activity", r("admin:org-settings-scim", uid) + "?activity=all"),
        ("Settings > SCIM, failures", r("admin:org-settings-scim", uid) + "?outcome=failure"),
        ("group picker JSON, empty term", r("admin:scim-group-picker", uid)),
        ("group picker JSON, `group 09`", r("admin:scim-group-picker", uid) + "?term=group%2009"),
        # The raw model admin is for operators only; the Owner reads the trail here.
        ("Settings > Audit log", r("admin:org-settings-audit", uid)),
        ("Settings > Audit log, page 2", r("admin:org-settings-audit", uid) + "?page=2"),
        ("Settings > Audit log, members and roles", r("admin:org-settings-audit", uid) + "?kind=members"),
        ("Marketplace > Apps", r("admin:marketplace-apps", uid)),
    ]
    if stack is not None:
        urls.append(("stack: delete confirmation", r("admin:stack-delete", uid, stack.pk)))
    if installation is not None:
        urls.append(("installation page", r("admin:marketplace-installation", uid, installation.pk)))
    if group is not None:
        urls.append(
            (f"mapping preview, group of {group.members.count():,}",
             r("admin:mapping-preview", uid) + f"?group={group.pk}&org_role=admin&all_stacks_role=")
        )
    if mapping is not None:
        urls.append(("mapping: remove preview", r("admin:mapping-delete", uid, mapping.pk)))
    return [(label, url) for label, url in urls if url and not url.startswith("?")]


def measure(specs: list[tuple[str, int | None]]) -> list[dict]:
    """Every page at every org size in turn (page 1 small, page 1 large, page 2
    small, …), so a machine that gets busier during the run weighs on both
    sizes alike."""
    from django.db import connection
    from django.test import Client

    from organizations.models import Organization, OrgRole

    plans = []
    for uid, big_group_id in specs:
        org = Organization.objects.get(uid=uid)
        client = Client()
        client.force_login(org.memberships.select_related("user").get(role=OrgRole.OWNER).user)
        plans.append((org.memberships.count(), client, pages(org, big_group_id)))
    rows = []
    for index in range(max(len(p) for _, _, p in plans)):
        for size, client, urls in plans:
            if index < len(urls):
                rows.append(_measure_page(connection, client, size, *urls[index]))
    return rows


def _measure_page(connection, client, size: int, label: str, url: str) -> dict:
    counts: list[int] = []

    def count(execute, sql, params, many, context):
        counts[-1] += 1
        return execute(sql, params, many, context)

    times, status, size_bytes = [], None, 0
    for i in range(REPEAT + 1):
        counts.append(0)
        with connection.execute_wrapper(count):
            started = time.perf_counter()
            response = client.get(url)
            elapsed = (time.perf_counter() - started) * 1000
        status, size_bytes = response.status_code, len(response.content)
        if i:  # the first fetch warms caches up
            times.append(elapsed)
    row = {
        "page": label, "url": url, "members": size, "status": status,
        "ms": round(statistics.median(times), 1), "ms_max": round(max(times), 1),
        "statements": counts[-1], "kb": round(size_bytes / 1024, 1),
    }
    print(f"  {size:>7,} {label:<48} {row['ms']:>7} ms {counts[-1]:>3} stmts {row['kb']:>7} KB [{status}]",
          file=sys.stderr, flush=True)
    return row


def verdicts(rows: list[dict]) -> list[dict]:
    """Each page of the largest org against the targets and its small-org twin."""
    sizes = sorted({r["members"] for r in rows})
    small = {r["page"].split(",")[0] if r["page"].startswith("mapping preview") else r["page"]: r
             for r in rows if r["members"] == sizes[0]}
    for row in rows:
        key = row["page"].split(",")[0] if row["page"].startswith("mapping preview") else row["page"]
        twin = small.get(key)
        row["ratio"] = round(row["ms"] / twin["ms"], 2) if twin and twin["ms"] else None
        row["ok"] = (row["status"] == 200 and row["ms"] <= MAX_MS and row["kb"] <= MAX_KB
                     and (row["ratio"] is None or row["members"] == sizes[0] or row["ratio"] <= MAX_RATIO))
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| Admin page | Members | server ms (median) | max ms | SQL statements | HTML KB | x of smallest org | ok |",
             "|---|---:|---:|---:|---:|---:|---:|:---:|"]
    for r in sorted(rows, key=lambda r: (r["page"], r["members"])):
        ratio = f"{r['ratio']}" if r.get("ratio") is not None else "–"
        lines.append(f"| {r['page']} | {r['members']:,} | {r['ms']} | {r['ms_max']} | {r['statements']} | {r['kb']} | "
                     f"{ratio} | {'yes' if r.get('ok') else 'NO'} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("orgs", nargs="+", help="ORG_UID or ORG_UID:BIG_GROUP_ID, smallest org first")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
    import django

    django.setup()
    from django.conf import settings

    if "testserver" not in settings.ALLOWED_HOSTS and "*" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS.append("testserver")
    if not settings.DEBUG and not (settings.STATIC_ROOT / "staticfiles.json").exists():
        from django.core.management import call_command

        call_command("collectstatic", interactive=False, verbosity=0)  # DEBUG off serves hashed files only
    specs = []
    for spec in args.orgs:
        uid, _, group = spec.partition(":")
        specs.append((uid, int(group) if group else None))
    rows = verdicts(measure(specs))
    print(table(rows), file=sys.stderr)
    print(json.dumps({"rows": rows, "table": table(rows)}))


if __name__ == "__main__":
    main()
