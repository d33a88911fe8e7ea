"""Secret tokens: made here, stored only as their hash.

Every secret a person or a client is handed once (an invitation link, an SCIM
bearer token, the e-mailed proof that links an SSO identity) carries 256 bits of
randomness, so a plain SHA-256 of it cannot be brute-forced and a copy of the
database never yields a working secret."""
from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32  # 256 bits


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
