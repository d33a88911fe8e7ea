"""The four reads identity providers make all day, answered without django-scim2's
view machinery: Okta's `userName eq` lookup before every push, `externalId eq`,
GET /Users/{id}, and the unfiltered page of its connector test and imports
(`GET /Users?startIndex=1&count=2`).

Why: on these reads the answer costs one indexed statement, and everything
around it (the browser middleware, URL resolving, django-scim2's dispatch, a
Redis roundtrip for the token's version and another for the rate limit, a
`SELECT 1` health check before the statement) cost several times more
(benchmarks/README.md, "Where the lookup's time was, where it went"). Here:

- which requests qualify is decided from the method, path and query string
  alone, before anything is read or counted (`plan`): a query parameter the
  fast path does not handle (`attributes`, `sortBy`, another filter, a
  malformed one, a body) sends the request down the regular path, which
  answers it as before;
- scim.api.auth.check_request authenticates and counts the request as for every
  SCIM call: for a token this process remembers, in one Redis command that also
  reads an unfiltered page's cached total; the token's objects are shared with
  the other reads, which only read them;
- the statement is scim.api.user_rows' prepared one (rawsql.fetch_read: it is
  its own connection health check), the document scim.api.user_documents'
  renderer, so the answer is the regular path's, byte for byte
  (tests/scim/test_fast_reads.py compares them);
- the activity entry, the log line and the metrics are written by
  scim.api.middleware as for every SCIM call, from what is noted here.

Tenancy holds as on the regular path: the token must be one of the URL's org,
and every statement is scoped to that org."""
from __future__ import annotations

import re
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.urls import ResolverMatch, resolve

from organizations.models import Membership
from scim.provisioning import parse_id

from . import auth, hostile, lookups, totals, user_documents, user_rows, versions
from . import constants as c
from .adapter_base import document_urls
from .errors import NotFound, response_for_exception
from .filter_parser import MAX_FILTER_LENGTH, Compare, ScimFilterError, parse
from .filters import USER_URN, user_filter_q
from .listing import ListParams, list_document, parse_list_params
from .values import strip_prefix
from .views.base import note_activity, scim_json

# The routes of scim/api/urls.py these reads answer (`users`, `user`), as config/urls.py mounts them.
_USERS = re.compile(r"^/scim/v2/organizations/(?P<org_uid>[^/]+)/Users(?:/(?P<uuid>[^/]+))?/?$")
_QUERY_KEYS = frozenset({"filter", "startIndex", "count"})
PAGE, USER_NAME, EXTERNAL_ID, ONE = "page", "userName", "externalId", "one"
_FILTERS = {"username": USER_NAME, "externalid": EXTERNAL_ID}


@dataclass(frozen=True)
class Plan:
    kind: str  # PAGE, USER_NAME, EXTERNAL_ID (lists) or ONE (GET by id)
    org_uid: str
    params: ListParams
    value: str = ""  # the filter's value, or the id in the path


def plan(request: HttpRequest) -> Plan | None:
    """The fast read this request is, or None. Reads nothing, counts nothing:
    only the method, the path and the query string."""
    if request.method != "GET":
        return None
    match = _USERS.match(request.path_info)
    if match is None or match["uuid"] == ".search" or request.META.get("CONTENT_LENGTH") not in (None, "", "0"):
        return None
    try:
        query = request.GET
        if not _QUERY_KEYS.issuperset(query) or any(len(values) != 1 for _, values in query.lists()):
            return None
        hostile.check_query(query)
        params = parse_list_params(query)
    except Exception:  # whatever the regular path refuses, it refuses in its own words
        return None
    if match["uuid"] is not None:
        return Plan(ONE, match["org_uid"], params, match["uuid"])
    if params.filter is None:
        return Plan(PAGE, match["org_uid"], params)
    found = _key_eq(params.filter)
    return Plan(found[0], match["org_uid"], params, found[1]) if found else None


# The filter as identity providers send it: a plain quoted value (no escape, no
# control character), which reads the same whatever parses it. Anything else is
# parsed (scim.api.filter_parser).
_PLAIN_KEY_EQ = re.compile(
    r'\s*(?:urn:ietf:params:scim:schemas:core:2\.0:user:)?(username|externalid)\s+eq\s+"([^"\\\x00-\x1f]*)"\s*\Z',
    re.IGNORECASE | re.ASCII,  # attribute names fold as ASCII: "uſerName" is no userName
)


