"""The read-only REST API (/api/orgs/<uid>/access/) answers only an org's active
Owners and Admins, by session or by API token; everyone else gets a 404 (the org's
existence does not leak) or, unauthenticated, a 401/403."""
from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from .world import MARKER, api_token

pytestmark = pytest.mark.django_db

REFUSED_SIGNED_IN = ["a_owner", "a_admin", "a_member", "outsider", "b_member"]


def access_url(org) -> str:
    return reverse("api-org-access", args=[org.uid])


@pytest.mark.parametrize("who", REFUSED_SIGNED_IN)
def test_session_of_anyone_but_an_owner_or_admin_gets_404(world, login, who):
    response = login(who).get(access_url(world.b.org))
    # An account with no active membership anywhere loses its session on this
    # request (organizations.signin.access) and is refused as anonymous.
    assert response.status_code in ((401, 403) if who == "outsider" else (404,))
    assert MARKER not in response.content.decode()


@pytest.mark.parametrize("who", REFUSED_SIGNED_IN)
def test_api_token_of_anyone_but_an_owner_or_admin_gets_404(world, who):
    token = api_token(world.user(who))
    response = Client().get(access_url(world.b.org), HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 404
    assert MARKER not in response.content.decode()


def test_b_admin_cannot_read_a(world):
    token = api_token(world.user("b_admin"))
    assert Client().get(access_url(world.a.org), HTTP_AUTHORIZATION=f"Token {token}").status_code == 404


@pytest.mark.parametrize(
    "header",
    [None, "Token nope", "Bearer nope", "Token ", "Basic Zm9vOmJhcg=="],
    ids=["none", "bad-token", "bearer", "empty", "basic"],
)
def test_anonymous_or_bad_credentials_are_refused(world, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = Client().get(access_url(world.b.org), **extra)
    assert response.status_code in (401, 403)
    assert MARKER not in response.content.decode()


def test_scim_token_is_no_api_credential(world):
    for scheme in ("Token", "Bearer"):
        response = Client().get(access_url(world.b.org), HTTP_AUTHORIZATION=f"{scheme} {world.b.token}")
        assert response.status_code in (401, 403)


def test_writes_are_refused_even_for_the_orgs_admin(world, login):
    client = login("b_admin")
    for method in ("post", "put", "patch", "delete"):
        assert getattr(client, method)(access_url(world.b.org)).status_code in (403, 405)


def test_owner_and_admin_of_the_org_do_get_the_report(world, login):
    """The control: the refusals above are about who asks, not a broken endpoint."""
    response = login("b_admin").get(access_url(world.b.org))
    assert response.status_code == 200
    assert MARKER in response.content.decode()
