"""Test helpers for the SCIM API: a client speaking SCIM JSON with an org's
token, and the documents it sends. The org and its token come from
tests.builders.enable_scim."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import redis
from django.test import Client

from organizations.models import Organization

SCIM_JSON = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SEARCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def base_path(org: Organization) -> str:
    return f"/scim/v2/organizations/{org.uid}"


@dataclass
class ScimClient:
    """Django test client bound to one org's base URL and token."""

    org: Organization
    token: str
    client: Client

    def url(self, path: str) -> str:
        return base_path(self.org) + path

    def _headers(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token}"}

    def get(self, path: str, params: dict | None = None, **extra):
        return self.client.get(self.url(path), params or {}, **self._headers(), **extra)

    def send(self, method: str, path: str, body: Any = None, content_type: str = SCIM_JSON, **extra):
        data = body if isinstance(body, (str, bytes)) else (json.dumps(body) if body is not None else "")
        return getattr(self.client, method.lower())(
            self.url(path), data=data, content_type=content_type, **self._headers(), **extra
        )

    def post(self, path: str, body: Any, **extra):
        return self.send("post", path, body, **extra)

    def put(self, path: str, body: Any, **extra):
        return self.send("put", path, body, **extra)

    def patch(self, path: str, body: Any, **extra):
        return self.send("patch", path, body, **extra)

    def delete(self, path: str, **extra):
        return self.client.delete(self.url(path), **self._headers(), **extra)


def patch_body(*operations: dict) -> dict:
    return {"schemas": [PATCH_SCHEMA], "Operations": list(operations)}


def new_user(user_name: str, **extra: Any) -> dict:
    body = {
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "name": {"givenName": "Jane", "familyName": "Doe"},
        "emails": [{"primary": True, "value": user_name if "@" in user_name else f"{user_name}@example.com", "type": "work"}],
        "displayName": "Jane Doe",
        "active": True,
    }
    body.update(extra)
    return body


def redis_commands_sent(monkeypatch) -> list[str]:
    """The Redis commands sent from here on, by name (a pipeline counts once, as
    "pipeline")."""
    sent: list[str] = []
    for cls, name in ((redis.client.Pipeline, "execute"), (redis.Redis, "execute_command")):
        original = getattr(cls, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            if not isinstance(self, redis.client.Pipeline) or _name == "execute":
                sent.append(args[0] if _name == "execute_command" else "pipeline")
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, name, counted)
    return sent
