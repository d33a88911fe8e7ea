"""Multi-tenant import: a new org imports its users into a database other orgs fill.

1,000,000 memberships across 1,000 other orgs are bulk-loaded and analyzed: one
org of 100,000 members and one of 1,000 (the analyzed references), and 998 of
about 900. The ANALYZE runs with a statistics target of 1,000 (a usual setting
for a large database; the server's default is 100), so the statistics know every
one of those orgs. Then a fresh org imports 20,000 users through the SCIM API
over HTTP as Okta does (a `userName eq` lookup, then a POST, for each user) with
no ANALYZE in between: autovacuum re-analyzes a table only after about 10% of its
rows changed, so for the whole import the statistics know every org but the new
one, which the planner then takes for an empty one.

Lookups and POSTs are measured with wrk as in benchmarks/run.py (with the CPU
each lookup costs the app and PostgreSQL, which a busy machine disturbs less than
the rates): in the analyzed 1k org, then in the new org after its first 1,000
users and at the end of the import, each time interleaved with the analyzed 100k
org. Finally the lookup statement is EXPLAINed in the new org, next to the
statement's former shape, to show the trap is live in this database.

Alone (resets the bench database; honours BENCH_DB, BENCH_PORT, BENCH_REDIS_DB,
BENCH_QUEUE like benchmarks/run.py):
    .venv/bin/python -m benchmarks.multitenant [--users 20000] [--seconds 8]
From benchmarks/run.py: `scenario(env, seconds)` while its servers run."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import run  # noqa: E402  (the servers, wrk and the database of the main benchmark)

ORGS, MEMBERSHIPS = 1000, 1_000_000
REFERENCES = (100_000, 1_000)  # sizes of the analyzed orgs the new one is compared with
STATISTICS_TARGET = 1000  # of the ANALYZE: every other org gets its entry in the statistics
USERS = 20_000
WINDOW = 1_000  # users at the start and at the end of the import that are compared
CONCURRENCY = 4  # Okta pushes with a handful of connections
SAMPLE = 200  # userNames a wrk lookup run cycles through
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


def org_sizes(orgs: int = ORGS, memberships: int = MEMBERSHIPS) -> list[int]:
    """The references first (scaled down for a quick run), then the rest in equal shares."""
    references = [max(1, round(n * memberships / MEMBERSHIPS)) for n in REFERENCES]
    others, rest = orgs - len(references), memberships - sum(references)
    return [*references, *[rest // others + (1 if k < rest % others else 0) for k in range(others)]]


def member_name(k: int, i: int) -> str:
    return f"u{i}-t{k}@tenants.example"


# -- seeding (a subprocess with Django set up, like benchmarks/seed.py) --------------

_SEED_ORG = """
WITH u AS (
  INSERT INTO organizations_user (password, is_superuser, first_name, last_name, is_staff, is_active, date_joined, email)
  SELECT '!', false, 'U', i::text, false, true, now(), 'u' || i || '-t' || %(k)s || '@tenants.example'
  FROM generate_series(0, %(n)s - 1) AS i
  RETURNING id, email
), m AS (
  INSERT INTO organizations_membership (role, manual_role, active, scim_managed, scim_username, scim_external_id,
                                        display_name, given_name, family_name, scim_extra, created_at, updated_at,
                                        user_id, organization_id, pending, sso_exempt, invitation_due)
  SELECT 'member', 'member', true, true, u.email, '00u' || lpad(u.id::text, 12, '0'), split_part(u.email, '@', 1),
         'U', split_part(u.email, '@', 1), '{}', now(), now(), u.id, %(org)s, false, false, false
  FROM u ORDER BY u.id
  RETURNING id, scim_username
)
INSERT INTO organizations_membershipemail (value, type, "primary", display, membership_id)
SELECT m.scim_username, 'work', true, '', m.id FROM m
"""


def seed_main(orgs: int, memberships: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection

    from organizations import services
    from organizations.models import Organization
    from scim.models import AppInstallation, MarketplaceApp
    from scim.tokens import issue_token

    started = time.monotonic()
    okta = MarketplaceApp.objects.get(slug="okta-generic-scim")

    def with_token(org: Organization) -> str:
        org.scim_enabled = True
        org.save(update_fields=["scim_enabled"])
        return issue_token(AppInstallation.objects.create(organization=org, app=okta)).secret

    sizes = org_sizes(orgs, memberships)
    tenants = Organization.objects.bulk_create([Organization(name=f"Tenant {k}") for k in range(len(sizes))])
    with connection.cursor() as cursor:
        for k, (org, n) in enumerate(zip(tenants, sizes)):
            cursor.execute(_SEED_ORG, {"k": k, "n": n, "org": org.pk})
    references = []
    for k, n in enumerate(sizes[: len(REFERENCES)]):
        step = max(1, n // SAMPLE)
        references.append({"label": f"analyzed {n:,}", "users": n, "org_uid": tenants[k].uid,
                           "token": with_token(tenants[k]),
                           "usernames": [member_name(k, i) for i in range(0, n, step)][:SAMPLE]})
    with connection.cursor() as cursor:
        cursor.execute(f"SET default_statistics_target = {STATISTICS_TARGET}")
        cursor.execute("VACUUM ANALYZE")  # the other orgs, as autovacuum would have left them
        cursor.execute("RESET default_statistics_target")
    # Created after the ANALYZE: the statistics know nothing of this org.
    fresh = services.create_organization("Newco", owner_email="owner@newco.example", actor=None)
    print(json.dumps({
        "references": references,
        "fresh": {"org_uid": fresh.uid, "token": with_token(fresh)},
        "orgs": len(sizes), "memberships": sum(sizes), "seed_seconds": round(time.monotonic() - started, 1),
    }))


def seed(env: dict[str, str], orgs: int = ORGS, memberships: int = MEMBERSHIPS) -> dict:
    out = run.run_module(env, "benchmarks.multitenant", "seed", "--orgs", str(orgs), "--memberships", str(memberships))
    info = json.loads(out.strip().splitlines()[-1])
    print(f"seeded {info['memberships']:,} memberships across {info['orgs']:,} orgs, analyzed, "
          f"in {info['seed_seconds']} s", flush=True)
    return info


# -- the import, as Okta does it ---------------------------------------------------------


def new_user(i: int) -> dict:
    name = f"user{i}@newco.example"
    return {"schemas": [USER_SCHEMA], "userName": name, "name": {"givenName": "New", "familyName": f"User {i}"},
            "emails": [{"value": name, "type": "work", "primary": True}], "displayName": f"New User {i}", "active": True}


def import_users(base: str, token: str, first: int, stop: int) -> list[dict]:
    """Users first..stop-1: lookup by userName (none found), then POST; one record each."""
    local = threading.local()

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=run.HOST, timeout=60, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"})
        return local.client

    def one(i: int) -> dict:
        body = new_user(i)
        started = time.monotonic()
        found = client().get(f"{base}/Users", params={"filter": f'userName eq "{body["userName"]}"',
                                                      "startIndex": 1, "count": 100})
        looked = time.monotonic()
        created = client().post(f"{base}/Users", json=body)
        done = time.monotonic()
        ok = found.status_code == 200 and found.json()["totalResults"] == 0 and created.status_code == 201
        return {"i": i, "start": started, "end": done, "lookup_ms": (looked - started) * 1000,
                "post_ms": (done - looked) * 1000, "ok": ok}

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        return list(pool.map(one, range(first, stop)))


def timeline(records: list[dict], bins: int = 40) -> list[dict]:
    """The import in bins of users (in the order they were imported): users/s
    and median lookup and POST latency per bin, for benchmarks/plot.py."""
    size = max(1, len(records) // bins)
    out = []
    for start in range(0, len(records), size):
        part = records[start : start + size]
        if len(part) < size // 2:  # a short tail says little
            break
        figures = {k: v for k, v in window(part).items() if k not in ("errors", "users")}
        out.append({"users": start + len(part), **figures})  # users imported by the end of the bin
    return out


def window(records: list[dict]) -> dict:
    seconds = max(r["end"] for r in records) - min(r["start"] for r in records)
    lookups = sorted(r["lookup_ms"] for r in records)
    posts = sorted(r["post_ms"] for r in records)
    return {"users": len(records), "users_per_s": round(len(records) / seconds, 1),
            "lookup_p50_ms": round(lookups[len(lookups) // 2], 2), "post_p50_ms": round(posts[len(posts) // 2], 2),
            "errors": sum(not r["ok"] for r in records)}


# -- measurements ---------------------------------------------------------------------


def _mean(runs: list[dict]) -> dict:
    """wrk figures averaged over runs (CPU per request included)."""
    out = {key: round(sum(r[key] for r in runs) / len(runs), 2) for key in ("rps", "p50_ms", "p95_ms")}
    out["errors"] = sum(r["errors"] for r in runs)
    cpu = [r["cpu_ms_per_request"] for r in runs if r.get("cpu_ms_per_request")]
    if cpu:
        out["cpu_ms"] = {group: round(sum(c[group] for c in cpu) / len(cpu), 3) for group in cpu[0]}
    out["runs"] = runs
    return out


def _row(label: str, users: int, analyzed: bool, lookups: list[dict], post: dict) -> dict:
    row = {"label": label, "users": users, "analyzed": analyzed, "lookup": _mean(lookups), "post": _mean([post])}
    cpu = row["lookup"].get("cpu_ms", {})
    print(f"  {label:<40} {users:>7,} users  lookups {row['lookup']['rps']:>7} /s (p50 {row['lookup']['p50_ms']} ms, "
          f"CPU app {cpu.get('app')} + PG {cpu.get('postgres')} ms)  POST {post['rps']:>7} /s (p50 {post['p50_ms']} ms)  "
          f"errors {row['lookup']['errors'] + post['errors']}", flush=True)
    return row


def checkpoint(label: str, users: int, new: dict, names: list[str], reference: dict, seconds: int) -> list[dict]:
    """Lookups in the new org and in the analyzed reference org, interleaved
    (reference, new, new, reference) so that a machine getting busier or quieter
    weighs on both alike; then a POST run in each (each adds users to its org)."""
    def lookup(org: dict, usernames: list[str]) -> dict:
        return run.measured("username_lookup", seconds, token=org["token"], base=f"/scim/v2/organizations/{org['org_uid']}",
                            args=usernames)

    def post(org: dict) -> dict:
        return run.measured("post_user", seconds, token=org["token"], base=f"/scim/v2/organizations/{org['org_uid']}")

    ref_runs = [lookup(reference, reference["usernames"])]
    new_runs = [lookup(new, names), lookup(new, names)]
    ref_runs.append(lookup(reference, reference["usernames"]))
    return [_row(label, users, False, new_runs, post(new)),
            _row(f"{reference['label']}, at the same time", reference["users"], True, ref_runs, post(reference))]


# The lookup as benchmarks/run.py's 2026-11-30 runs sent it (scim/api/user_rows.py before
# its point-lookup rewrite, see benchmarks/README.md), without the e-mail and group columns, which run for the matched row only.
FORMER_LOOKUP = (
    "SELECT id FROM organizations_membership WHERE id IN (SELECT id FROM organizations_membership "
    "WHERE organization_id = %s AND LOWER(scim_username) = LOWER(%s) ORDER BY id ASC LIMIT 100 OFFSET 0) ORDER BY id ASC"
)


def explain_main(org_uid: str, user_name: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection

    from organizations.models import Membership, Organization
    from scim.api import user_rows

    org = Organization.objects.get(uid=org_uid)

    def plan(sql: str, params: list) -> dict:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params)
            found = cursor.fetchone()[0]
        found = (json.loads(found) if isinstance(found, str) else found)[0]
        nodes, stack = [], [found["Plan"]]
        while stack:
            node = stack.pop()
            nodes.append(node)
            stack.extend(node.get("Plans", []))
        top = found["Plan"]
        return {"buffers": top["Shared Hit Blocks"] + top["Shared Read Blocks"], "ms": round(found["Execution Time"], 3),
                "indexes": sorted({n["Index Name"] for n in nodes
                                   if n.get("Relation Name") == "organizations_membership" and "Index Name" in n})}

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) SELECT 1 FROM organizations_membership WHERE organization_id = %s", [org.pk])
        estimate = cursor.fetchone()[0]
    estimate = (json.loads(estimate) if isinstance(estimate, str) else estimate)[0]["Plan"]["Plan Rows"]
    current = user_rows._member_sql(connection.vendor, "username", False, True)
    print(json.dumps({
        "members": Membership.objects.filter(organization=org).count(),
        "planner_estimate": estimate,
        "lookup": plan(current, [org.pk, user_name]),
        "former_lookup": plan(FORMER_LOOKUP, [org.pk, user_name]),
    }))


def explain(env: dict[str, str], org_uid: str, user_name: str) -> dict:
    out = run.run_module(env, "benchmarks.multitenant", "explain", "--org", org_uid, "--username", user_name)
    return json.loads(out.strip().splitlines()[-1])


def scenario(env: dict[str, str], seconds: int, users: int = USERS, orgs: int = ORGS,
             memberships: int = MEMBERSHIPS) -> dict:
    """Seed the other orgs, then import into a fresh one; the servers must be up."""
    info = seed(env, orgs, memberships)
    fresh = info["fresh"]
    base = f"/scim/v2/organizations/{fresh['org_uid']}"
    results: dict = {"orgs": info["orgs"], "memberships": info["memberships"], "seed_seconds": info["seed_seconds"],
                     "users": users, "concurrency": CONCURRENCY, "seconds_per_op": seconds, "rows": []}
    large, small = info["references"]
    base_small = f"/scim/v2/organizations/{small['org_uid']}"
    results["rows"].append(_row(small["label"], small["users"], True,
                                [run.measured("username_lookup", seconds, token=small["token"], base=base_small,
                                              args=small["usernames"])],
                                run.measured("post_user", seconds, token=small["token"], base=base_small)))

    started = time.monotonic()
    head = import_users(base, fresh["token"], 0, WINDOW)
    import_seconds = time.monotonic() - started
    names = [new_user(i)["userName"] for i in range(0, WINDOW, max(1, WINDOW // SAMPLE))]
    # Each imported user queued an invitation e-mail: the checkpoint waits for the
    # worker to finish them, else it measures the backlog, not the lookups.
    results["drain_seconds"] = [run.wait_for_queue_drain()]
    results["rows"] += checkpoint("new org, start of import", WINDOW, fresh, names, large, seconds)
    resumed = time.monotonic()
    rest = import_users(base, fresh["token"], WINDOW, users)
    import_seconds += time.monotonic() - resumed
    names = [new_user(i)["userName"] for i in range(0, users, max(1, users // SAMPLE))]
    results["drain_seconds"].append(run.wait_for_queue_drain())
    results["rows"] += checkpoint("new org, end of import", users, fresh, names, large, seconds)

    records = head + rest
    results["import"] = {"seconds": round(import_seconds, 1), "start": window(records[:WINDOW]),
                         "end": window(records[-WINDOW:]), "errors": sum(not r["ok"] for r in records),
                         "timeline": timeline(records)}
    print(f"  import of {users:,} users: { {k: v for k, v in results['import'].items() if k != 'timeline'} }",
          flush=True)
    results["explain"] = explain(env, fresh["org_uid"], new_user(users - 1)["userName"])
    print(f"  EXPLAIN in the new org: {results['explain']}", flush=True)
    results["verdict"] = verdict(results)
    print(f"  {results['verdict']}", flush=True)
    return results


def verdict(results: dict) -> dict:
    """The targets: end-of-import lookups within 1.2x of the start, and
    within 1.5x of the analyzed 100k org (measured next to them)."""
    rows = results["rows"]
    start, start_ref, end, end_ref = (row["lookup"]["rps"] for row in rows[1:5])
    return {"start_over_end": round(start / end, 2), "reference_over_end": round(end_ref / end, 2),
            "reference_over_start": round(start_ref / start, 2),
            "met": start / end <= 1.2 and end_ref / end <= 1.5}


def table(results: dict) -> str:
    check = results["verdict"]
    lines = ["| Org | Users | Statistics | `userName eq` lookups/s | p50 ms | CPU ms/lookup: app + PostgreSQL "
             "| POST /Users per s | p50 ms |",
             "|---|---:|---|---:|---:|---:|---:|---:|"]
    for row in results["rows"]:
        stats = "analyzed" if row["analyzed"] else "do not know the org"
        cpu = row["lookup"].get("cpu_ms", {})
        lines.append(f"| {row['label']} | {row['users']:,} | {stats} | {row['lookup']['rps']:,} | {row['lookup']['p50_ms']} | "
                     f"{cpu.get('app', 0):.2f} + {cpu.get('postgres', 0):.2f} | {row['post']['rps']:,} | {row['post']['p50_ms']} |")
    imp, exp = results["import"], results["explain"]
    lines += [
        "",
        f"Import of {results['users']:,} users ({results['concurrency']} connections, a lookup then a POST each): "
        f"{imp['seconds']} s; the first {imp['start']['users']:,} at {imp['start']['users_per_s']} users/s "
        f"(lookup p50 {imp['start']['lookup_p50_ms']} ms, POST p50 {imp['start']['post_p50_ms']} ms), the last "
        f"{imp['end']['users']:,} at {imp['end']['users_per_s']} users/s (lookup p50 {imp['end']['lookup_p50_ms']} ms, "
        f"POST p50 {imp['end']['post_p50_ms']} ms); {imp['errors']} errors.",
        f"Lookups at the start over the end: {check['start_over_end']}x (target ≤ 1.2x); the analyzed 100k org over "
        f"the end of the import: {check['reference_over_end']}x (target ≤ 1.5x; {check['reference_over_start']}x at the "
        f"start): {'met' if check['met'] else 'NOT met'}.",
        f"At the end the planner estimates the new org at {exp['planner_estimate']:,} row{'s' if exp['planner_estimate'] != 1 else ''} "
        f"(it holds {exp['members']:,}). "
        f"The lookup reads {exp['lookup']['buffers']} buffers in {exp['lookup']['ms']} ms through "
        f"{', '.join(f'`{i}`' for i in exp['lookup']['indexes'])}; its former shape would read "
        f"{exp['former_lookup']['buffers']:,} buffers in {exp['former_lookup']['ms']} ms through "
        f"{', '.join(f'`{i}`' for i in exp['former_lookup']['indexes'])}.",
        f"\n{results['memberships']:,} memberships across {results['orgs']:,} other orgs seeded and analyzed in "
        f"{results['seed_seconds']} s; wrk {results['seconds_per_op']} s per figure, {run.CONNECTIONS} connections; "
        f"the POST runs add users to their org. Run on {results.get('date', dt.date.today().isoformat())}, "
        f"{os.cpu_count()} cores.",
    ]
    return "\n".join(lines)


def write_readme(results: dict) -> None:
    readme = run.BENCH / "README.md"
    text = readme.read_text()
    start, end = "<!-- multitenant:start -->", "<!-- multitenant:end -->"
    if start in text and end in text:
        readme.write_text(text.split(start)[0] + start + "\n" + table(results) + "\n" + end + text.split(end)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    seeding = sub.add_parser("seed")
    seeding.add_argument("--orgs", type=int, default=ORGS)
    seeding.add_argument("--memberships", type=int, default=MEMBERSHIPS)
    explaining = sub.add_parser("explain")
    explaining.add_argument("--org", required=True)
    explaining.add_argument("--username", required=True)
    parser.add_argument("--seconds", type=int, default=8, help="wrk duration per figure")
    parser.add_argument("--users", type=int, default=USERS)
    parser.add_argument("--orgs", type=int, default=ORGS, help="other orgs (a quick run: fewer)")
    parser.add_argument("--memberships", type=int, default=MEMBERSHIPS, help="their memberships")
    args = parser.parse_args()
    if args.command == "seed":
        return seed_main(args.orgs, args.memberships)
    if args.command == "explain":
        return explain_main(args.org, args.username)

    run.ensure_tools()
    env = run.bench_env()
    os.chdir(ROOT)
    run.reset_database(env)
    procs = run.start_servers(env)
    try:
        results = scenario(env, args.seconds, args.users, args.orgs, args.memberships)
    finally:
        run.stop(procs)
    results["date"] = dt.date.today().isoformat()
    path = run.BENCH / "results" / f"{dt.datetime.now().strftime('%Y-%m-%dT%H%M')}-multitenant.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    write_readme(results)
    print(f"\n{table(results)}\n\nwrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
