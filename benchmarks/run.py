"""One command for the scale benchmark (see benchmarks/README.md).

PostgreSQL + gunicorn (config/gunicorn.py, as production runs it) + a Celery
worker on Redis; wrk drives HTTP load from separate processes. Prints a table with every operation's
req/s as a ratio to the bare Django view of the same run, checks the ratio
targets (benchmarks/targets.py) and the admin page budgets
(benchmarks/admin_pages.py, on analyzed orgs and on orgs the planner's
statistics do not know), writes benchmarks/results/<stamp>.json, the figure
benchmarks/results/<stamp>.svg (and latest.svg) and the README's results
table; then exits non-zero naming every miss, unless --no-fail.

BENCH_GUNICORN_EXTRA adds options to gunicorn's command line, for a comparison
run (`--max-requests 0`: no worker recycled during the run)."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":  # run as a script: the package is importable from the repository root
    sys.path.insert(0, str(ROOT))
    from benchmarks import grown, multitenant
from benchmarks import admin_pages as admin_budget  # noqa: E402
from benchmarks import targets  # noqa: E402
BENCH = ROOT / "benchmarks"
PY = sys.executable
# Overridable so that a run can share a machine with other work (its own database,
# port, Redis database and queue); the Celery broker's database is never flushed.
PORT = int(os.environ.get("BENCH_PORT", "8199"))
HOST = f"http://127.0.0.1:{PORT}"
DB_NAME = os.environ.get("BENCH_DB", "orgdesk_bench")
REDIS_DB = os.environ.get("BENCH_REDIS_DB", "12")
BROKER_DB = os.environ.get("BENCH_BROKER_DB", "13")
QUEUE = os.environ.get("BENCH_QUEUE", "orgdesk_bench")
CONNECTIONS = 8


def sh(*cmd: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, text=True, **kw)


def ensure_tools() -> None:
    if shutil.which("wrk") is None:
        print("installing wrk (Debian package)…", flush=True)
        subprocess.run("apt-get update -qq && apt-get install -y -qq wrk", shell=True, check=True)
    if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"]).returncode != 0:
        sys.exit("PostgreSQL is not listening on 127.0.0.1:5432")
    if subprocess.run(["redis-cli", "-h", "127.0.0.1", "ping"], capture_output=True).returncode != 0:
        sys.exit("Redis is not listening on 127.0.0.1:6379")


def bench_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
        REDIS_URL=f"redis://127.0.0.1:6379/{REDIS_DB}",
        CELERY_BROKER_URL=f"redis://127.0.0.1:6379/{BROKER_DB}",
        CELERY_QUEUE=QUEUE,
        DEBUG="0",
        SECRET_KEY="benchmark-only-secret-key-" + "x" * 40,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        PUBLIC_BASE_URL=HOST,
        QUERY_COUNT_HEADER="1",
        # Longer than the run: a backend that exits mid-measurement would take
        # its CPU time out of the per-request figures.
        CONN_MAX_AGE="900",
        LOG_LEVEL="WARNING",
        # Every SCIM-created member is invited: the worker renders and "sends" each
        # e-mail to its log. (Without it the default SMTP server is refused and
        # every invitation retries, which the figures then measured.)
        EMAIL_URL="console:",
        # The rate limiter runs (its Redis roundtrip is part of every request's
        # cost) with limits high enough never to refuse the load generator.
        SCIM_RATE_LIMIT_PER_MINUTE="100000000",
        SCIM_RATE_LIMIT_BURST="10000000",
    )
    return env


def reset_database(env: dict[str, str], db: str = DB_NAME) -> None:
    sh("dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "--force", db)
    sh("createdb", "-h", "127.0.0.1", "-U", "postgres", db)
    sh(PY, "manage.py", "migrate", "--noinput", "-v0", cwd=ROOT, env=env)
    subprocess.run(["redis-cli", "-n", REDIS_DB, "flushdb"], capture_output=True)
    subprocess.run(["redis-cli", "-n", BROKER_DB, "del", QUEUE], capture_output=True)  # tasks left by a previous run


def run_module(env: dict[str, str], module: str, *args: str) -> str:
    """`python -m module args` with Django set up by the module; its stdout, or
    an error that carries the end of what it printed to stderr."""
    out = subprocess.run([PY, "-m", module, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return out.stdout


def set_invitations(env: dict[str, str], infos: list[dict], enabled: bool) -> None:
    """The orgs' "Send invitations to provisioned members" switch, as an Owner
    flips it on Settings > Sign-in (saving the org makes every server process
    forget its remembered token row, so the next request sees the switch)."""
    uids = [info["org_uid"] for info in infos]
    script = (
        "from organizations.models import Organization\n"
        "from organizations.signin.invitations import set_invite_provisioned_members\n"
        f"for org in Organization.objects.filter(uid__in={uids!r}):\n"
        f"    set_invite_provisioned_members(org, {enabled!r}, actor=None)\n"
    )
    subprocess.run([PY, "manage.py", "shell", "-c", script], cwd=ROOT, env=env, check=True, capture_output=True)


def wait_for_queue_drain(timeout: float = 600, db: str = DB_NAME) -> float:
    """Seconds spent waiting until the Celery queue is empty (tasks a burst of
    writes queued, such as invitation e-mails), so a measurement that follows
    is not sharing the cores with that backlog."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        out = subprocess.run(["redis-cli", "-n", BROKER_DB, "llen", QUEUE], capture_output=True, text=True)
        if out.stdout.strip() in ("0", "") and owed_invitations(db) == 0:
            time.sleep(2)  # the few tasks the worker prefetched
            break
        time.sleep(1)
    return round(time.monotonic() - started, 1)


