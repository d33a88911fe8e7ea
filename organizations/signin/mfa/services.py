"""Two-factor authentication of an account: enrolling a TOTP device, checking a
code (TOTP or one-time recovery code), disabling, and a reset by someone else.
Every step is audited (organizations.audit, actions "account.mfa_*") and code
attempts are throttled like the password (organizations.signin.throttle, prefix "mfa").

django-otp's TOTPDevice.verify_token refuses a code from a time step at or
before the last one accepted (last_t), so a code works once; the device row is
locked while it is checked, so two requests cannot both use the same code."""
from __future__ import annotations

import hashlib
import inspect
import math
import secrets
from base64 import b32encode
from dataclasses import dataclass

import segno
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from organizations import audit
from organizations.audit_actions import (
    ACCOUNT_MFA_CHALLENGE_FAILED, ACCOUNT_MFA_CHALLENGE_PASSED, ACCOUNT_MFA_DISABLED, ACCOUNT_MFA_ENROLLED,
    ACCOUNT_MFA_RECOVERY_CODES_RENEWED, ACCOUNT_MFA_RECOVERY_CODE_USED, ACCOUNT_MFA_RESET,
    ORGANIZATION_MFA_REQUIRED,
)
from organizations.models import Membership, Organization, OrgRole, User
from organizations.permissions import can_transfer_ownership, is_operator
from organizations.signin import throttle

from .models import OrgMfaPolicy, RecoveryCode

THROTTLE_PREFIX = "mfa"
RECOVERY_CODE_COUNT = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
DEVICE_NAME = "Authenticator app"



class CodeRefused(Exception):
    """The code was wrong, used already, or code attempts are paused (throttled)."""


# --- reading ----------------------------------------------------------------------------

def confirmed_devices(user: User):
    return TOTPDevice.objects.filter(user=user, confirmed=True)


def has_mfa(user: User) -> bool:
    return user.is_authenticated and confirmed_devices(user).exists()


def enrolled_user_ids(user_ids) -> set[int]:
    """Which of these accounts have two-factor on: one query (the Members tab's column)."""
    ids = list({i for i in user_ids if i is not None})
    if not ids:
        return set()
    return set(TOTPDevice.objects.filter(user_id__in=ids, confirmed=True).values_list("user_id", flat=True))


