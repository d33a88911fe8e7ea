"""How the audit log tab (organizations.audit_log) words verified domains'
actions; registered from VerifiedDomainsConfig.ready."""
from __future__ import annotations

from organizations.audit_actions import (
    DOMAIN_ADD, DOMAIN_REMOVE, DOMAIN_UNVERIFY, DOMAIN_VERIFY, DOMAIN_VERIFY_FAILED,
)
from organizations.audit_log import Words
from organizations.models import AuditEvent

_REASONS = {
    "absent": "the TXT record was not found",
    "error": "DNS could not be read",
    "held": "another organization holds it verified",
}


def _verify_failed(event: AuditEvent, w: Words) -> str:
    after = event.after if isinstance(event.after, dict) else {}
    reason = _REASONS.get(str(after.get("reason")), str(after.get("reason") or "it was not found"))
    return f"{w['actor']} tried to verify the domain {w['target']}: refused, {reason}"


SENTENCES = {
    DOMAIN_ADD: "{actor} added the domain {target} (not verified yet)",
    DOMAIN_VERIFY: "{actor} verified the domain {target} (TXT record {after_record})",
    DOMAIN_VERIFY_FAILED: _verify_failed,
    DOMAIN_UNVERIFY: "{actor} found the TXT record of {target} gone: the domain is no longer verified",
    DOMAIN_REMOVE: "{actor} removed the domain {target}",
}