def owed_invitations(db: str = DB_NAME) -> int:
    """Memberships whose invitation a write owed and the worker has not built yet
    (the queue can be empty while the worker is still working through them)."""
    out = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qAt", "-d", db, "-c",
                          "SELECT count(*) FROM organizations_membership WHERE invitation_due"],
                         capture_output=True, text=True)
    return int(out.stdout.strip() or 0)


def seed(env: dict[str, str], users: int, label: str, big: int, *extra: str) -> dict:
    out = run_module(env, "benchmarks.seed", "--users", str(users), "--groups", "1000", "--big-group", str(big),
                     "--label", label, *extra)
    info = json.loads(out.strip().splitlines()[-1])
    print(f"seeded {label}: {users} users, {info['groups']} groups (largest {info['big_group_members']}) "
          f"in {info['seed_seconds']} s", flush=True)
    return info


def start_servers(env: dict[str, str]) -> list[subprocess.Popen]:
    workers = os.cpu_count() or 2
    logs = BENCH / ".work"
    logs.mkdir(exist_ok=True)
    # gunicorn as production runs it (the Dockerfile, compose.yaml): its config file,
    # so its worker count (GUNICORN_WORKERS, by default 2 x cores + 1), worker
    # recycling and preloading; only the address, the log level and a timeout long
    # enough for the largest group's GET are set here.
    web = subprocess.Popen(
        [str(Path(PY).parent / "gunicorn"), "-c", "config/gunicorn.py", "config.wsgi", "-b", f"127.0.0.1:{PORT}",
         "--log-level", "warning", "--timeout", "120", *os.environ.get("BENCH_GUNICORN_EXTRA", "").split()],
        cwd=ROOT, env=env, stdout=open(logs / "gunicorn.log", "w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    worker = subprocess.Popen(
        [PY, "-m", "celery", "-A", "config", "worker", "-Q", QUEUE, "-c", str(workers), "--loglevel", "WARNING"],
        cwd=ROOT, env=env, stdout=open(logs / "celery.log", "w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{HOST}/healthz", timeout=2).status_code == 200:
                return [web, worker]
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not come up; see benchmarks/.work/gunicorn.log")


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def run_wrk(op: str, seconds: int, *, token: str = "", base: str = "", args: list = (), extra: list = ()) -> dict:
    env = dict(os.environ, BENCH_OP=op, BENCH_TOKEN=token, BENCH_BASE=base, BENCH_DIR=str(BENCH),
               BENCH_ARGS=",".join(map(str, args)), BENCH_EXTRA=",".join(map(str, extra)))
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(CONNECTIONS), "-d", f"{seconds}s", "--timeout", "10s",
         "-s", str(BENCH / "scenario.lua"), HOST],
        env=env, capture_output=True, text=True, check=True,
    )
    line = next(l for l in out.stdout.splitlines() if l.startswith("WRKJSON "))
    data = json.loads(line[len("WRKJSON "):])
    secs = data["duration_us"] / 1e6
    return {
        "rps": round(data["requests"] / secs, 1),
        "p50_ms": round(data["p50_us"] / 1000, 2),
        "p95_ms": round(data["p95_us"] / 1000, 2),
        "p99_ms": round(data["p99_us"] / 1000, 2),
        "max_ms": round(data["max_us"] / 1000, 2),
        "requests": data["requests"],
        "errors": data["errors"],
    }