def recovery_codes_left(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def org_requires(organization: Organization) -> bool:
    return OrgMfaPolicy.objects.filter(organization=organization, required=True).exists()


def requiring_orgs(user: User) -> list[str]:
    """Names of the orgs that require two-factor authentication and that a
    password session of this person opens (an org in SSO Strict mode is opened by
    its IdP, which does its own MFA; its Owner's break-glass password and the
    members the Owner exempted from Strict mode count)."""
    password_opens = (
        Q(role=OrgRole.OWNER) | Q(sso_exempt=True)  # Strict mode's break-glass Owner and its exceptions
        | ~Q(organization__sso__enabled=True, organization__sso__strict=True)
    )
    return list(
        Membership.objects.in_effect()
        .filter(user=user, organization__mfa_policy__required=True)
        .filter(password_opens)
        .order_by("organization__name")
        .values_list("organization__name", flat=True)[:5]
    )


def enrolment_reasons(user: User) -> list[str]:
    """Why a password sign-in of this person must enrol first (empty: it need not)."""
    if not user.is_active or has_mfa(user):
        return []
    reasons = ["Operators must use two-factor authentication."] if user.is_superuser else []
    orgs = requiring_orgs(user)
    if orgs:
        reasons.append(f"{', '.join(orgs)} require{'s' if len(orgs) == 1 else ''} two-factor authentication.")
    return reasons


# --- throttling (organizations.signin.throttle, our own counters) --------------------------------

def seconds_locked(request: HttpRequest | None, user: User) -> int:
    return throttle.seconds_locked(request, user.email, prefix=THROTTLE_PREFIX)


def _clear_failures(user: User) -> None:
    """A correct code clears the account's counter when organizations.signin.throttle
    lets a prefix be named; otherwise the counter simply runs out its window."""
    if "prefix" in inspect.signature(throttle.record_success).parameters:
        throttle.record_success(user.email, prefix=THROTTLE_PREFIX)


def throttled_message(seconds: int) -> str:
    return (
        "Too many wrong codes. For your security, two-factor codes are paused; "
        f"try again in {max(1, math.ceil(seconds / 60))} minute(s)."
    )


# --- codes ------------------------------------------------------------------------------

def _normalise(code: str) -> str:
    return "".join(ch for ch in (code or "").lower() if ch.isalnum())


def _hash(code: str) -> str:
    return hashlib.sha256(_normalise(code).encode()).hexdigest()


def _looks_like_totp(code: str) -> bool:
    digits = "".join((code or "").split())
    return digits.isdigit() and len(digits) in (6, 8)


def _verify_totp(device_qs, code: str) -> TOTPDevice | None:
    token = "".join((code or "").split())
    with transaction.atomic():
        for device in device_qs.select_for_update().order_by("pk"):
            if device.verify_token(token):  # refuses a time step at or before last_t: no replay
                return device
    return None


def _use_recovery_code(user: User, code: str) -> bool:
    if len(_normalise(code)) != 10:
        return False
    used = RecoveryCode.objects.filter(user=user, code_hash=_hash(code), used_at__isnull=True).update(
        used_at=timezone.now()
    )
    return used == 1


def new_recovery_codes(user: User) -> list[str]:
    """Replace the account's recovery codes with RECOVERY_CODE_COUNT new ones,
    returned in clear text this once."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    with transaction.atomic():
        RecoveryCode.objects.filter(user=user).delete()
        RecoveryCode.objects.bulk_create(RecoveryCode(user=user, code_hash=_hash(c)) for c in codes)
    return codes


@dataclass
class Verified:
    how: str  # "totp" or "recovery"
    recovery_left: int | None = None


def verify(request: HttpRequest | None, user: User, code: str, *, purpose: str, allow_recovery: bool = True) -> Verified:
    """Check a second-factor code of this account's confirmed device or one of its
    recovery codes; throttled, and audited as passed or failed (`purpose`: what
    it was for, e.g. "sign-in"). Raises CodeRefused."""
    if locked := seconds_locked(request, user):
        raise CodeRefused(throttled_message(locked))
    verified = None
    if _looks_like_totp(code) and _verify_totp(confirmed_devices(user), code) is not None:
        verified = Verified("totp")
    elif allow_recovery and not _looks_like_totp(code) and _use_recovery_code(user, code):
        verified = Verified("recovery", recovery_codes_left(user))
    if verified is None:
        throttle.record_failure(request, user.email, prefix=THROTTLE_PREFIX)
        audit.record(None, user, ACCOUNT_MFA_CHALLENGE_FAILED, user, after={"purpose": purpose})
        raise CodeRefused("That code is not valid, or it was used already. Codes change every 30 seconds: "
                          "type the one your app shows now, or one of your recovery codes.")
    _clear_failures(user)
    if verified.how == "recovery":
        audit.record(None, user, ACCOUNT_MFA_RECOVERY_CODE_USED, user, after={"purpose": purpose, "left": verified.recovery_left})
    audit.record(None, user, ACCOUNT_MFA_CHALLENGE_PASSED, user, after={"purpose": purpose, "method": verified.how})
    return verified


# --- enrolling and disabling ---------------------------------------------------------------

def pending_device(user: User) -> TOTPDevice:
    """The unconfirmed device being enrolled (made once, so reloading the page keeps its secret)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def secret_of(device: TOTPDevice) -> str:
    """The key as authenticator apps take it when typed: base32."""
    return b32encode(device.bin_key).decode().rstrip("=")


def qr_data_uri(device: TOTPDevice) -> str:
    """The otpauth:// URI as a QR code, an SVG data: URI (the policy allows img-src data:)."""
    return segno.make(device.config_url, error="m").svg_data_uri(scale=5, border=2)


def confirm_enrolment(request: HttpRequest | None, user: User, code: str) -> list[str]:
    """The first valid code of the pending device turns two-factor on: returns the
    recovery codes (shown once). Raises CodeRefused."""
    if locked := seconds_locked(request, user):
        raise CodeRefused(throttled_message(locked))
    pending = TOTPDevice.objects.filter(user=user, confirmed=False)
    device = _verify_totp(pending, code) if _looks_like_totp(code) else None
    if device is None:
        throttle.record_failure(request, user.email, prefix=THROTTLE_PREFIX)
        audit.record(None, user, ACCOUNT_MFA_CHALLENGE_FAILED, user, after={"purpose": "enrolment"})
        raise CodeRefused("That code does not match. Scan the QR code again (or type the key) and enter the "
                          "6-digit code your app shows now.")
    _clear_failures(user)
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = new_recovery_codes(user)
        audit.record(None, user, ACCOUNT_MFA_ENROLLED, user, after={"device": device.name})
    return codes


def _remove(user: User) -> int:
    removed, _ = TOTPDevice.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()
    return removed


def disable(request: HttpRequest | None, user: User, code: str) -> None:
    """The person turns two-factor off, proving it with a current code. Raises CodeRefused."""
    verify(request, user, code, purpose="disabling two-factor")
    with transaction.atomic():
        _remove(user)
        audit.record(None, user, ACCOUNT_MFA_DISABLED, user)


def renew_recovery_codes(request: HttpRequest | None, user: User, code: str) -> list[str]:
    verify(request, user, code, purpose="new recovery codes", allow_recovery=False)
    codes = new_recovery_codes(user)
    audit.record(None, user, ACCOUNT_MFA_RECOVERY_CODES_RENEWED, user, after={"count": len(codes)})
    return codes


# --- someone else: reset, the org policy ------------------------------------------------------

def reset_refusal(actor: User, organization: Organization, member: Membership) -> str | None:
    """Who may reset a member's two-factor (a lost device): an operator, or the
    org's Owner for another person whose membership is in effect. An operator's
    own two-factor is reset only by another operator. None: allowed."""
    target = member.user
    if target.pk == actor.pk:
        return "You cannot reset your own two-factor authentication: use a recovery code, or ask another Owner."
    if member.organization_id != organization.pk or member.pending or not member.active:
        return f"{target.email} is not an active member of {organization.name}."
    if is_operator(actor):
        return None
    if target.is_superuser:
        return "Only another operator can reset an operator's two-factor authentication."
    is_owner = Membership.objects.in_effect().filter(
        user=actor, organization=organization, role=OrgRole.OWNER
    ).exists()
    if not is_owner:
        return f"Only the Owner of {organization.name} can reset a member's two-factor authentication."
    return None


def reset(actor: User, organization: Organization, member: Membership) -> None:
    """Remove the member's device and recovery codes (their device is lost): their
    next password sign-in asks for the password only (and for enrolling again, if
    an org of theirs requires it). Raises PermissionError when not allowed."""
    if refusal := reset_refusal(actor, organization, member):
        raise PermissionError(refusal)
    with transaction.atomic():
        removed = _remove(member.user)
        audit.record(organization, actor, ACCOUNT_MFA_RESET, member, after={"devices": removed})


def can_set_policy(user: User, organization: Organization) -> bool:
    return can_transfer_ownership(user, organization)  # the Owner, or an operator


def set_required(organization: Organization, required: bool, *, actor: User) -> bool:
    """The Owner's switch; returns whether it changed."""
    with transaction.atomic():
        policy, _ = OrgMfaPolicy.objects.select_for_update().get_or_create(organization=organization)
        if policy.required == required:
            return False
        before = policy.required
        policy.required = required
        policy.save(update_fields=["required", "updated_at"])
        audit.record(organization, actor, ORGANIZATION_MFA_REQUIRED, organization, before={"required": before}, after={"required": required})
    return True
