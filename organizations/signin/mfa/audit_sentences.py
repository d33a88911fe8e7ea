"""How the audit log tab (organizations.audit_log) words two-factor actions;
registered from MfaConfig.ready."""
from __future__ import annotations

from organizations.audit_actions import (
    ACCOUNT_MFA_CHALLENGE_FAILED, ACCOUNT_MFA_CHALLENGE_PASSED, ACCOUNT_MFA_DISABLED, ACCOUNT_MFA_ENROLLED,
    ACCOUNT_MFA_RECOVERY_CODES_RENEWED, ACCOUNT_MFA_RECOVERY_CODE_USED, ACCOUNT_MFA_RESET,
    ORGANIZATION_MFA_REQUIRED,
)
from organizations.audit_log import Words
from organizations.models import AuditEvent


def _after(event: AuditEvent, key: str, default=""):
    return event.after.get(key, default) if isinstance(event.after, dict) else default


def _passed(event: AuditEvent, w: Words) -> str:
    how = "a recovery code" if _after(event, "method") == "recovery" else "their authenticator app"
    return f"{w['actor']} passed two-factor authentication ({_after(event, 'purpose', 'sign-in')}) with {how}"


def _recovery(event: AuditEvent, w: Words) -> str:
    left = _after(event, "left", "?")
    return f"{w['actor']} used a recovery code ({_after(event, 'purpose', 'sign-in')}); {left} left"


def _policy(event: AuditEvent, w: Words) -> str:
    on = _after(event, "required", False)
    return f"{w['actor']} {'now requires' if on else 'no longer requires'} two-factor authentication of members' password sign-ins"


SENTENCES = {
    ACCOUNT_MFA_ENROLLED: "{actor} turned on two-factor authentication",
    ACCOUNT_MFA_DISABLED: "{actor} turned off two-factor authentication",
    ACCOUNT_MFA_CHALLENGE_PASSED: _passed,
    ACCOUNT_MFA_CHALLENGE_FAILED: lambda event, w: (
        f"A two-factor code for {w['target']} was refused ({_after(event, 'purpose', 'sign-in')})"
    ),
    ACCOUNT_MFA_RECOVERY_CODE_USED: _recovery,
    ACCOUNT_MFA_RECOVERY_CODES_RENEWED: "{actor} made new recovery codes (the previous ones stopped working)",
    ACCOUNT_MFA_RESET: "{actor} reset the two-factor authentication of {target} (a lost device); they enrol again",
    ORGANIZATION_MFA_REQUIRED: _policy,
}
