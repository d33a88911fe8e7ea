"""Secret tokens: 256 bits from `secrets`, stored only as a SHA-256 hash, found
by a non-secret prefix and compared in constant time."""
from __future__ import annotations

import hmac
import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from organizations.models import Organization
from organizations.tokens import hash_token, new_token

from .models import AppInstallation, MarketplaceApp, SecretToken
from .rawsql import Columns, fetch, qn
from .redis_client import redis_client

logger = logging.getLogger("orgdesk.scim")

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
        secret = f"{TOKEN_MARKER}_{prefix}_{new_token()}"
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
def _auth_sql() -> str:
    token, installation, app, org = _AUTH_COLUMNS
    return (
        f"SELECT {', '.join(c.select for c in _AUTH_COLUMNS)} FROM {qn(token.table)} "
        f"JOIN {qn(installation.table)} ON {installation.column('id')} = {token.column('installation')} "
        f"JOIN {qn(app.table)} ON {app.column('id')} = {installation.column('app')} "
        f"JOIN {qn(org.table)} ON {org.column('id')} = {installation.column('organization')} "
        f"WHERE {token.column('prefix')} = %s"
    )


def _token_row(prefix: str) -> tuple | None:
    rows = fetch(_auth_sql(), [prefix])
    return rows[0] if rows else None


def _token_from_row(row: tuple) -> SecretToken:
    """The token with its installation, app and org attached (as select_related
    would): new objects every time, so no request shares them with another."""
    objs, start = [], 0
    for columns in _AUTH_COLUMNS:
        objs.append(columns.instance(row, start))
        start += len(columns)
    token, installation, app, org = objs
    installation.app = app
    installation.organization = org
    token.installation = installation
    return token


# --- the verified-token cache ----------------------------------------------------
# Every SCIM request authenticates, so the row of a token that passed every
# check is remembered per process (keyed by prefix) for AUTH_CACHE_SECONDS,
# stamped with a version (a random value) kept in Redis. Whatever can make a token stop
# working (a token, installation or org saved or deleted: regenerate, uninstall,
# SCIM disabled, a plan change) changes the version, once at once and once on
# commit, so the token stops working at once in every process. A request reads
# the version (one Redis GET instead of the token query); if Redis is
# unreachable the database decides. Without Redis (development, the SQLite test
# run) nothing is remembered. A raw UPDATE that bypasses the models (a shell
# `.update()`) is seen within AUTH_CACHE_SECONDS.
AUTH_CACHE_SECONDS = 10
AUTH_CACHE_MAX = 1000
AUTH_VERSION_KEY = "scim-auth-version"
# prefix -> (row, version, expiry, token built from the row for remembered()).
_verified: dict[str, tuple[tuple, bytes, float, SecretToken]] = {}


def auth_version_key() -> str:
    return cache.make_key(AUTH_VERSION_KEY)


def _auth_version() -> bytes | None:
    """The current version, or None when it cannot be trusted: no Redis, Redis
    unreachable, or the key gone (a Redis restart or flush). A missing key gets
    a new random value, never one a process may have stamped a row with."""
    client = redis_client()
    if client is None:
        return None
    key = auth_version_key()
    try:
        version = client.get(key)
        if version is None:
            client.set(key, uuid.uuid4().hex, nx=True)
        return version
    except Exception:
        logger.warning("Token cache: Redis unreachable, checking the token in the database", exc_info=True)
        return None


def bump_auth_version() -> None:
    """Forget every remembered token, in every process (see above)."""
    _verified.clear()
    client = redis_client()
    if client is None:
        return
    try:
        client.set(auth_version_key(), uuid.uuid4().hex)
    except Exception:  # remembered tokens then expire within AUTH_CACHE_SECONDS
        logger.error("Token cache: could not change the auth version in Redis", exc_info=True)


def auth_changed(**kwargs) -> None:
    """post_save / post_delete of SecretToken, AppInstallation and Organization."""
    bump_auth_version()
    transaction.on_commit(bump_auth_version, using=kwargs.get("using") or "default")


