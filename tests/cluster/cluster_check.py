"""`make cluster-check`: two web nodes, one worker and beat on one PostgreSQL and
one Redis, and the properties a multi-node deployment needs, proved with
requests that alternate between the nodes. Prints each property it proved;
exits non-zero at the first one that does not hold.

Nodes A and B are gunicorn servers (2 workers each, production settings) on
loopback ports; the worker and beat are Celery processes. The database is a
fresh one made for this run and dropped after it. Redis: the cache and the
broker on the given databases (nothing is flushed: every key this run makes
is its own or expires). Settings (environment):

  CLUSTER_PG            postgres://postgres@127.0.0.1:5432 (server; a database is made on it)
  CLUSTER_REDIS_URL     redis://127.0.0.1:6379/7
  CLUSTER_BROKER_URL    redis://127.0.0.1:6379/12
  CLUSTER_QUEUE         orgdesk_cluster
  CLUSTER_PORTS         8106,8107,8108 (nodes A and B; the third for a node that recycles its worker)
"""
from __future__ import annotations

import html
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PG = os.environ.get("CLUSTER_PG", "postgres://postgres@127.0.0.1:5432").rstrip("/")
REDIS_URL = os.environ.get("CLUSTER_REDIS_URL", "redis://127.0.0.1:6379/7")
BROKER_URL = os.environ.get("CLUSTER_BROKER_URL", "redis://127.0.0.1:6379/12")
QUEUE = os.environ.get("CLUSTER_QUEUE", "orgdesk_cluster")
PORT_A, PORT_B, PORT_C = (int(p) for p in (os.environ.get("CLUSTER_PORTS", "8106,8107,8108").split(",") + ["8108"])[:3])
DB_NAME = f"orgdesk_cluster_{os.getpid()}"
PASSWORD = "cluster-check-" + secrets.token_urlsafe(8)
OWNER = "owner@cluster.example"
SCIM_JSON = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
RATE_LIMIT = 300  # per installation per minute, on every node together
LOCKOUT = 6  # bad tokens per address per minute, on every node together
BIG_GROUP = 4000  # members: a mapping change over ACCESS_SYNC_LIMIT runs on the worker, in batches of 500
IMPORT_USERS = 60
METRICS_TOKEN = secrets.token_urlsafe(16)

TMP = Path(tempfile.mkdtemp(prefix="orgdesk-cluster-"))
ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_", "SCIM_", "PROMETHEUS_"))},
    "DATABASE_URL": f"{PG}/{DB_NAME}",
    "REDIS_URL": REDIS_URL,
    "CELERY_BROKER_URL": BROKER_URL,
    "CELERY_QUEUE": QUEUE,
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "PUBLIC_BASE_URL": f"http://127.0.0.1:{PORT_A}",
    "SECURE_SSL_REDIRECT": "false",
    "STATIC_ROOT": str(TMP / "static"),
    "CELERY_BEAT_SCHEDULE_FILENAME": str(TMP / "beat-schedule"),
    "SCIM_ACTIVITY_PRUNE_SECONDS": "2",
    "SCIM_RATE_LIMIT_PER_MINUTE": str(RATE_LIMIT),
    "SCIM_RATE_LIMIT_BURST": "0",
    "SCIM_AUTH_FAILURES_PER_MINUTE": str(LOCKOUT),
    "ACCESS_SYNC_LIMIT": "200",
    "LOG_FORMAT": "json",
    "TRUSTED_PROXY_COUNT": "1",
    "METRICS_BEARER_TOKEN": METRICS_TOKEN,
    "CACHE_KEY_PREFIX": f"cluster-{os.getpid()}-{secrets.token_hex(4)}",
    "LOG_LEVEL": "WARNING",
}
os.environ.update(ENV)
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
sys.path.insert(0, str(ROOT))

processes: dict[str, subprocess.Popen] = {}
proved: list[str] = []


class CheckFailed(Exception):
    pass


def check(condition: bool, what: str) -> None:
    if not condition:
        raise CheckFailed(what)


