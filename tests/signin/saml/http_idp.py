"""Driving the stand-in IdP over real HTTP from Django test-client tests: the
SP's redirect is followed to the IdP server on a loopback port, and the form
the IdP answers (the auto-posted SAMLResponse) is read back."""
from __future__ import annotations

import re
import urllib.error
import urllib.request
from html import unescape

from organizations.signin.saml import config, services
from tests import builders
from tests.saml_idp import IdPServer, TestIdP


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def http_get(url: str) -> tuple[int, str, dict]:
    """(status, body, headers) of a GET, without following redirects."""
    opener = urllib.request.build_opener(NoRedirects)
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace"), dict(exc.headers)


def posted_form(body: str) -> dict[str, str]:
    """The hidden fields of the IdP's auto-submitted form."""
    return {name: unescape(value) for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"', body)}


def idp_server_for(org, idp: TestIdP, *, slo: bool = False) -> IdPServer:
    """An IdPServer for `org`, and the org's SSO trusting it (enabled)."""
    server = IdPServer(idp, config.sp_urls(org), host="127.0.0.1")
    idp.sso_url = server.base_url + "/sso"
    if slo:
        idp.slo_url = server.base_url + "/slo"
    owner = builders.owner_of(org).user
    services.create_settings(org, actor=owner, signin_name=org.name.lower())
    services.import_metadata(org, idp.metadata(), actor=owner)
    services.enable_sso(org, actor=owner)
    return server
