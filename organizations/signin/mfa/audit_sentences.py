"""How the audit log tab (organizations.audit_log) words two-factor actions;
registered from MfaConfig.ready."""
from __future__ import annotations

from organizations.audit_log import Words
from organizations.models import AuditEvent

from . import services


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
    services.ENROLLED: "{actor} turned on two-factor authentication",
    services.DISABLED: "{actor} turned off two-factor authentication",
    services.PASSED: _passed,
    services.FAILED: lambda event, w: (
        f"A two-factor code for {w['target']} was refused ({_after(event, 'purpose', 'sign-in')})"
    ),
    services.RECOVERY_USED: _recovery,
    services.RECOVERY_RENEWED: "{actor} made new recovery codes (the previous ones stopped working)",
    services.RESET: "{actor} reset the two-factor authentication of {target} (a lost device); they enrol again",
    services.POLICY: _policy,
}
