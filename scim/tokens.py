"""Secret tokens: 256 bits from `secrets`, stored only as a SHA-256 hash, found
by a non-secret prefix and compared in constant time."""
from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from organizations.models import Organization

from .models import AppInstallation, MarketplaceApp, SecretToken, hash_token
from .rawsql import Columns, fetch, qn

TOKEN_MARKER = "odk"
PREFIX_CHARS = 8
# last_used_at is written at most this often per token, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedToken:
    token: SecretToken
    secret: str  # shown once, never stored


def issue_token(installation: AppInstallation) -> IssuedToken:
    """Create a token row; the caller shows `secret` once and forgets it."""
    for _ in range(5):
        prefix = secrets.token_hex(PREFIX_CHARS // 2)
        secret = f"{TOKEN_MARKER}_{prefix}_{secrets.token_urlsafe(32)}"  # 32 bytes = 256 bits
        try:
            with transaction.atomic():
                row = SecretToken.objects.create(
                    installation=installation, prefix=prefix, token_hash=hash_token(secret)
                )
            return IssuedToken(row, secret)
        except IntegrityError:  # prefix collision: 2^-32 per pair, just draw again
            continue
    raise RuntimeError("Could not draw a unique token prefix.")


def parse_prefix(secret: str) -> str | None:
    parts = secret.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_MARKER or len(parts[1]) != PREFIX_CHARS:
        return None
    return parts[1]


# The token, its installation, the installation's app and org, in one row: every
# SCIM request runs this (see scim.rawsql for why it is plain SQL).
_AUTH_COLUMNS = [Columns(m) for m in (SecretToken, AppInstallation, MarketplaceApp, Organization)]


@lru_cache(maxsize=None)
def _auth_sql(vendor: str) -> str:
    t, i, a, o = (c.table for c in _AUTH_COLUMNS)
    return (
        f"SELECT {', '.join(c.select for c in _AUTH_COLUMNS)} FROM {qn(t)} "
        f"JOIN {qn(i)} ON {qn(i)}.{qn('id')} = {qn(t)}.{qn('installation_id')} "
        f"JOIN {qn(a)} ON {qn(a)}.{qn('id')} = {qn(i)}.{qn('app_id')} "
        f"JOIN {qn(o)} ON {qn(o)}.{qn('id')} = {qn(i)}.{qn('organization_id')} "
        f"WHERE {qn(t)}.{qn('prefix')} = %s"
    )


def _token_by_prefix(prefix: str) -> SecretToken | None:
    """The token with its installation, app and org attached (as select_related would)."""
    rows = fetch(_auth_sql(connection.vendor), [prefix])
    if not rows:
        return None
    objs, start = [], 0
    for columns in _AUTH_COLUMNS:
        objs.append(columns.instance(rows[0], start))
        start += len(columns)
    token, installation, app, org = objs
    installation.app = app
    installation.organization = org
    token.installation = installation
    return token


def authenticate(secret: str, org_uid: str) -> SecretToken | None:
    """The live token of a live installation of *this* org while SCIM is on, or None."""
    prefix = parse_prefix(secret)
    if prefix is None:
        return None
    row = _token_by_prefix(prefix)
    if row is None:
        hmac.compare_digest(hash_token(secret), "0" * 64)  # same work either way
        return None
    if not hmac.compare_digest(row.token_hash, hash_token(secret)):
        return None
    installation = row.installation
    org = installation.organization
    if (
        row.revoked_at is not None
        or installation.uninstalled_at is not None
        or org.uid != org_uid
        or not org.scim_enabled
        or not org.has_feature("scim")
    ):
        return None
    touch_last_used(row)
    return row


def touch_last_used(row: SecretToken) -> None:
    now = timezone.now()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        SecretToken.objects.filter(pk=row.pk).update(last_used_at=now)
        row.last_used_at = now