def _remembered(prefix: str, version: bytes | None) -> tuple | None:
    if version is None:
        return None
    hit = _verified.get(prefix)
    if hit is not None and hit[1] == version and hit[2] > time.monotonic():
        return hit[0]
    return None


def _remember(prefix: str, row: tuple, version: bytes | None) -> None:
    if version is None:
        return
    if len(_verified) >= AUTH_CACHE_MAX:
        _verified.clear()
    _verified[prefix] = (row, version, time.monotonic() + AUTH_CACHE_SECONDS, _token_from_row(row))


def remembered(secret: str, org_uid: str, *, shared: bool = False) -> tuple[SecretToken, bytes] | None:
    """The token this process remembers as having passed every check of
    `check` for this org, with the version it was stamped with; None when
    `check` must decide (nothing remembered, expired, another secret or org,
    or last_used_at due for its write). The caller confirms that the version
    is still the one in Redis before trusting it (scim.api.auth sends that GET
    in the same roundtrip as its own commands). shared=True: the token and its
    installation and org are the ones every request that asks so gets (read
    them, never change them); else new objects, built from the remembered row."""
    prefix = parse_prefix(secret)
    hit = _verified.get(prefix) if prefix is not None else None
    if hit is None or hit[2] <= time.monotonic():
        return None
    token = hit[3]
    if token.installation.organization.uid != org_uid or not hmac.compare_digest(token.token_hash, hash_token(secret)):
        return None
    if token.last_used_at is None or timezone.now() - token.last_used_at >= LAST_USED_RESOLUTION:
        return None
    return (token if shared else _token_from_row(hit[0])), hit[1]


# Why a token was refused, as the SCIM 401 tells it (scim.api.auth). Only a
# token of *this* org learns more than UNKNOWN: another org's token, a forged
# one and an org uid that does not exist all read UNKNOWN, so nobody learns
# whether an org exists or what state another org is in.
NO_TOKEN = "no-token"
UNKNOWN = "unknown"
REVOKED = "revoked"  # regenerated, or the app was uninstalled
SCIM_OFF = "scim-off"  # SCIM disabled, or the plan no longer has it


@dataclass(frozen=True)
class Refusal:
    reason: str
    # The installation the token belongs to when it is one of this org's (for
    # the Provisioning activity list); None for an unknown token.
    installation_id: int | None = None


def check(secret: str, org_uid: str) -> SecretToken | Refusal:
    """The live token of a live installation of *this* org while SCIM is on, or
    why not. A valid token costs what it always did: the refusal reasons are
    read from the row the lookup already returned."""
    prefix = parse_prefix(secret)
    if prefix is None:
        return Refusal(UNKNOWN)
    version = _auth_version()  # read before the row: a change after it bumps past it
    known = _remembered(prefix, version)
    row = known or _token_row(prefix)
    if row is None:
        hmac.compare_digest(hash_token(secret), "0" * 64)  # same work either way
        return Refusal(UNKNOWN)
    token = _token_from_row(row)
    if not hmac.compare_digest(token.token_hash, hash_token(secret)):
        return Refusal(UNKNOWN)
    installation = token.installation
    org = installation.organization
    if org.uid != org_uid:
        return Refusal(UNKNOWN)  # another org's token: for this org it is just unknown
    if token.revoked_at is not None or installation.uninstalled_at is not None:
        return Refusal(REVOKED, installation.pk)
    if not org.scim_enabled or not org.has_feature("scim"):
        return Refusal(SCIM_OFF, installation.pk)
    if touch_last_used(token):  # after a write the row is old: the next request reads it
        _verified.pop(prefix, None)
    elif known is None:  # remembered once, from the database: AUTH_CACHE_SECONDS run from that read
        _remember(prefix, row, version)
    return token


def touch_last_used(token: SecretToken) -> bool:
    """Write last_used_at if it is older than the resolution; whether it wrote."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        SecretToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
        return True
    return False