def queries_for(client: httpx.Client, method: str, url: str, **kw) -> int | None:
    response = client.request(method, url, **kw)
    if response.status_code >= 400:
        print(f"  ! {method} {url} -> {response.status_code} {response.text[:200]}", flush=True)
    value = response.headers.get("X-Query-Count")
    return int(value) if value is not None else None


def full_import(client: httpx.Client, base: str) -> dict:
    started = time.monotonic()
    start, pages, total, seen = 1, 0, None, 0
    while True:
        r = client.get(f"{base}/Users", params={"startIndex": start, "count": 100})
        r.raise_for_status()
        body = r.json()
        total = body["totalResults"]
        seen += len(body["Resources"])
        pages += 1
        start += 100
        if start > total or not body["Resources"]:
            break
    seconds = time.monotonic() - started
    return {"seconds": round(seconds, 1), "pages": pages, "users_seen": seen, "total": total,
            "pages_per_s": round(pages / seconds, 1)}


def mapping_change(env: dict[str, str], info: dict) -> dict:
    """Map the largest group to Developer on every stack; time until all members hold it."""
    script = f"""
import time, json
from organizations.models import Organization, StackAccess, AccessSource, StackRole
from scim.models import ScimGroup
from mappings import services
from mappings.models import RecomputeJob
org = Organization.objects.get(uid={info['org_uid']!r})
group = ScimGroup.objects.get(pk={info['big_group_id']})
role = StackRole.objects.get(organization=None, name="Developer")
started = time.monotonic()
services.save_mapping(org, group, org_role="member", stack_roles={{}}, all_stacks_role=role, actor=None)
active_members = group.members.filter(active=True).count()
expected = active_members * {len(info['stack_ids'])}
while time.monotonic() - started < 300:
    have = StackAccess.objects.filter(membership__scim_groups=group, membership__active=True, role=role,
                                      source=AccessSource.SCIM).count()
    if have >= expected:
        break
    time.sleep(0.25)
print(json.dumps({{"seconds": round(time.monotonic() - started, 1), "members": {info['big_group_members']},
                  "grants_applied": have, "grants_expected": expected}}))
"""
    out = subprocess.run([PY, "manage.py", "shell", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"}
    row = json.loads(out.stdout.strip().splitlines()[-1])
    if row["grants_applied"] < row["grants_expected"]:
        row["error"] = f"not applied within 300 s ({row['grants_applied']} of {row['grants_expected']} grants)"
    return row


def worker_peak_rss_mb(web: subprocess.Popen) -> float:
    children = subprocess.run(["pgrep", "-P", str(web.pid)], capture_output=True, text=True).stdout.split()
    peak = 0
    for pid in children:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except FileNotFoundError:
            continue
    return round(peak / 1024, 1)


# (what the command line contains, group): this run's processes only (the machine may run
# other servers and databases); Redis is shared, its figure counts every client.
CPU_GROUPS = ((f"-b 127.0.0.1:{PORT} ", "app"), (f": postgres {DB_NAME} ", "postgres"),
              ("redis-server", "redis"), (f"-Q {QUEUE} ", "worker"))


def cpu_seconds() -> dict[int, tuple[str, float]]:
    """CPU time (user + system) used so far by each process of the groups, by pid,
    with that of its children that exited and were waited for (a gunicorn worker
    recycled by max_requests is the master's, a Celery pool process its parent's)."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, tuple[str, float]] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        for needle, group in CPU_GROUPS:
            if needle in cmdline:
                found[int(pid)] = (group, sum(int(v) for v in fields[11:15]) / tick)  # utime stime cutime cstime
                break
    return found


def measured(op: str, seconds: int, **kw) -> dict:
    """wrk's figures plus the CPU milliseconds each process group spent per
    request. A process that exits during the run (a recycled gunicorn worker)
    brings its whole life's CPU to its parent's count when it is waited for:
    what it had used before the run, counted then under its own pid, is taken
    off again. (A PostgreSQL backend is the postmaster's child, which is not
    counted: one that exits mid-run takes its share with it; CONN_MAX_AGE
    outlasts the run.)"""
    before = cpu_seconds()
    result = run_wrk(op, seconds, **kw)
    after = cpu_seconds()
    spent: dict[str, float] = {group: 0.0 for _, group in CPU_GROUPS}
    for pid, (group, cpu) in after.items():
        spent[group] += cpu - before.get(pid, (group, 0.0))[1]
    for pid, (group, cpu) in before.items():
        if pid not in after and group in ("app", "worker"):
            spent[group] -= cpu
    if result["requests"]:
        result["cpu_ms_per_request"] = {group: round(cpu / result["requests"] * 1000, 3) for group, cpu in spent.items()}
    return result


def settle(seconds: int = 3, timeout: float = 90) -> None:
    """Before the first measurement: every gunicorn worker has served requests
    (its first ones open connections and fill per-process caches) and the Celery
    worker has finished starting, so neither is measured as part of the bare
    view, which every ratio divides by. Waits until the servers' CPU use is flat."""
    run_wrk("bare", seconds)
    started = time.monotonic()
    before = cpu_seconds()
    while time.monotonic() - started < timeout:
        time.sleep(1)
        after = cpu_seconds()
        busy = sum(cpu - before.get(pid, (group, 0.0))[1] for pid, (group, cpu) in after.items()
                   if group in ("app", "worker"))
        before = after
        if busy < 0.05:  # under 5% of a core for a second
            return


def probe_queries(client: httpx.Client, op: str, base: str, info: dict, probe) -> int | None:
    """Queries one request of the operation runs (X-Query-Count)."""
    size = info["users"]
    if probe:
        return queries_for(client, *probe[:2])
    if op in ("post_user", "post_user_no_invite"):
        name = f"probe-{size}-{time.time()}@x.example"
        return queries_for(client, "POST", f"{base}/Users", json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
            "emails": [{"value": name, "primary": True}], "active": True})
    if op == "put_user":
        uid = info["sample_user_ids"][0]
        return queries_for(client, "PUT", f"{base}/Users/{uid}", json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"u-put-{uid}@bench.example",
            "name": {"givenName": "Q", "familyName": str(time.time())}, "active": True})
    if op == "patch_deactivate":
        uid = info["sample_user_ids"][150]
        patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}
        queries_for(client, "PATCH", f"{base}/Users/{uid}", json={**patch, "Operations": [{"op": "replace", "value": {"active": True}}]})
        return queries_for(client, "PATCH", f"{base}/Users/{uid}", json={**patch, "Operations": [{"op": "replace", "value": {"active": False}}]})
    if op in ("group_patch_100", "group_patch_100_mapped"):  # remove, then measure an add that really adds the 100
        members = [{"value": str(i)} for i in info["non_member_ids"][:100]]
        patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}
        group = info["small_group_id"] if op == "group_patch_100" else info["mapped_group_id"]
        url = f"{base}/Groups/{group}"
        queries_for(client, "PATCH", url, json={**patch, "Operations": [{"op": "remove", "path": "members", "value": members}]})
        return queries_for(client, "PATCH", url, json={**patch, "Operations": [{"op": "add", "path": "members", "value": members}]})
    return None


