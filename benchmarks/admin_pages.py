"""The admin in a browser's place: server time, SQL statements and HTML bytes of
every admin page an Owner opens, at each seeded org size.

Runs inside one Django process (the test client: the whole middleware stack and
view, no network), signed in as each org's Owner; every page is fetched once to
warm up, then REPEAT times, and the median is kept. Run alone against a seeded
database:

    DATABASE_URL=postgres://…/orgdesk_bench python -m benchmarks.admin_pages ORG_UID [ORG_UID …]

or from benchmarks/run.py, which seeds the orgs first. Prints one JSON object
on stdout (the table on stderr) and exits with BUDGET_MISS when a page misses
its budget (see verdicts()).

`--plans` also EXPLAINs (ANALYZE, BUFFERS) every SELECT a page ran on its last
fetch and records, per page, the buffers read and every sequential scan of a
table that grows with the orgs (big_tables()) that read more than WALK_ROWS
rows: benchmarks/run.py's run on orgs the planner's statistics do not know,
where a page that walks such a table is a miss at any size."""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

REPEAT = 5
# The budget of every page, at every size.
MAX_MS = 300
MAX_KB = 300
# ... and against the same page of the smallest org: at most MAX_RATIO times its
# server time, unless the difference is under MIN_SLOWER_MS (a 10 ms page that
# takes 16 ms on a busy machine is noise, not growth).
MAX_RATIO = 1.5
MIN_SLOWER_MS = 10
# Pages whose larger twin does different work by design, held to MAX_MS and
# MAX_KB only (page label, up to its first comma for the mapping preview: why).
RATIO_EXEMPT = {
    "Settings > Members, page 150": "a 1,000-member org has 21 pages: its twin is an out-of-range page",
    "mapping preview": "it counts the members of the group it previews (1,000 against 20,000): its work grows "
                       "with the group, not with the org",
}
# A sequential scan of a big table reading more rows than this is a walk (a
# table that small is rightly read whole: PostgreSQL's own choice on a small database).
WALK_ROWS = 10_000
# A page run exits with this status when a page misses its budget.
BUDGET_MISS = 3


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
        # With its Provisioning health chart (scim/health.py: 24 h and 30 days of the
        # activity benchmarks/seed.py stores, ACTIVITY_PER_MEMBER rows per member).
        ("Settings > SCIM", r("admin:org-settings-scim", uid)),
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


def big_tables() -> set[str]:
    """Tables whose rows grow with the orgs' members and activity."""
    from organizations.models import AuditEvent, Membership, MembershipEmail, StackAccess, User
    from scim.models import ProvisioningEvent, ScimGroupMember

    return {m._meta.db_table for m in (Membership, MembershipEmail, User, StackAccess, AuditEvent,
                                       ProvisioningEvent, ScimGroupMember)}


def plan_summary(connection, statements: list[tuple[str, object]], tables: set[str]) -> dict:
    """Buffers read by the page's SELECTs and the sequential scans of big tables
    among their plans (EXPLAIN ANALYZE runs each statement once more)."""
    buffers, walks, indexes = 0, [], set()
    for sql, params in statements:
        if not sql.lstrip().upper().startswith("SELECT"):
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params)
            found = cursor.fetchone()[0]
        top = (json.loads(found) if isinstance(found, str) else found)[0]["Plan"]
        buffers += top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0)
        stack = [top]
        while stack:
            node = stack.pop()
            stack.extend(node.get("Plans", []))
            relation = node.get("Relation Name")
            if relation in tables:
                read = (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)) * node.get("Actual Loops", 1)
                if node["Node Type"] == "Seq Scan" and read > WALK_ROWS:
                    walks.append(f"{relation} ({read:,} rows)")
                elif "Index Name" in node:
                    indexes.add(node["Index Name"])
    return {"buffers": buffers, "seq_scans": sorted(set(walks)), "indexes": sorted(indexes)}


def measure(specs: list[tuple[str, int | None]], *, plans_too: bool = False) -> list[dict]:
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
                rows.append(_measure_page(connection, client, size, *urls[index], plans_too=plans_too))
    return rows


