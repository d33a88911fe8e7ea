"""Content-Security-Policy: every page carries it, scripts and styles come only
from our own files (so an injected <script> or on*= handler does not run), and
no template holds inline script, inline style or an event-handler attribute
that the policy would block. The SCIM API and the probes get no header."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

from organizations.signin.saml import config
from tests import builders
from tests.signin.saml.conftest import idp, sp, sso_org  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent.parent
HEADER = "Content-Security-Policy"


def parse(header: str) -> dict[str, list[str]]:
    """A policy header as {directive: [sources]}."""
    policy = {}
    for part in header.split(";"):
        name, *sources = part.split()
        policy[name] = sources
    return policy


# The header as browsers should get it, written out here rather than read from
# config/settings.py, so that a change there has to be made here on purpose.
EXPECTED = parse(
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def directives(response) -> dict[str, list[str]]:
    """The response's policy as {directive: [sources]}; fails when it has none."""
    assert HEADER in response, f"no {HEADER} header on {response.request['PATH_INFO']}"
    return parse(response[HEADER])


def assert_strict_scripts(response) -> None:
    policy = directives(response)
    assert policy["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert "'unsafe-inline'" not in policy["style-src"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]


def test_the_sign_in_page_has_the_whole_policy(client):
    response = client.get(reverse("admin:login"))
    assert response.status_code == 200
    policy = directives(response)
    # The sign-in form may continue at an org's IdP (SSO Strict mode): form-action
    # allows https: there (organizations/signin/csp.py); everything else is exact.
    assert policy.pop("form-action") == ["'self'", "https:", "http:"]  # PUBLIC_BASE_URL is http:// in tests
    assert policy == {k: v for k, v in EXPECTED.items() if k != "form-action"}
    assert_strict_scripts(response)


def test_an_organization_settings_page_has_the_policy(client, org, owner):
    client.force_login(owner.user)
    response = client.get(reverse("admin:org-settings-members", args=[org.uid]))
    assert response.status_code == 200
    assert directives(response) == EXPECTED
    assert_strict_scripts(response)


def test_the_member_home_page_has_the_policy(client, org):
    member = builders.make_member(org, "m@acme.example")
    client.force_login(member.user)
    response = client.get(reverse("member_home"))
    assert response.status_code == 200
    assert directives(response) == EXPECTED
    assert_strict_scripts(response)


def test_the_saml_bounce_page_has_the_policy_and_submits_from_a_static_script(sso_org, sp, idp):  # noqa: F811
    builders.make_member(sso_org, "member@acme.example")
    browser = Client()  # no session cookie: the IdP's cross-site POST
    acs = config.sp_urls(sso_org).acs_url.removeprefix(django_settings.PUBLIC_BASE_URL)
    response = browser.post(acs, {"SAMLResponse": idp.response(sp, "member@acme.example")})
    assert response.status_code == 200 and b'id="saml-bounce"' in response.content
    assert_strict_scripts(response)
    assert directives(response)["form-action"] == ["'self'"]  # it posts back to the ACS only
    html = response.content.decode()
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts == ['<script src="/static/orgdesk/saml_bounce.js">']
    assert "<noscript>" in html and '<button type="submit">Continue</button>' in html
    script = Path(finders.find("orgdesk/saml_bounce.js")).read_text()
    assert 'getElementById("saml-bounce").submit()' in script


def test_the_sso_start_page_lets_its_form_reach_an_identity_provider(client):
    """Its answer redirects to the org's IdP, which browsers check against form-action."""
    policy = directives(client.get(reverse("saml:start")))
    assert policy["form-action"][:2] == ["'self'", "https:"]
    assert policy["script-src"] == ["'self'"]


def test_no_policy_on_the_scim_api_and_the_probes(client, org):
    _installation, token = builders.enable_scim(org)
    scim = client.get(f"/scim/v2/organizations/{org.uid}/Users", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert scim.status_code == 200 and HEADER not in scim
    refused = client.get(f"/scim/v2/organizations/{org.uid}/Users")
    assert refused.status_code == 401 and HEADER not in refused
    assert HEADER not in client.get("/healthz")
    # and the exclusion is by prefix, not a blanket one: a page right beside it has it
    assert HEADER in client.get(reverse("admin:login"))


# ---- templates: nothing the policy would block ------------------------------------------

TAG = re.compile(r"<[a-zA-Z][^<>]*>", re.S)
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.I)


def template_files() -> list[Path]:
    dirs = [ROOT / "templates"] + [d for app in ("organizations", "scim", "mappings") for d in (ROOT / app).rglob("templates")]
    return sorted(p for d in dirs if d.is_dir() for p in d.rglob("*") if p.suffix in {".html", ".txt", ".xml"})


def violations(text: str) -> list[str]:
    """What in this template text the policy would block."""
    found = [f"inline script: {m.group(0)}" for m in INLINE_SCRIPT.finditer(text)]
    for tag in TAG.findall(text):
        found += [f"event handler in {tag[:80]}" for _ in EVENT_HANDLER.finditer(tag)]
        found += [f"inline style in {tag[:80]}" for _ in INLINE_STYLE.finditer(tag)]
    return found


def test_the_template_check_catches_what_the_policy_blocks():
    assert violations('<script>alert(1)</script>')
    assert violations('<script type="module">x()</script>')
    assert violations('<button type="button" onclick="go()">Go</button>')
    assert violations('<body onload = "go()">')
    assert violations('<p style="color:red">x</p>') and violations("<style>p{}</style>")
    assert not violations('<script src="{% static \'orgdesk/copy_buttons.js\' %}" defer></script>')
    assert not violations('<a href="#" class="one" data-online="1">Done</a> online=yes')


def test_no_template_has_inline_script_style_or_event_handlers():
    files = template_files()
    assert len(files) > 40 and any(p.name == "bounce.html" for p in files)
    problems = [f"{p.relative_to(ROOT)}: {v}" for p in files for v in violations(p.read_text(encoding="utf-8"))]
    assert problems == []