def operations(info: dict) -> list[tuple]:
    base = f"/scim/v2/organizations/{info['org_uid']}"
    q_lookup = urllib.parse.quote(f'userName eq "{info["sample_usernames"][0]}"')
    q_external = urllib.parse.quote(f'externalId eq "{info["sample_external_ids"][0]}"')
    return [
        ("connector_test", "GET /Users?startIndex=1&count=2", {}, ("GET", f"{base}/Users?startIndex=1&count=2")),
        ("username_lookup", "GET /Users?filter=userName eq", {"args": info["sample_usernames"]},
         ("GET", f"{base}/Users?filter={q_lookup}&startIndex=1&count=100")),
        ("externalid_lookup", "GET /Users?filter=externalId eq", {"args": info["sample_external_ids"]},
         ("GET", f"{base}/Users?filter={q_external}&startIndex=1&count=100")),
        ("get_user", "GET /Users/{id}", {"args": info["sample_user_ids"][:100]},
         ("GET", f"{base}/Users/{info['sample_user_ids'][0]}")),
        ("put_user", "PUT /Users/{id}", {"args": info["sample_user_ids"][:100]}, None),
        ("patch_deactivate", "PATCH /Users/{id} active false/true", {"args": info["sample_user_ids"][100:200]}, None),
        ("group_patch_100", "PATCH /Groups/{id} ±100 members",
         {"args": info["non_member_ids"][:100], "extra": [info["small_group_id"]]}, None),
        # The same on a mapped group: each request changes the access of 100 members
        # (roles, stack grants, one audit entry each), the most a push can cost.
        ("group_patch_100_mapped", "PATCH /Groups/{mapped} ±100 members (all change access)",
         {"args": info["non_member_ids"][:100], "extra": [info["mapped_group_id"]]}, None),
        ("big_group_no_members", "GET /Groups/{big}?excludedAttributes=members",
         {"extra": [info["big_group_id"]]}, ("GET", f"{base}/Groups/{info['big_group_id']}?excludedAttributes=members")),
        # Last: every POST adds a user, so the orgs grow past their seeded size from here on.
        # First with the org's invitations off (SSO: no invitation, no e-mail task),
        # then on (the default: an invitation and an e-mail task per user).
        ("post_user_no_invite", "POST /Users, invitations off", {}, None),
        ("post_user", "POST /Users, invitations on", {}, None),
    ]