def prove(what: str) -> None:
    proved.append(what)
    print(f"  PROVED {len(proved)}: {what}", flush=True)


def step(what: str) -> None:
    print(f"- {what}", flush=True)


# --- processes ---------------------------------------------------------------


def start(name: str, args: list[str], **env: str) -> subprocess.Popen:
    log = open(TMP / f"{name}.log", "wb")
    proc = subprocess.Popen(args, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    processes[name] = proc
    return proc


def start_node(name: str, port: int) -> None:
    """Two gunicorn workers; their metrics meet in the node's own directory."""
    start(name, [str(BIN / "gunicorn"), "-c", "config/gunicorn.py", "config.wsgi",
                 "--bind", f"127.0.0.1:{port}", "--workers", "2", "--graceful-timeout", "5"],
          PROMETHEUS_MULTIPROC_DIR=str(TMP / f"metrics-{name}"))


def kill(name: str, sig: int = signal.SIGTERM) -> None:
    proc = processes.get(name)
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)  # the server and its workers
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def stop_all() -> None:
    for name in list(processes):
        kill(name)


def tail(name: str, lines: int = 15) -> str:
    path = TMP / f"{name}.log"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


# --- HTTP ----------------------------------------------------------------------


class Response:
    def __init__(self, status: int, headers, body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def http(method: str, port: int, path: str, *, body=None, headers=None, timeout: float = 30) -> Response:
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                     headers=headers or {})
    try:
        with OPENER.open(request, timeout=timeout) as reply:
            return Response(reply.status, reply.headers, reply.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, error.headers, error.read())


class Scim:
    """One org's SCIM API as an IdP sees it, through a chosen node."""

    def __init__(self, org_uid: str, token: str, client_ip: str = "198.51.100.10") -> None:
        self.base, self.token, self.client_ip = f"/scim/v2/organizations/{org_uid}", token, client_ip

    def call(self, port: int, method: str, path: str, body=None, token: str | None = None, **kw) -> Response:
        # As nginx would: the nodes trust one proxy hop (TRUSTED_PROXY_COUNT=1).
        headers = {"Authorization": f"Bearer {token or self.token}", "Accept": SCIM_JSON,
                   "X-Forwarded-For": self.client_ip}
        if body is not None:
            headers["Content-Type"] = SCIM_JSON
        return http(method, port, self.base + path, body=body, headers=headers, **kw)


class AdminSession:
    """An admin signed in on one node; production cookies are Secure, and this
    check speaks plain HTTP on loopback, so the cookies are kept by hand."""

    def __init__(self, port: int) -> None:
        self.port, self.cookies = port, {}

    def request(self, method: str, path: str, form: dict | None = None) -> Response:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            form = {**form, "csrfmiddlewaretoken": self.cookies.get("csrftoken", "")}
            body = urllib.parse.urlencode(form, doseq=True).encode()
            headers.update({"Content-Type": "application/x-www-form-urlencoded",
                            "Origin": f"http://127.0.0.1:{self.port}", "Referer": f"http://127.0.0.1:{self.port}{path}"})
        reply = http(method, self.port, path, body=body, headers=headers)
        for cookie in reply.headers.get_all("Set-Cookie") or []:
            name, _, rest = cookie.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return reply

    def sign_in(self) -> None:
        self.request("GET", "/admin/login/")
        reply = self.request("POST", "/admin/login/", {"username": OWNER, "password": PASSWORD, "next": "/admin/"})
        check(reply.status == 302 and "sessionid" in self.cookies, f"sign-in on :{self.port} failed ({reply.status})")


