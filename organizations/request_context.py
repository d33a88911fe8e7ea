"""Who is calling and which request this is: the one place that decides a
request's client address and its request id.

Client address. Behind a load balancer REMOTE_ADDR is the balancer's own
address; the client's is in X-Forwarded-For, but anyone can send that header,
so it is believed only through the proxies this deployment trusts:
TRUSTED_PROXY_COUNT (the nearest N hops, whatever their address) and
TRUSTED_PROXIES (addresses or networks). Starting from REMOTE_ADDR, each hop
that is trusted hands over to the address it says it received the request
from (the entry it appended, read right to left); the first untrusted hop is
the client. A header sent by a client straight to the app, or forged entries
to the left of what the trusted proxies appended, are ignored. With neither
setting (the default) X-Forwarded-For is never read. Rate limits, the bad-token
lockout, the sign-in throttle and audit rows all use `client_address`.

Request id. The proxy's X-Request-ID (nginx: `$request_id`) is carried when
it is a plausible id; otherwise one is made. It is echoed in the response,
put on every log line written while the request runs (config/logging.py) and
on audit rows, so one id ties the proxy's access log, the app's JSON logs and
the audit trail together.
"""
from __future__ import annotations

import contextvars
import ipaddress
import re
import uuid
from collections.abc import Callable
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_META = "HTTP_X_REQUEST_ID"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
UNKNOWN_ADDRESS = "unknown"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("orgdesk_request_id", default="")
client_address_var: contextvars.ContextVar[str] = contextvars.ContextVar("orgdesk_client_address", default="")


# --- the client address -------------------------------------------------------


@lru_cache(maxsize=8)
def parse_networks(spec: tuple[str, ...]) -> tuple[Network, ...]:
    """Addresses or networks from a setting ("10.0.0.0/8", "::1"), parsed once."""
    return tuple(ipaddress.ip_network(item, strict=False) for item in spec)


def trusted_networks() -> tuple[Network, ...]:
    return parse_networks(tuple(getattr(settings, "TRUSTED_PROXIES", ()) or ()))


def address_in(address: str, networks: tuple[Network, ...]) -> bool:
    parsed = _parse(address)
    return parsed is not None and any(parsed in net for net in networks)


def _parse(value: str) -> IPAddress | None:
    """An address as proxies write it: bare, `[v6]:port` or `v4:port`."""
    value = value.strip()
    if value.startswith("["):
        value = value[1 : value.find("]")] if "]" in value else ""
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def resolve_client_address(remote_addr: str, forwarded_for: str) -> str:
    """The client's address given REMOTE_ADDR and the X-Forwarded-For header."""
    count = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
    networks = trusted_networks()
    current = _parse(remote_addr or "")
    if current is None:
        return remote_addr or UNKNOWN_ADDRESS
    if not (count or networks) or not forwarded_for:
        return str(current)
    hops = [h for h in forwarded_for.split(",") if h.strip()]
    hop = 0
    while hops and (hop < count or any(current in net for net in networks)):
        previous = _parse(hops.pop())
        if previous is None:
            break  # a trusted proxy passed on garbage: stop at the last hop we can name
        current, hop = previous, hop + 1
    return str(current)


def client_address(request: HttpRequest | None) -> str:
    """The address of whoever sent this request, through the trusted proxies."""
    if request is None:
        return UNKNOWN_ADDRESS
    cached = getattr(request, "_orgdesk_client_address", None)
    if cached is None:
        cached = resolve_client_address(request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR", ""))
        request._orgdesk_client_address = cached
    return cached


# --- the request id -----------------------------------------------------------


def new_request_id() -> str:
    return uuid.uuid4().hex


def incoming_request_id(request: HttpRequest) -> str:
    """The proxy's id when it looks like one (bounded, no spaces or quotes, so it
    is safe in logs and headers), else a new one."""
    given = request.META.get(_REQUEST_ID_META, "")
    return given if _REQUEST_ID_RE.match(given) else new_request_id()


def current_request_id() -> str:
    return request_id_var.get()


def current_client_address() -> str:
    return client_address_var.get()


class RequestContextMiddleware:
    """First in MIDDLEWARE: names the request (id, client address) for everything
    after it, and echoes the id to the caller."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.request_id = incoming_request_id(request)
        tokens = (request_id_var.set(request.request_id), client_address_var.set(client_address(request)))
        try:
            response = self.get_response(request)
        except BaseException:
            _reset(tokens)
            raise
        response[REQUEST_ID_HEADER] = request.request_id
        # Kept until the response is closed, so Django's own request log
        # ("Not Found: ...", written after every middleware) carries the id too.
        response._resource_closers.append(lambda: _reset(tokens))
        return response


def _reset(tokens: tuple[contextvars.Token, contextvars.Token]) -> None:
    try:
        request_id_var.reset(tokens[0])
        client_address_var.reset(tokens[1])
    except ValueError:  # closed from another context: the next request sets its own
        pass