def measure_operations(env: dict[str, str], infos: list[dict], seconds: int, bare: float | None,
                       only: set[str] | None = None) -> list[dict]:
    """Each operation at every size in turn (1k, 100k, then the next operation),
    so that a machine getting busier or quieter during the run weighs on both
    sizes alike instead of skewing their ratio."""
    rows = []
    clients = {
        info["users"]: httpx.Client(base_url=HOST, timeout=120, headers={
            "Authorization": f"Bearer {info['token']}", "Content-Type": "application/scim+json"})
        for info in infos
    }
    for k in range(len(operations(infos[0]))):
        op = operations(infos[0])[k][0]
        if only and op not in only:
            continue
        if op.startswith("post_user"):  # what earlier writes queued (access recomputes) is done
            wait_for_queue_drain()
        if op == "post_user_no_invite":
            set_invitations(env, infos, False)
        for info in infos:
            op, label, kw, probe = operations(info)[k]
            base = f"/scim/v2/organizations/{info['org_uid']}"
            result = measured(op, seconds, token=info["token"], base=base, **kw)
            queries = probe_queries(clients[info["users"]], op, base, info, probe)
            rows.append({"operation": label, "op": op, "size": info["users"], "queries": queries, **result})
            x_bare = targets.ratio(result["rps"], bare)
            print(f"  {label:<48} {info['users']:>7} {result['rps']:>9} rps  x{x_bare}  p50 {result['p50_ms']:>8} ms  "
                  f"p95 {result['p95_ms']:>8}  p99 {result['p99_ms']:>8}  q={queries}  errors={result['errors']}  "
                  f"cpu ms/req {result.get('cpu_ms_per_request')}", flush=True)
        if op == "post_user_no_invite":
            set_invitations(env, infos, True)
        if op == "post_user":  # the invitations it owed are sent before anything else is measured
            print(f"  invitations sent in {wait_for_queue_drain()} s after the POST run", flush=True)
    for info in infos if not only else ():
        imp = full_import(clients[info["users"]], f"/scim/v2/organizations/{info['org_uid']}")
        rows.append({"operation": "full import (count=100, every page)", "op": "full_import", "size": info["users"], **imp})
        print(f"  full import ({info['users']}): {imp}", flush=True)
    for client in clients.values():
        client.close()
    return rows


