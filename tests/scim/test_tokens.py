"""Secret tokens: never stored in clear, found by prefix, bound to one org, and
cheap on the hot path (last_used_at written at most once a minute)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from organizations.tokens import hash_token
from scim import installations, tokens
from scim.models import MarketplaceApp, SecretToken
from tests import builders

pytestmark = pytest.mark.django_db


@pytest.fixture
def installed(org, owner):
    installations.enable_scim(org, actor=owner.user)
    app = MarketplaceApp.objects.get(slug="okta-generic-scim")
    return installations.install_app(org, app, actor=owner.user)


def all_text_in_database() -> str:
    """Every text-ish column of every table, concatenated."""
    chunks: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT * FROM {quoted}")  # noqa: S608 (table names from introspection)
            for row in cursor.fetchall():
                chunks.extend(str(value) for value in row if isinstance(value, (str, bytes, memoryview, dict, list)))
    return "\n".join(chunks)


def test_token_has_256_bits_and_the_documented_shape(installed):
    _, issued = installed
    marker, prefix, random_part = issued.secret.split("_", 2)
    assert marker == tokens.TOKEN_MARKER
    assert prefix == issued.token.prefix and len(prefix) == tokens.PREFIX_CHARS
    assert len(random_part) >= 43  # token_urlsafe(32): 32 bytes = 256 bits


def test_token_is_not_stored_in_clear_anywhere_in_the_database(org, owner, installed):
    installation, issued = installed
    rotated = installations.regenerate_token(installation, actor=owner.user)
    dump = all_text_in_database()

    assert len(dump) > 1000  # the dump really read the tables
    assert installation.organization.uid in dump
    for secret in (issued.secret, rotated.secret):
        assert secret not in dump
        assert secret.split("_", 2)[2] not in dump  # not even the random part
        assert hash_token(secret) in dump  # only its hash


def test_authenticate_finds_the_token_by_prefix(org, installed):
    installation, issued = installed
    row = tokens.check(issued.secret, org.uid)
    assert row is not None and row.installation_id == installation.pk


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"),  # right prefix, wrong secret
        lambda s: s.split("_", 2)[2],  # the random part alone
        lambda s: "",
        lambda s: "odk_zz_" + s,  # malformed prefix
        lambda s: s.upper(),
    ],
)
def test_wrong_or_malformed_tokens_are_refused(org, installed, mangle):
    _, issued = installed
    assert isinstance(tokens.check(mangle(issued.secret), org.uid), tokens.Refusal)


def test_token_of_org_a_is_refused_on_org_b(org, installed, other_org):
    _, issued = installed
    installations.enable_scim(other_org, actor=None)
    assert isinstance(tokens.check(issued.secret, other_org.uid), tokens.Refusal)


def test_revoked_token_is_refused(org, installed):
    _, issued = installed
    SecretToken.objects.filter(pk=issued.token.pk).update(revoked_at=timezone.now())
    assert isinstance(tokens.check(issued.secret, org.uid), tokens.Refusal)


def test_token_of_uninstalled_app_is_refused_even_if_not_revoked(org, installed):
    installation, issued = installed
    installation.uninstalled_at = timezone.now()
    installation.save(update_fields=["uninstalled_at"])
    assert SecretToken.objects.get(pk=issued.token.pk).revoked_at is None
    assert isinstance(tokens.check(issued.secret, org.uid), tokens.Refusal)


def test_token_is_refused_while_scim_is_disabled(org, owner, installed):
    _, issued = installed
    installations.disable_scim(org, actor=owner.user)
    assert isinstance(tokens.check(issued.secret, org.uid), tokens.Refusal)


def test_token_is_refused_after_a_downgrade_to_a_plan_without_scim(org, installed):
    _, issued = installed
    org.plan = "team"
    org.save(update_fields=["plan"])
    assert isinstance(tokens.check(issued.secret, org.uid), tokens.Refusal)


def test_last_used_is_written_on_first_use_then_not_on_every_call(
    org, installed, django_assert_num_queries
):
    _, issued = installed
    with django_assert_num_queries(2):  # lookup + first last_used_at write
        assert isinstance(tokens.check(issued.secret, org.uid), SecretToken)
    first_use = SecretToken.objects.get(pk=issued.token.pk).last_used_at
    assert first_use is not None

    for _ in range(5):
        # no write within the minute: the lookup only (none once the token is
        # remembered, with Redis: tests/scim/test_token_cache.py)
        with CaptureQueriesContext(connection) as ctx:
            assert isinstance(tokens.check(issued.secret, org.uid), SecretToken)
        assert len(ctx.captured_queries) <= 1
        assert not any(q["sql"].startswith("UPDATE") for q in ctx.captured_queries)
    assert SecretToken.objects.get(pk=issued.token.pk).last_used_at == first_use


def test_last_used_is_refreshed_after_the_resolution_window(org, installed, django_assert_num_queries):
    _, issued = installed
    old = timezone.now() - tokens.LAST_USED_RESOLUTION - timedelta(seconds=1)
    SecretToken.objects.filter(pk=issued.token.pk).update(last_used_at=old)

    with django_assert_num_queries(2):
        assert isinstance(tokens.check(issued.secret, org.uid), SecretToken)
    assert SecretToken.objects.get(pk=issued.token.pk).last_used_at > old


def test_unknown_prefix_costs_one_query(org, installed, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert isinstance(tokens.check("odk_00000000_" + "x" * 43, org.uid), tokens.Refusal)


def test_each_org_gets_its_own_tokens(org, installed, other_org):
    installations.enable_scim(other_org, actor=None)
    app = MarketplaceApp.objects.get(slug="okta-generic-scim")
    _, theirs = installations.install_app(other_org, app, actor=builders.owner_of(other_org).user)
    _, ours = installed

    assert isinstance(tokens.check(theirs.secret, other_org.uid), SecretToken)
    assert isinstance(tokens.check(theirs.secret, org.uid), tokens.Refusal)
    assert isinstance(tokens.check(ours.secret, other_org.uid), tokens.Refusal)
