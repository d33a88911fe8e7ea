"""The admin pages of an org grown through the SCIM API, as Okta grows one, in a
database whose statistics believe it empty.

benchmarks/run.py's run without ANALYZE seeds its orgs in bulk into the main
benchmark's database, whose statistics know a thousand orgs (the multi-tenant
import): PostgreSQL costs an org it does not know as an average one, and the
trap where it believes a new org holds a row or two never shows there. Here it
does, as on a deployment whose first large customer was analyzed before the
next one arrived:

1. a database of its own (BENCH_GROWN_DB), with one org of BASE_USERS members
   seeded in bulk and one of WARM_USERS provisioned through the API (so every
   table the API writes, invitations included, holds other orgs' rows), vacuumed
   and analyzed; then autovacuum held off on every table;
2. two orgs of 200 members seeded with no ANALYZE: the reference, and the one
   that grows;
3. the second grown to `size` members over HTTP by the production servers
   (gunicorn, a Celery worker sending the invitations), each user looked up by
   userName and then POSTed, CONCURRENCY at a time (benchmarks/multitenant.py);
4. once the growth's last calls are older than the rollup margin
   (SCIM_HEALTH_ROLLUP_MARGIN), the provisioning activity rolled up as beat does
   every minute (`manage.py rollup_provisioning_health`): the SCIM tab as an
   admin opening it a few minutes after the import sees it;
5. every admin page of both orgs timed and EXPLAINed (benchmarks/admin_pages.py
   --plans), under the same budget as the rest of the run.

Its rows are as the API leaves them: never vacuumed (no visibility map: an
index-only scan reads the table too).

Run by benchmarks/run.py (`--grown-size`, 0 skips it), or alone:
`python -m benchmarks.grown --size 20000`."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import multitenant, run  # noqa: E402  (the servers and the SCIM import of the main benchmark)

DB_NAME = os.environ.get("BENCH_GROWN_DB", "orgdesk_bench_grown")
BASE_USERS = 50_000
WARM_USERS = 2_000
START = 200


def scenario(size: int) -> dict:
    """The admin page verdicts (benchmarks/admin_pages.py) of the reference org and
    of the org grown to `size`, with how long the growth took."""
    env = run.bench_env()
    env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
    run.reset_database(env, DB_NAME)
    # The other org's people have addresses of its own domain, as another company's
    # do: the pages' searches (`bench`) name the measured orgs' domain only.
    run.seed(env, BASE_USERS, "grownbase", min(BASE_USERS, 20000), "--no-analyze", "--domain", "other.example")
    warm = run.seed(env, START, "grownwarm", START, "--no-analyze")
    grow(env, warm, WARM_USERS, numbered_from=1_000_000)  # userNames no other org uses
    run.sh("psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-d", DB_NAME, "-c", "VACUUM ANALYZE")
    run.set_autovacuum(False, DB_NAME)
    try:
        reference = run.seed(env, START, "grownref", START, "--no-analyze")
        growing = run.seed(env, START, "grown", START, "--no-analyze")
        seconds, failed = grow(env, growing, size)
        roll_up_after_margin(env, time.monotonic())
        result = run.admin_pages(env, [reference, growing], "--plans")
        result["growth"] = {"from": START, "to": size, "seconds": seconds, "failed": failed, "base": BASE_USERS}
        if failed:
            result.setdefault("misses", []).append(f"{failed} of the growth's lookups and POSTs failed")
        return result
    finally:
        run.set_autovacuum(True, DB_NAME)


def grow(env: dict[str, str], org: dict, size: int, numbered_from: int = 0) -> tuple[float, int]:
    """Grow the seeded org to `size` members as Okta does, with the production
    servers (the invitations the POSTs owe sent before they stop); (seconds, failures)."""
    procs = run.start_servers(env)
    try:
        started = time.monotonic()
        records = multitenant.import_users(f"/scim/v2/organizations/{org['org_uid']}", org["token"],
                                           numbered_from + org["users"], numbered_from + size)
        seconds = round(time.monotonic() - started, 1)
        failed = sum(1 for r in records if not r["ok"])
        print(f"grew an org from {org['users']:,} to {size:,} members through the SCIM API in {seconds} s "
              f"({failed} failed)", flush=True)
        print(f"  invitations sent in {run.wait_for_queue_drain(db=DB_NAME)} s after the growth", flush=True)
    finally:
        run.stop(procs)
    return seconds, failed


def roll_up_after_margin(env: dict[str, str], last_call: float) -> None:
    """Wait until the last calls (made by `last_call`, time.monotonic()) are older
    than the rollup margin, then roll up as beat would have by then."""
    from config.settings import SCIM_HEALTH_ROLLUP_MARGIN  # noqa: PLC0415  (the margin as deployed; no Django setup needed)

    wait = SCIM_HEALTH_ROLLUP_MARGIN + 60 - (time.monotonic() - last_call)
    if wait > 0:
        print(f"  waiting {wait:.0f} s for the growth's last calls to pass the rollup margin", flush=True)
        time.sleep(wait)
    run.sh(run.PY, "manage.py", "rollup_provisioning_health", cwd=run.ROOT, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=20000, help="members the growing org reaches")
    args = parser.parse_args()
    run.ensure_tools()
    os.chdir(ROOT)
    result = scenario(args.size)
    print(result.get("table", ""))
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}))
    if result.get("misses"):
        sys.exit(f"{len(result['misses'])} budget(s) missed")


if __name__ == "__main__":
    main()
