"""Fetching an IdP's metadata from its URL, held to the strictness of an
uploaded document (services.parse_idp_metadata parses it: no DTD, no entities):

- HTTPS only, with the certificate verified. Plain http is refused unless
  SAML_METADATA_ALLOW_HTTP (tests) or DEBUG allows it, and then only to a
  loopback host; without that allowance a host that resolves to a private,
  loopback or link-local address is refused (no requests into our network).
- At most MAX_METADATA_BYTES, read in chunks and stopped past it.
- SAML_METADATA_TIMEOUT seconds (5) per connection and for the whole read.
- Redirects: at most MAX_REDIRECTS, each to a URL passing the same checks and
  never to another scheme."""
from __future__ import annotations

import ipaddress
import socket
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings

from organizations.services import ServiceError

MAX_METADATA_BYTES = 512 * 1024
MAX_REDIRECTS = 3
CHUNK = 16 * 1024
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


def _allow_http() -> bool:
    return bool(getattr(settings, "SAML_METADATA_ALLOW_HTTP", False) or settings.DEBUG)


def _timeout() -> float:
    return float(getattr(settings, "SAML_METADATA_TIMEOUT", 5))


def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise ServiceError(f"The metadata URL's host {host} could not be resolved.") from exc
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def check_url(url: str) -> str:
    """The URL, if it may be fetched; otherwise a ServiceError saying why."""
    url = (url or "").strip()
    if len(url) > 1024:
        raise ServiceError("The metadata URL is longer than 1024 characters.")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError as exc:
        raise ServiceError("The metadata URL is not a valid URL.") from exc
    if parts.scheme not in ("https", "http") or not host:
        raise ServiceError("The metadata URL must be an https:// URL.")
    if parts.username or parts.password:
        raise ServiceError("The metadata URL must not contain a user name or password.")
    if parts.scheme == "http":
        if not _allow_http():
            raise ServiceError("The metadata URL must use HTTPS: plain http:// is refused (it could be altered on the way).")
        if host.lower() not in LOOPBACK_NAMES:
            raise ServiceError("Plain http:// metadata URLs are allowed only for a loopback test server.")
        return url
    if not _allow_http():
        for address in _addresses(host):
            if address.is_private or address.is_loopback or address.is_link_local or address.is_reserved \
                    or address.is_multicast or address.is_unspecified:
                raise ServiceError(f"The metadata URL's host {host} is not a public address.")
    return url


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    max_redirections = MAX_REDIRECTS

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urlsplit(newurl).scheme != urlsplit(req.full_url).scheme:
            raise ServiceError("The metadata URL redirects to another scheme (https to http); refused.")
        check_url(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener() -> urllib.request.OpenerDirector:
    # No proxy handler from the environment, no file:// or ftp:// handlers.
    opener = urllib.request.OpenerDirector()
    for handler in (urllib.request.HTTPHandler(), urllib.request.HTTPSHandler(), _CheckedRedirects(),
                    urllib.request.HTTPErrorProcessor(), urllib.request.HTTPDefaultErrorHandler()):
        opener.add_handler(handler)
    return opener


def fetch_metadata(url: str) -> bytes:
    """The document at `url` (checked by check_url first), or a ServiceError."""
    url = check_url(url)
    timeout = _timeout()
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers={"Accept": "application/samlmetadata+xml, application/xml, text/xml",
                                                   "User-Agent": "Orgdesk SAML metadata fetcher"})
    try:
        with _opener().open(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > MAX_METADATA_BYTES:
                raise ServiceError("The IdP metadata is larger than 512 KB.")
            body = bytearray()
            while True:
                if time.monotonic() > deadline:
                    raise ServiceError(f"The metadata URL did not answer within {timeout:g} seconds.")
                chunk = response.read(CHUNK)
                if not chunk:
                    break
                body += chunk
                if len(body) > MAX_METADATA_BYTES:
                    raise ServiceError("The IdP metadata is larger than 512 KB.")
    except ServiceError:
        raise
    except urllib.error.HTTPError as exc:
        raise ServiceError(f"The metadata URL answered HTTP {exc.code}.") from exc
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ServiceError):
            raise reason from exc
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise ServiceError(f"The metadata URL did not answer within {timeout:g} seconds.") from exc
        raise ServiceError(f"The metadata URL could not be fetched: {reason}.") from exc
    except (socket.timeout, TimeoutError) as exc:
        raise ServiceError(f"The metadata URL did not answer within {timeout:g} seconds.") from exc
    except OSError as exc:
        raise ServiceError(f"The metadata URL could not be fetched: {exc}.") from exc
    return bytes(body)