def _key_eq(filter_string: str) -> tuple[str, str] | None:
    """(USER_NAME or EXTERNAL_ID, value) for exactly `userName eq "…"` or
    `externalId eq "…"` (core schema URN allowed) with a string value."""
    plain = _PLAIN_KEY_EQ.match(filter_string) if len(filter_string) <= MAX_FILTER_LENGTH else None
    if plain is not None:
        return _FILTERS[plain[1].lower()], plain[2]
    try:
        node = parse(filter_string)
    except ScimFilterError:
        return None
    if not (isinstance(node, Compare) and node.op == "eq" and isinstance(node.value, str)):
        return None
    kind = _FILTERS.get(strip_prefix(node.path, (USER_URN,)))
    return (kind, node.value) if kind else None


def serve(request: HttpRequest, plan: Plan) -> HttpResponse:
    """The response to a planned read; errors as scim.api.errors answers them
    for every SCIM call."""
    request.resolver_match = _resolver_match(plan)
    try:
        if (refused := _authenticate(request, plan)) is not None:
            return refused
        return _one(request, plan) if plan.kind == ONE else _list(request, plan)
    except Exception as exc:
        return response_for_exception(request, exc)


# --- authentication and counting ----------------------------------------------------


def _authenticate(request: HttpRequest, plan: Plan) -> HttpResponse | None:
    """scim.api.auth.check_request (None: go on), in one Redis roundtrip when this
    process remembers the token, its objects shared with the other reads (they
    only read them). Sets `request._scim_cached_total` (the reply for an
    unfiltered page's total, None if not cached)."""
    request._scim_cached_total = None
    return auth.check_request(request, plan.org_uid, shared_token=True, users_total=plan.kind == PAGE)


# --- the reads --------------------------------------------------------------------


def _list(request: HttpRequest, plan: Plan) -> HttpResponse:
    """As ResourceView.list with UsersView.page, for the planned kinds."""
    params = plan.params
    note_activity(request, "Look up users" if params.filter else "List users", params.filter or "")
    org_id = request.scim_org.pk
    offset, limit = params.start_index - 1, params.count
    if limit <= 0:
        rows = []
    elif plan.kind == PAGE:
        rows = user_rows.page(org_id, limit=limit, offset=offset)
    elif plan.kind == USER_NAME:
        rows = user_rows.by_username(org_id, plan.value, limit=limit, offset=offset)
    else:
        rows = user_rows.by_external_id(org_id, plan.value, limit=limit, offset=offset)
    resources = user_documents.render_rows(request, rows, params)
    if 0 < len(resources) < limit or (not resources and limit > 0 and offset == 0):
        total = offset + len(resources)  # a page that is not full is the last one
    elif params.filter:
        total = lookups.org_scope(Membership, org_id).filter(user_filter_q(params.filter)).count()
    elif request._scim_cached_total is not None:
        total = int(request._scim_cached_total)
    else:
        total = totals.unfiltered_total(totals.USERS, org_id, Membership.objects.filter(organization_id=org_id).count)
    return scim_json(list_document(resources, total, params.start_index))


def _one(request: HttpRequest, plan: Plan) -> HttpResponse:
    """As ResourceView.get with UsersView.read_one."""
    note_activity(request, "Get user", f"id {plan.value}")
    pk = parse_id(plan.value)
    found = user_documents.one(request, pk, plan.params) if pk is not None else None
    if found is None:
        raise NotFound(c.DETAIL_USER_NOT_FOUND)
    doc, user_name, version = found
    note_activity(request, "Get user", user_name)
    location = f"{document_urls(request)[0]}/{pk}"
    if versions.not_modified(request, version):  # RFC 7644 §3.14: unchanged since the client's copy
        response = HttpResponse(status=304)
        response["ETag"], response["Location"] = version, location
        return response
    return scim_json(doc, location=location, etag=version)


# --- what the activity list and the metrics read from the request -------------------

_MATCHES: dict[str, ResolverMatch] = {}


def _resolver_match(plan: Plan) -> ResolverMatch:
    """The request's ResolverMatch, as URL resolving would have made it (its
    url_name names the operation in the activity list and the metrics),
    without resolving: the route's match is resolved once per process."""
    name = "user" if plan.kind == ONE else "users"
    template = _MATCHES.get(name)
    if template is None:
        path = "/scim/v2/organizations/x/Users" + ("/1" if name == "user" else "")
        template = _MATCHES[name] = resolve(path)
    kwargs = {"org_uid": plan.org_uid, **({"uuid": plan.value} if name == "user" else {})}
    return ResolverMatch(
        template.func, (), kwargs, template.url_name, template.app_names, template.namespaces, template.route,
        template.tried, kwargs, template.extra_kwargs,
    )