def admin_pages(env: dict[str, str], infos: list[dict], *extra: str) -> dict:
    """Every admin page at each size, signed in as the Owner (benchmarks/admin_pages.py);
    its verdicts include the pages that missed their budget."""
    orgs = [f"{info['org_uid']}:{info['big_group_id']}" for info in infos]
    out = subprocess.run([PY, "-m", "benchmarks.admin_pages", *extra, *orgs], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    if out.returncode not in (0, admin_budget.BUDGET_MISS) or not out.stdout.strip():
        print(out.stderr[-2000:], flush=True)
        return {"error": out.stderr[-500:], "misses": [f"the admin page run failed: {out.stderr.strip()[-300:]}"]}
    print(out.stderr.split("\n| Admin page")[0][-20000:], flush=True)  # its progress lines (the table comes below)
    return json.loads(out.stdout.strip().splitlines()[-1])


# Tables whose statistics the run without ANALYZE must not see refreshed: autovacuum
# analyzes a table once about a tenth of its rows changed, which a 20,000-member
# org added to a 100,000-member database would reach mid-run.
def set_autovacuum(enabled: bool, db: str = DB_NAME) -> None:
    action = "RESET (autovacuum_enabled)" if enabled else "SET (autovacuum_enabled = false)"
    sql = (f"DO $$ DECLARE t text; BEGIN FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
           f"LOOP EXECUTE format('ALTER TABLE %I {action}', t); END LOOP; END $$")
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-d", db, "-c", sql], check=True)


def unanalyzed_admin_pages(env: dict[str, str], sizes: list[int], big_group: int) -> dict:
    """The admin pages of orgs the planner's statistics do not know: fresh orgs
    seeded after the last ANALYZE (members, groups, activity, audit trail) with
    autovacuum held off, at a small and a large size; each page's time and
    statement plans (EXPLAIN ANALYZE: no whole-table walk, buffers read) under
    the same budget as the analyzed run."""
    set_autovacuum(False)
    try:
        infos = [seed(env, n, f"fresh{n}", min(big_group, n), "--no-analyze") for n in sizes]
        return admin_pages(env, infos, "--plans")
    finally:
        set_autovacuum(True)


def _cell(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if value < 1 else f"{value:.2f}"


def results_table(results: dict, verdicts: list[targets.Verdict]) -> list[str]:
    """The operations table (console and README): every rate with its ratio to the
    bare view of this run, and the target verdict where the operation has one."""
    lines = ["| Operation | Users (seeded) | req/s | x of bare view | target (x) | ok | p50 ms | p95 ms | p99 ms "
             "| SQL statements/req (savepoints included) | CPU ms/req: app + PostgreSQL + Redis |",
             "|---|---:|---:|---:|---:|:---:|---:|---:|---:|---:|---:|"]
    for row in results["rows"]:
        if "rps" in row:
            cpu = row.get("cpu_ms_per_request") or {}
            split = f"{cpu.get('app', 0):.2f} + {cpu.get('postgres', 0):.2f} + {cpu.get('redis', 0):.2f}" if cpu else "–"
            target = targets.TARGETS.get(row.get("op"))
            lines.append(
                f"| {row['operation']} | {row['size']:,} | {row['rps']:,} | {_cell(row.get('x_bare'))} | "
                f"{'≥ ' + str(target.min_ratio) if target else ''} | {targets.mark(row, verdicts)} | {row['p50_ms']} | "
                f"{row['p95_ms']} | {row['p99_ms']} | {row['queries'] if row['queries'] is not None else '–'} | {split} |")
    for row in results["rows"]:
        if row.get("op") == "full_import":
            lines.append(f"| full import, {row['pages']} pages of 100 | {row['size']:,} | {row['pages_per_s']} pages/s | "
                         f"| | | total {row['seconds']} s | | | | |")
    for row in results.get("mapping", []):
        outcome = f"FAILED: {row['error']}" if row.get("error") else f"total {row['seconds']} s"
        lines.append(f"| mapping change on a {row.get('members', '?'):,}-member group (until applied) | {row['size']:,} | | "
                     f"| | | {outcome} | | | | |")
    return lines


def all_misses(results: dict, verdicts: list[targets.Verdict]) -> list[str]:
    """Every miss of the run, one sentence each: ratio targets, then admin page budgets."""
    missed = [f"ratio: {v.sentence()}" for v in targets.misses(verdicts)]
    for key, what in (("admin_pages", "admin page"), ("admin_pages_unanalyzed", "admin page without ANALYZE"),
                      ("admin_pages_grown", "admin page of an org grown through the SCIM API")):
        missed += [f"{what}: {m}" for m in (results.get(key) or {}).get("misses", [])]
    return missed


def write_results(results: dict, verdicts: list[targets.Verdict], *, readme: bool = True) -> tuple[Path, Path]:
    day = dt.date.today().isoformat()
    # One file per run (a second run the same day must not overwrite the first).
    stamp = dt.datetime.now().strftime('%Y-%m-%dT%H%M')
    path = BENCH / "results" / f"{stamp}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    from benchmarks import plot  # matplotlib: loaded when the figure is drawn

    figure = plot.draw(results, BENCH / "results" / f"{stamp}.svg", note=results.get("note", ""))
    lines = results_table(results, verdicts)
    if results.get("bare_after"):
        lines.append(f"\nThe bare view measured again after the operations: {results['bare_after']['rps']:,} req/s "
                     f"(ratios divide by the first measurement, {targets.bare_rps(results['rows']):,} req/s).")
    lines.append(f"\nPeak RSS of a gunicorn worker after GET of the largest group with members: "
                 f"{results.get('peak_worker_rss_mb')} MB. Run on {day}, {os.cpu_count()} cores. "
                 f"Figure: `results/{figure.name}` (below).")
    if results.get("admin_pages", {}).get("table"):
        lines.append("\nAdmin pages, signed in as the Owner (server time in-process, median of 5):\n")
        lines.append(results["admin_pages"]["table"])
    if results.get("admin_pages_unanalyzed", {}).get("table"):
        lines.append("\nThe same pages in orgs grown after the last ANALYZE (the planner's statistics do not know "
                     "them; autovacuum held off), with the buffers their statements read:\n")
        lines.append(results["admin_pages_unanalyzed"]["table"])
    grown = results.get("admin_pages_grown") or {}
    if grown.get("table"):
        growth = grown["growth"]
        lines.append(f"\nThe same pages of an org grown from {growth['from']:,} to {growth['to']:,} members through the "
                     f"SCIM API (a lookup and a POST per user, {growth['seconds']} s), in a database whose statistics "
                     f"know one analyzed org of {growth['base']:,} and believe the new one empty, nothing vacuumed "
                     f"(benchmarks/grown.py), against an org of {growth['from']:,} seeded beside it:\n")
        lines.append(grown["table"])
    if readme and results.get("multitenant"):
        results["multitenant"]["date"] = day
        multitenant.write_readme(results["multitenant"])
    table = "\n".join(lines)
    print("\n" + table, flush=True)
    text = (BENCH / "README.md").read_text()
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    if readme and start in text and end in text:
        text = text.split(start)[0] + start + "\n" + table + "\n" + end + text.split(end)[1]
        (BENCH / "README.md").write_text(text)
    return path, figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=8, help="wrk duration per operation")
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--big-group", type=int, default=20000)
    parser.add_argument("--no-multitenant", dest="multitenant", action="store_false",
                        help="skip the multi-tenant import (benchmarks/multitenant.py)")
    parser.add_argument("--tenant-users", type=int, default=multitenant.USERS,
                        help="users the multi-tenant import adds to the new org")
    parser.add_argument("--tenant-memberships", type=int, default=multitenant.MEMBERSHIPS,
                        help="memberships of the other orgs in the multi-tenant import")
    parser.add_argument("--unanalyzed-sizes", default="200,20000",
                        help="org sizes of the admin page run without ANALYZE ('' skips it)")
    parser.add_argument("--grown-size", type=int, default=20000,
                        help="members of the org grown through the SCIM API (benchmarks/grown.py; 0 skips it)")
    parser.add_argument("--no-fail", dest="fail", action="store_false",
                        help="exit 0 even when a target or a budget is missed (exploratory runs)")
    parser.add_argument("--no-readme", dest="readme", action="store_false",
                        help="leave the README's tables as they are (the JSON and the figure are still written)")
    parser.add_argument("--ops", default="",
                        help="only these operations, comma-separated op names (a quick run: no import, mapping or admin pages)")
    parser.add_argument("--note", default="", help="a line for the figure's title and the JSON (what this run is)")
    args = parser.parse_args()
    ensure_tools()
    env = bench_env()
    os.chdir(ROOT)
    started = time.monotonic()
    sizes = [int(s) for s in args.sizes.split(",")]
    only = {op.strip() for op in args.ops.split(",") if op.strip()} or None
    reset_database(env)
    infos = [seed(env, n, f"s{n}", min(args.big_group, n)) for n in sizes]
    procs = start_servers(env)
    results: dict = {"date": dt.date.today().isoformat(), "cores": os.cpu_count(), "connections": CONNECTIONS,
                     "seconds_per_op": args.seconds, "note": args.note, "rows": [], "mapping": [], "seeding": {},
                     "targets": {t.op: {"name": t.name, "min_ratio": t.min_ratio} for t in targets.TARGETS.values()}}
    try:
        settle()
        bare = measured("bare", args.seconds)
        results["rows"].append({"operation": "bare Django JSON view (ceiling)", "op": "bare", "size": 0, "queries": 0, **bare})
        print(f"  bare view: {bare}", flush=True)
        bare_db = measured("bare_db", args.seconds)
        results["rows"].append({"operation": "bare view + one `SELECT 1` (/readyz)", "op": "bare_db", "size": 0,
                                "queries": 1, **bare_db})
        print(f"  bare view + SELECT 1: {bare_db}", flush=True)
        for info in infos:
            results["seeding"][info["users"]] = info["seed_seconds"]
        results["rows"].extend(measure_operations(env, infos, args.seconds, bare["rps"], only))
        bare_after = measured("bare", args.seconds)
        results["bare_after"] = bare_after  # the ceiling again: how much the machine drifted during the run
        print(f"  bare view again: {bare_after}", flush=True)
        with httpx.Client(base_url=HOST, timeout=120) as client:
            big = infos[-1]
            r = client.get(f"/scim/v2/organizations/{big['org_uid']}/Groups/{big['big_group_id']}",
                           headers={"Authorization": f"Bearer {big['token']}"})
            results["big_group_get_with_members"] = {"status": r.status_code, "bytes": len(r.content)}
        results["peak_worker_rss_mb"] = worker_peak_rss_mb(procs[0])
        for info in infos if not only else ():
            row = mapping_change(env, info)
            row["size"] = info["users"]
            results["mapping"].append(row)
            print(f"  mapping change ({info['users']}): {row}", flush=True)
        if args.multitenant and not only:  # last: it adds 1,000,000 memberships to the database
            results["multitenant"] = multitenant.scenario(env, args.seconds, users=args.tenant_users,
                                                          memberships=args.tenant_memberships)
    finally:
        stop(procs)
    # The operations above wrote tens of thousands of rows (the mapping change alone
    # 60,000 grants): statistics as autovacuum leaves them a minute later, else the
    # planner guesses a few hundred rows where there are 20,000.
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-d", DB_NAME, "-c", "VACUUM ANALYZE"], check=True)
    if not only:
        results["admin_pages"] = admin_pages(env, infos)
    # Then orgs grown after that ANALYZE, which the statistics do not know.
    unanalyzed = [int(s) for s in args.unanalyzed_sizes.split(",") if s.strip() and not only]
    if unanalyzed:
        results["admin_pages_unanalyzed"] = unanalyzed_admin_pages(env, unanalyzed, args.big_group)
    if args.grown_size and not only:  # last: it drops the Redis cache and starts servers on the same port
        results["admin_pages_grown"] = grown.scenario(args.grown_size)
    targets.with_ratios(results["rows"])
    verdicts = targets.check(results["rows"], sizes,
                             {op: t for op, t in targets.TARGETS.items() if not only or op in only})
    results["verdicts"] = [vars(v) for v in verdicts]
    results["misses"] = all_misses(results, verdicts)
    results["total_seconds"] = round(time.monotonic() - started, 1)
    path, figure = write_results(results, verdicts, readme=args.readme and not only)
    print(f"\nwrote {path.relative_to(ROOT)} and {figure.relative_to(ROOT)} (copied to results/latest{figure.suffix}) "
          f"in {results['total_seconds']} s")
    if results["misses"]:
        print(f"\n{len(results['misses'])} missed:", *(f"  - {m}" for m in results["misses"]), sep="\n")
        if args.fail:
            sys.exit(f"make bench: {len(results['misses'])} target(s) or budget(s) missed (--no-fail to explore)")
    else:
        print("\nevery ratio target and admin page budget met")


if __name__ == "__main__":
    main()