def wait_until(what: str, predicate, timeout: float = 60, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise CheckFailed(f"timed out waiting for {what}")


def node_up(port: int) -> bool:
    try:
        return http("GET", port, "/readyz", timeout=2).status == 200
    except OSError:
        return False


# --- the database --------------------------------------------------------------


def admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def create_database() -> None:
    admin_sql(f'CREATE DATABASE "{DB_NAME}"')


def drop_database() -> None:
    try:
        from django.db import connections

        connections.close_all()
    except Exception:
        pass
    admin_sql(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def forget_queue() -> None:
    """Tasks beat sent after the worker stopped would wait for the next run."""
    import redis

    client = redis.Redis.from_url(BROKER_URL)
    client.delete(QUEUE, *(QUEUE + suffix for suffix in ("\x06\x163", "\x06\x166", "\x06\x169")))
    cache = redis.Redis.from_url(REDIS_URL)
    for key in cache.scan_iter(os.environ["CACHE_KEY_PREFIX"] + ":*"):
        cache.delete(key)


def seed() -> dict:
    """Orgs, owner, SCIM installations and a large group, written directly."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", verbosity=0, interactive=False)
    from organizations import services as org_services
    from organizations.models import Membership, User
    from scim.models import MarketplaceApp, ScimGroup, ScimGroupMember
    from scim.installations import enable_scim, install_app

    org = org_services.create_organization("Cluster Co", owner_email=OWNER, owner_password=PASSWORD, actor=None)
    owner = User.objects.get(email=OWNER)
    enable_scim(org, actor=owner)
    installation, issued = install_app(org, MarketplaceApp.objects.get(slug="okta-generic-scim"), actor=owner)
    other = org_services.create_organization("Busy Co", owner_email=OWNER, actor=None)
    enable_scim(other, actor=owner)
    _, other_issued = install_app(other, MarketplaceApp.objects.get(slug="okta-generic-scim"), actor=owner)
    recycled = org_services.create_organization("Recycle Co", owner_email=OWNER, actor=None)
    enable_scim(recycled, actor=owner)
    _, recycled_issued = install_app(recycled, MarketplaceApp.objects.get(slug="okta-generic-scim"), actor=owner)

    users = User.objects.bulk_create(User(email=f"bulk{i}@cluster.example") for i in range(BIG_GROUP))
    members = Membership.objects.bulk_create(
        Membership(organization=org, user=u, scim_username=u.email) for u in users
    )
    group = ScimGroup.objects.create(organization=org, display_name="Everyone")
    ScimGroupMember.objects.bulk_create(ScimGroupMember(group=group, membership=m) for m in members)
    return {
        "org": org.uid, "token": issued.secret, "installation": installation.pk,
        "other_org": other.uid, "other_token": other_issued.secret, "group": group.pk,
        "recycled_org": recycled.uid, "recycled_token": recycled_issued.secret,
    }


# --- the properties ------------------------------------------------------------


def token_rotation(world: dict, admin_a: AdminSession) -> str:
    scim = Scim(world["org"], world["token"])
    for _ in range(6):  # warm both nodes' per-process token caches with the old token
        check(scim.call(PORT_B, "GET", "/Users?count=1").status == 200, "old token refused before rotation")
        check(scim.call(PORT_A, "GET", "/Users?count=1").status == 200, "old token refused before rotation")
    path = f"/admin/orgs/{world['org']}/marketplace/installations/{world['installation']}/regenerate/"
    posted = admin_a.request("POST", path, {"token": world["token"].split("_")[1]})  # the prefix it replaces
    check(posted.status == 302, f"regenerating through node A failed ({posted.status})")
    reply = admin_a.request("GET", posted.headers["Location"])  # Post/Redirect/Get: the token page shows it once
    match = re.search(r'id="secret-token" value="([^"]+)"', reply.text)
    check(reply.status == 200 and match is not None, f"the token page on node A showed no token ({reply.status})")
    new_token = match.group(1)
    first = scim.call(PORT_B, "GET", "/Users?count=1")
    check(first.status == 401, f"node B accepted the old token right after rotation ({first.status})")
    for _ in range(5):
        check(scim.call(PORT_B, "GET", "/Users?count=1").status == 401, "a node B worker still accepts the old token")
    check(scim.call(PORT_B, "GET", "/Users?count=1", token=new_token).status == 200, "node B refused the new token")
    prove("a token regenerated through node A (admin, HTTP) is refused by node B on the very next request; "
          "the new one works there")
    return new_token


def until_refused(client: Scim, limit: int) -> tuple[int, int, Response]:
    """Alternate A and B until one refuses; (accepted, the node that refused, its reply).
    Counted per node, the two would accept about twice the limit."""
    for sent in range(2 * limit + 10):
        port = PORT_A if sent % 2 else PORT_B
        reply = client.call(port, "GET", "/Users?count=1")
        if reply.status == 429:
            return sent, port, reply
    raise CheckFailed(f"{2 * limit + 10} requests alternating A/B and none refused")


def shared_limits(world: dict) -> None:
    # A sliding minute: across a minute boundary a few more may pass than the limit.
    busy = Scim(world["other_org"], world["other_token"])
    accepted, port, refused = until_refused(busy, RATE_LIMIT)
    check(RATE_LIMIT * 0.9 <= accepted <= RATE_LIMIT * 1.1,
          f"{accepted} requests passed alternating A/B; the shared limit is {RATE_LIMIT}")
    other = busy.call(PORT_B if port == PORT_A else PORT_A, "GET", "/Users?count=1")
    check(other.status == 429, f"the other node answered {other.status} once the limit was reached")
    check(all(int(r.headers["Retry-After"]) >= 1 for r in (refused, other)), "429 without Retry-After")
    prove(f"the per-installation rate limit is shared: {accepted} requests alternating A/B used up the "
          f"{RATE_LIMIT}/min budget, then both nodes answer 429 with Retry-After")

    bad = Scim(world["org"], "odk_deadbeef_not-a-real-token", client_ip="203.0.113.66")
    failures, port, _ = until_refused(bad, LOCKOUT)
    check(LOCKOUT <= failures <= LOCKOUT + 1, f"{failures} bad tokens alternating A/B before the lockout, "
          f"expected {LOCKOUT}")
    other = bad.call(PORT_B if port == PORT_A else PORT_A, "GET", "/Users")
    check(other.status == 429, f"the other node answered {other.status} to a locked-out client")
    neighbour = Scim(world["org"], "odk_deadbeef_not-a-real-token", client_ip="203.0.113.67")
    check(neighbour.call(PORT_A, "GET", "/Users").status == 401, "another client behind the proxy was locked out too")
    prove(f"the bad-token lockout is shared: {failures} bad tokens alternating A/B lock the client out on both; "
          "the client is told apart by X-Forwarded-For through the one trusted proxy hop")


def write_a_read_b(world: dict, token: str) -> None:
    scim = Scim(world["org"], token)
    created = scim.call(PORT_A, "POST", "/Users", {
        "schemas": [USER_SCHEMA], "userName": "ada@cluster.example", "active": True,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": "ada@cluster.example", "primary": True}],
    })
    check(created.status == 201, f"POST through A: {created.status} {created.text[:200]}")
    user_id = created.json()["id"]
    read = scim.call(PORT_B, "GET", f"/Users/{user_id}")
    check(read.status == 200 and read.json()["userName"] == "ada@cluster.example", f"GET through B: {read.status}")
    found = scim.call(PORT_B, "GET", "/Users?filter=" + urllib.parse.quote('userName eq "ada@cluster.example"'))
    check(found.json()["totalResults"] == 1, "B's lookup by userName missed the user A wrote")
    patched = scim.call(PORT_A, "PATCH", f"/Users/{user_id}", {
        "schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "value": {"name.familyName": "King"}}],
    })
    check(patched.status == 200, f"PATCH through A: {patched.status}")
    again = scim.call(PORT_B, "GET", f"/Users/{user_id}")
    check(again.json()["name"]["familyName"] == "King", "B read a stale name after A's PATCH")
    prove("a user written through node A (POST, then PATCH) is read through node B at once, by id and by filter")


def metrics_of_node(world: dict, token: str) -> None:
    """Each gunicorn worker is its own process; any one of them answering the
    scrape must report the whole node (multiprocess mode)."""
    scim = Scim(world["org"], token)

    def scrape() -> float:
        reply = http("GET", PORT_B, "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        check(reply.status == 200, f"/metrics with the token: {reply.status}")
        for line in reply.text.splitlines():
            if line.startswith("orgdesk_scim_requests_total{") and 'operation="GET group"' in line \
                    and 'status="404"' in line:
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    check(http("GET", PORT_B, "/metrics").status == 403, "/metrics without the token was not refused")
    before = scrape()
    sent = 30
    for _ in range(sent):  # spread over both workers of node B
        check(scim.call(PORT_B, "GET", "/Groups/999999999").status == 404, "unknown group was not 404")
    counts = {scrape() - before for _ in range(8)}
    check(counts == {sent}, f"scrapes of node B saw {sorted(counts)} of the {sent} requests")
    prove(f"/metrics of a node adds up its gunicorn workers: every scrape of node B (2 workers) counts all {sent} "
          "SCIM requests by operation and status; without the bearer token it is 403")


def mapping_on_worker(world: dict, admin_a: AdminSession, admin_b: AdminSession) -> None:
    from mappings.models import RecomputeJob
    from organizations.models import Membership, OrgRole

    save = f"/admin/orgs/{world['org']}/mappings/save/"
    form = {"group": str(world["group"]), "org_role": OrgRole.ADMIN, "all_stacks_role": ""}
    posted = admin_a.request("POST", save, form)  # the admin sees what will change, then confirms it
    check(posted.status == 302, f"the mapping change through A was not sent to its preview: {posted.status}")
    preview = admin_a.request("GET", posted.headers["Location"])  # Post/Redirect/Get: the preview is a GET
    confirm = re.search(r'<form[^>]*id="mapping-preview-form".*?</form>', preview.text, re.S)
    check(preview.status == 200 and confirm is not None, f"the mapping preview through A: {preview.status}")
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', confirm.group(0)))
    fields.pop("csrfmiddlewaretoken", None)
    check("fingerprint" in fields, "the preview's Confirm carries no fingerprint")
    reply = admin_a.request("POST", save, {k: html.unescape(v) for k, v in fields.items()})
    check(reply.status == 302, f"confirming the mapping through A: {reply.status}")
    job = wait_until("the recompute job", lambda: RecomputeJob.objects.filter(organization__uid=world["org"]).first(),
                     timeout=10)
    seen: list[tuple[str, int, int]] = []

    def progress():
        doc = admin_b.request("GET", f"/admin/orgs/{world['org']}/mappings/jobs/").json()
        for item in doc["jobs"]:
            state = (item["status"], item["done"], item["total"])
            if not seen or seen[-1] != state:
                seen.append(state)
        job.refresh_from_db()
        return job.status == RecomputeJob.Status.DONE and not doc["jobs"]

    wait_until("the worker to finish the job", progress, timeout=180, interval=0.05)
    check(seen, "node B never showed the job in progress")
    check(job.done == job.total == BIG_GROUP, f"job ended at {job.done}/{job.total}")
    admins = Membership.objects.filter(organization__uid=world["org"], scim_username__startswith="bulk",
                                       role=OrgRole.ADMIN).count()
    check(admins == BIG_GROUP, f"{admins} of {BIG_GROUP} members got the mapped role")
    shown = ", ".join(f"{s} {d}/{t}" for s, d, t in seen)
    prove(f"a mapping change saved through node A ({BIG_GROUP} members) ran on the worker; node B showed its "
          f"progress ({shown}) until done; every member got the role")


def kill_mid_import(world: dict, token: str) -> None:
    """Okta pushes users (4 at a time) through the balancer; node A dies
    (SIGKILL, server and workers) mid-way; what failed is retried as Okta does:
    the same POST again (on B), a 409 answered by a lookup of the userName."""
    scim = Scim(world["org"], token)
    names = [f"import{i:03d}@cluster.example" for i in range(IMPORT_USERS)]
    acked_by_a: list[str] = []
    retried: list[str] = []
    lock = threading.Lock()
    killed = threading.Event()
    killers: list[threading.Thread] = []

    def body(name: str) -> dict:
        return {"schemas": [USER_SCHEMA], "userName": name, "active": True,
                "name": {"givenName": "Imp", "familyName": name.split("@")[0]},
                "emails": [{"value": name, "primary": True}]}

    def push(index: int, name: str) -> str:
        port = PORT_A if index % 2 == 0 and not killed.is_set() else PORT_B
        try:
            reply = scim.call(port, "POST", "/Users", body(name), timeout=10)
            if reply.status == 201:
                if port == PORT_A:
                    with lock:
                        acked_by_a.append(name)
                        if len(acked_by_a) == IMPORT_USERS // 6:
                            killers.append(threading.Thread(target=kill, args=("node-a", signal.SIGKILL)))
                            killers[0].start()
                            killed.set()
                return "created"
            failure = f"HTTP {reply.status}"
        except OSError as exc:
            failure = type(exc).__name__
        with lock:
            retried.append(f"{name}: {failure}")
        # Okta's retry, through the balancer, which now sends it to B.
        for _ in range(5):
            again = scim.call(PORT_B, "POST", "/Users", body(name), timeout=10)
            if again.status == 201:
                return "created on retry"
            if again.status == 409:
                found = scim.call(PORT_B, "GET", "/Users?filter=" + urllib.parse.quote(f'userName eq "{name}"'))
                if found.status == 200 and found.json()["totalResults"] == 1:
                    return "found on retry"
            time.sleep(0.2)
        return "lost"

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(push, range(IMPORT_USERS), names))
    for killer in killers:
        killer.join()
    check(killed.is_set() and processes["node-a"].poll() is not None, "node A was not killed mid-import")
    check("lost" not in outcomes, f"users Okta could not push even by retrying: {outcomes.count('lost')}")
    listed = scim.call(PORT_B, "GET", "/Users?count=200&filter=" + urllib.parse.quote('userName sw "import"'))
    doc = listed.json()
    by_name = {u["userName"]: u for u in doc["Resources"]}
    check(doc["totalResults"] == IMPORT_USERS and sorted(by_name) == names,
          f"B lists {doc['totalResults']} imported users, expected {IMPORT_USERS} exactly once each")
    check(all(name in by_name for name in acked_by_a), "a user node A acknowledged is missing")
    incomplete = [n for n, u in by_name.items() if [e["value"] for e in u.get("emails", [])] != [n]
                  or u["name"]["familyName"] != n.split("@")[0]]
    check(not incomplete, f"half-written users: {incomplete[:5]}")
    prove(f"node A SIGKILLed mid-import ({len(acked_by_a)} users acknowledged by A, {len(retried)} request(s) failed "
          f"in flight or after): with Okta's retries through B all {IMPORT_USERS} users exist once, complete; "
          "nothing A acknowledged was lost")


def beat_prunes(world: dict) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from organizations.models import Organization
    from scim.models import ProvisioningEvent

    org = Organization.objects.get(uid=world["org"])
    old = timezone.now() - timedelta(days=400)
    rows = ProvisioningEvent.objects.bulk_create(
        ProvisioningEvent(organization=org, method="GET", path="/old", status=200, duration_ms=1) for _ in range(25)
    )
    ProvisioningEvent.objects.filter(pk__in=[r.pk for r in rows]).update(created_at=old)
    fresh = ProvisioningEvent.objects.create(organization=org, method="GET", path="/new", status=200, duration_ms=1)
    wait_until("beat's pruning on the worker",
               lambda: not ProvisioningEvent.objects.filter(created_at__lt=timezone.now() - timedelta(days=300)).exists(),
               timeout=60, interval=0.5)
    check(ProvisioningEvent.objects.filter(pk=fresh.pk).exists(), "pruning deleted a fresh activity row")
    prove("beat schedules activity pruning and the worker runs it: 25 expired activity rows pruned, "
          "none of the fresh ones")


def recycled_workers_keep_activity(world: dict) -> None:
    """A worker recycled by max_requests leaves without the interpreter's
    finalization (config/gunicorn.py, worker_exit): what it registered to run at
    exit still runs, so the reads' activity it held is written."""
    from organizations.models import Organization
    from scim.models import ProvisioningEvent

    start("node-c", [str(BIN / "gunicorn"), "-c", "config/gunicorn.py", "config.wsgi",
                     "--bind", f"127.0.0.1:{PORT_C}", "--workers", "1", "--max-requests", "20",
                     "--max-requests-jitter", "0", "--graceful-timeout", "5"],
          PROMETHEUS_MULTIPROC_DIR=str(TMP / "metrics-node-c"),
          SCIM_ACTIVITY_READ_DELAY="600")  # reads are held until 100 wait or the worker leaves
    wait_until(f"node :{PORT_C} to be ready", lambda: node_up(PORT_C), timeout=60)
    scim = Scim(world["recycled_org"], world["recycled_token"])
    sent = 50
    for _ in range(sent):
        reply = scim.call(PORT_C, "GET", "/Users?count=1")
        check(reply.status == 200, f"a read on node C answered {reply.status}")
    kill("node-c")  # the last worker leaves as the server stops
    booted = (TMP / "node-c.log").read_text(errors="replace").count("Booting worker")
    check(booted >= 3, f"node C booted {booted} worker(s) for {sent} requests at 20 each")
    org = Organization.objects.get(uid=world["recycled_org"])
    written = ProvisioningEvent.objects.filter(organization=org, method="GET", status=200).count()
    check(written == sent, f"{written} of the {sent} reads' activity entries were written by the recycled workers")
    prove(f"a worker recycled by max_requests writes the activity it held: {sent} reads on a node recycling its "
          f"worker every 20 requests ({booted} workers), {written} entries")


def main() -> int:
    started = time.monotonic()
    print(f"cluster-check: nodes :{PORT_A} (A) and :{PORT_B} (B), a Celery worker and beat, "
          f"PostgreSQL database {DB_NAME}, Redis {REDIS_URL} (broker {BROKER_URL}, queue {QUEUE}); logs in {TMP}")
    create_database()
    try:
        step("migrating and seeding (2 orgs, 2 SCIM installations, a group of "
             f"{BIG_GROUP} members)")
        world = seed()
        step("starting node A, node B, the worker and beat")
        start_node("node-a", PORT_A)
        start_node("node-b", PORT_B)
        start("worker", [str(BIN / "celery"), "-A", "config", "worker", "-Q", QUEUE, "-c", "2",
                         "--loglevel", "WARNING", "-n", f"cluster-{os.getpid()}@%h"])
        start("beat", [str(BIN / "celery"), "-A", "config", "beat", "--loglevel", "WARNING"])
        for port in (PORT_A, PORT_B):
            wait_until(f"node :{port} to be ready", lambda p=port: node_up(p), timeout=60)
        for name, proc in processes.items():
            check(proc.poll() is None, f"{name} exited early:\n{tail(name)}")
        admin_a, admin_b = AdminSession(PORT_A), AdminSession(PORT_B)
        admin_a.sign_in()
        admin_b.sign_in()

        token = token_rotation(world, admin_a)
        shared_limits(world)
        write_a_read_b(world, token)
        metrics_of_node(world, token)
        mapping_on_worker(world, admin_a, admin_b)
        beat_prunes(world)
        kill_mid_import(world, token)
        recycled_workers_keep_activity(world)
    except CheckFailed as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        for name in processes:
            print(f"--- last lines of {name}.log ---\n{tail(name)}", file=sys.stderr)
        return 1
    finally:
        stop_all()
        drop_database()
        forget_queue()
    print(f"cluster-check: {len(proved)} properties proved in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
