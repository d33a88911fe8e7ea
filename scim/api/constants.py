"""Names and canned messages of the SCIM API, kept in one place instead of
scattered strings: a message or URN changes once, and tests compare against
the same names the code answers with."""
from __future__ import annotations

from django_scim.constants import SCIM_CONTENT_TYPE, SchemaURI

__all__ = ["SCIM_CONTENT_TYPE", "SchemaURI"]

ERROR_SCHEMA = SchemaURI.ERROR
LIST_RESPONSE_SCHEMA = SchemaURI.LIST_RESPONSE
SEARCH_REQUEST_SCHEMA = SchemaURI.SERACH_REQUEST  # sic: django-scim2 spells it so
USER_SCHEMA = SchemaURI.USER
GROUP_SCHEMA = SchemaURI.GROUP
ENTERPRISE_USER_SCHEMA = SchemaURI.ENTERPRISE_USER
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"  # RFC 7643 §7 (django-scim2 has no name for it)

# Everything under this path is the SCIM API (answered in SCIM JSON, logged as activity).
SCIM_PATH_PREFIX = "/scim/"

# Content types a client may send (with or without "; charset=...").
ACCEPTED_CONTENT_TYPES = frozenset({"application/scim+json", "application/json"})

# PATCH op names, compared lower-cased: Entra sends "Add", "Replace", "Remove".
OP_ADD = "add"
OP_REMOVE = "remove"
OP_REPLACE = "replace"
PATCH_OPS = (OP_ADD, OP_REMOVE, OP_REPLACE)

# RFC 7644 §3.12 scimType values.
SCIM_TYPE_UNIQUENESS = "uniqueness"
SCIM_TYPE_INVALID_VALUE = "invalidValue"
SCIM_TYPE_INVALID_SYNTAX = "invalidSyntax"
SCIM_TYPE_INVALID_FILTER = "invalidFilter"
SCIM_TYPE_INVALID_PATH = "invalidPath"
SCIM_TYPE_NO_TARGET = "noTarget"
SCIM_TYPE_MUTABILITY = "mutability"

DEFAULT_PAGE_SIZE = 100

# A backing service (database, cache) unreachable: 503 with Retry-After.
RETRY_AFTER_SECONDS = 10

# Canned error details.
DETAIL_UNAUTHENTICATED = "A valid Bearer token of an app installed in this organization is required."
# Why a token was refused (scim.tokens.check). Only the holder of one of this
# org's tokens learns more than "Unknown token" (see scim.api.auth).
DETAIL_NO_TOKEN = "No Bearer token was sent: put the Secret Token of the app in the Authorization header."
DETAIL_UNKNOWN_TOKEN = "Unknown token: use the Secret Token of an app installed in this organization."
DETAIL_TOKEN_REVOKED = "This token was regenerated or the app was uninstalled: use the current Secret Token of the app."
DETAIL_SCIM_DISABLED = "SCIM is disabled for this organization: an Owner or Admin can enable it on the SCIM tab."
DETAIL_USER_NOT_FOUND = "User not found"
DETAIL_GROUP_NOT_FOUND = "Group not found"
DETAIL_ROUTE_NOT_FOUND = "No SCIM endpoint at this path"
DETAIL_METHOD_NOT_ALLOWED = "Method not allowed on this endpoint"
DETAIL_TOO_LARGE = "Request body is larger than the maximum of {limit} bytes"
DETAIL_UNSUPPORTED_MEDIA = "Content-Type must be application/scim+json or application/json"
DETAIL_PRECONDITION_FAILED = (
    "The resource changed since the version named in If-Match: read it again (its version is now {current}) and retry"
)
DETAIL_SERVER_ERROR = "Internal server error while processing the SCIM request"
DETAIL_UNAVAILABLE = "The service is temporarily unavailable: retry after {seconds} s"