def _measure_page(connection, client, size: int, label: str, url: str, *, plans_too: bool = False) -> dict:
    counts: list[int] = []
    statements: list[tuple[str, object]] = []

    def count(execute, sql, params, many, context):
        counts[-1] += 1
        if plans_too and not many:  # cleared before each fetch: the last one's are kept
            statements.append((sql, params))
        return execute(sql, params, many, context)

    times, status, size_bytes = [], None, 0
    for i in range(REPEAT + 1):
        counts.append(0)
        statements.clear()
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
    if plans_too:
        row["plan"] = plan_summary(connection, statements, big_tables())
    print(f"  {size:>7,} {label:<48} {row['ms']:>7} ms {counts[-1]:>3} stmts {row['kb']:>7} KB [{status}]",
          file=sys.stderr, flush=True)
    return row


def _key(page: str) -> str:
    """The page's name across sizes (the mapping preview names its group's size)."""
    return page.split(",")[0] if page.startswith("mapping preview") else page


def verdicts(rows: list[dict]) -> list[dict]:
    """Each page at each size against the budget (MAX_MS, MAX_KB, HTTP 200), and
    each page of a larger org against its twin in the smallest org (MAX_RATIO,
    MIN_SLOWER_MS, RATIO_EXEMPT); with plans, a sequential scan of a big table
    is a miss too. Sets `ratio`, `ok` and `why` (what missed) on every row."""
    sizes = sorted({r["members"] for r in rows})
    small = {_key(r["page"]): r for r in rows if r["members"] == sizes[0]}
    for row in rows:
        twin = small.get(_key(row["page"]))
        row["ratio"] = round(row["ms"] / twin["ms"], 2) if twin and twin["ms"] else None
        why = []
        if row["status"] != 200:
            why.append(f"HTTP {row['status']}")
        if row["ms"] > MAX_MS:
            why.append(f"{row['ms']} ms > {MAX_MS} ms")
        if row["kb"] > MAX_KB:
            why.append(f"{row['kb']} KB > {MAX_KB} KB")
        if (row["members"] != sizes[0] and row["ratio"] is not None and row["ratio"] > MAX_RATIO
                and row["ms"] - twin["ms"] >= MIN_SLOWER_MS and _key(row["page"]) not in RATIO_EXEMPT):
            why.append(f"{row['ratio']}x the {sizes[0]:,}-member org's {twin['ms']} ms > {MAX_RATIO}x")
        if row.get("plan", {}).get("seq_scans"):
            why.append("walks " + ", ".join(row["plan"]["seq_scans"]))
        row["ok"] = not why
        row["why"] = "; ".join(why)
    return rows


def misses(rows: list[dict]) -> list[str]:
    """One sentence per page that missed its budget."""
    return [f"{r['page']} at {r['members']:,} members: {r['why']}" for r in rows if not r.get("ok")]


def table(rows: list[dict]) -> str:
    plans = any("plan" in r for r in rows)
    lines = ["| Admin page | Members | server ms (median) | max ms | SQL statements | HTML KB | x of smallest org "
             + ("| buffers read | " if plans else "| ") + "ok |",
             "|---|---:|---:|---:|---:|---:|---:|" + ("---:|" if plans else "") + ":---:|"]
    for r in sorted(rows, key=lambda r: (r["page"], r["members"])):
        ratio = f"{r['ratio']}" if r.get("ratio") is not None else "–"
        if _key(r["page"]) in RATIO_EXEMPT and r.get("ratio") is not None:
            ratio += " (not held)"
        plan = f"{r['plan']['buffers']:,} | " if plans and "plan" in r else ("– | " if plans else "")
        lines.append(f"| {r['page']} | {r['members']:,} | {r['ms']} | {r['ms_max']} | {r['statements']} | {r['kb']} | "
                     f"{ratio} | {plan}{'yes' if r.get('ok') else 'NO: ' + r.get('why', '')} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("orgs", nargs="+", help="ORG_UID or ORG_UID:BIG_GROUP_ID, smallest org first")
    parser.add_argument("--plans", action="store_true",
                        help="EXPLAIN every page's SELECTs: buffers read, no sequential scan of a big table")
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
    rows = verdicts(measure(specs, plans_too=args.plans))
    print(table(rows), file=sys.stderr)
    missed = misses(rows)
    print(json.dumps({"rows": rows, "table": table(rows), "misses": missed}))
    if missed:
        sys.exit(BUDGET_MISS)


if __name__ == "__main__":
    main()
