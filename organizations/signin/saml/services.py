"""Every change to an org's SSO settings. Each runs in a transaction, records
its audit entry and takes a keyword-only `actor`. Only the Owner (or a
superuser) configures SSO: views and commands check can_configure_sso first."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

from organizations import audit, permissions
from organizations.audit import Actor
from organizations.audit_actions import (
    SSO_CREATE, SSO_DISABLE, SSO_ENABLE, SSO_EXCEPTION_ADD, SSO_EXCEPTION_REMOVE,
    SSO_METADATA_REFRESH, SSO_METADATA_REFRESH_FAILED, SSO_SET_IDENTITY_PROVIDER, SSO_SET_JIT_PROVISIONING,
    SSO_SET_METADATA_URL, SSO_SET_SECURITY_OPTIONS, SSO_SET_SESSION_POLICY, SSO_SET_STRICT, SSO_TEST,
)
from organizations.models import Membership, Organization, OrgRole, User
from organizations.services import ServiceError

from . import fetch
from .models import SIGNIN_NAME_RE, SsoSettings

CERT_WARNING_DAYS = 30
MAX_METADATA_BYTES = 512 * 1024
_PEM_RE = re.compile(r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.S)


def can_configure_sso(user: User, org: Organization) -> bool:
    """The Owner edits SSO (Admins only read it): a wrong IdP certificate or
    Strict mode can lock everyone out, and the Owner keeps the break-glass path.
    The tenant gate's Owner check (the one that guards ownership transfer)."""
    return permissions.can_transfer_ownership(user, org)


def _ensure_owner(org: Organization, actor: Actor) -> None:
    """A user acting must be the Owner; None (the system, an operator's command) is trusted."""
    if isinstance(actor, User) and not can_configure_sso(actor, org):
        raise permissions.NotPermitted(f"{actor.email} is not the Owner of {org.name}; only the Owner configures SSO.")


# ---- certificates and metadata ------------------------------------------------


@dataclass(frozen=True)
class CertInfo:
    subject: str
    issuer: str
    not_after: datetime
    sha256: str

    @property
    def days_left(self) -> int:
        return (self.not_after - timezone.now()).days

    @property
    def expired(self) -> bool:
        return self.not_after <= timezone.now()

    @property
    def expires_soon(self) -> bool:
        return self.not_after <= timezone.now() + timedelta(days=CERT_WARNING_DAYS)


def normalize_certificate(text: str) -> str:
    """A PEM certificate from a PEM block or the bare base64 IdPs show (Okta's
    "X.509 Certificate"); anything that does not parse is a form error."""
    text = (text or "").strip()
    match = _PEM_RE.search(text)
    body = match.group(1) if match else text
    body = "".join(body.split())
    if not body or not re.fullmatch(r"[A-Za-z0-9+/=]+", body):
        raise ServiceError("The signing certificate is not a PEM or base64 X.509 certificate.")
    pem = "-----BEGIN CERTIFICATE-----\n" + "\n".join(body[i:i + 64] for i in range(0, len(body), 64))
    pem += "\n-----END CERTIFICATE-----\n"
    try:
        x509.load_pem_x509_certificate(pem.encode("ascii"))
    except ValueError as exc:
        raise ServiceError("The signing certificate could not be read as an X.509 certificate.") from exc
    return pem


def certificate_info(pem: str) -> CertInfo | None:
    if not pem:
        return None
    try:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
    except ValueError:
        return None
    return CertInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_after=cert.not_valid_after_utc,
        sha256=cert.fingerprint(hashes.SHA256()).hex(":").upper(),
    )


def _date(when: datetime) -> str:
    return when.strftime("%Y-%m-%d")


@dataclass(frozen=True)
class IdpValues:
    entity_id: str
    sso_url: str
    certificate: str
    next_certificate: str = ""
    slo_url: str = ""


def _signing_certificates(idp: dict) -> list[str]:
    """Every signing certificate the parser found, in document order."""
    found = [idp["x509cert"]] if idp.get("x509cert") else []
    found += list((idp.get("x509certMulti") or {}).get("signing") or [])
    return found


def choose_certificates(certificates: list[str]) -> tuple[str, str]:
    """The (primary, next) signing certificates to trust out of those an IdP
    publishes: expired ones are dropped while another is valid (an IdP mid-
    rollover, Okta's two KeyDescriptors, lists both), at most two are kept, in
    document order. Only expired certificates: refused, saying when they expired."""
    pems: list[str] = []
    for cert in certificates:
        pem = normalize_certificate(cert)
        if pem not in pems:
            pems.append(pem)
    if not pems:
        raise ServiceError("The IdP metadata names no signing certificate.")
    infos = [(pem, certificate_info(pem)) for pem in pems]
    valid = [pem for pem, info in infos if info is not None and not info.expired]
    if not valid:
        latest = max(info.not_after for _, info in infos if info is not None)
        raise ServiceError(
            f"The IdP's signing certificate expired on {_date(latest)}: sign-ins it signs cannot be trusted. "
            "Have your identity provider publish its current certificate, then import the metadata again."
        )
    return valid[0], (valid[1] if len(valid) > 1 else "")


def parse_idp_metadata(xml: str | bytes) -> IdpValues:
    """The IdP's entity ID, HTTP-Redirect SSO URL (and SingleLogoutService, if
    any) and signing certificates (up to two: a rollover) from its metadata,
    read with python3-saml's parser (no DTDs, no entities)."""
    raw = xml.encode() if isinstance(xml, str) else xml
    if not raw.strip():
        raise ServiceError("The IdP metadata is empty.")
    if len(raw) > MAX_METADATA_BYTES:
        raise ServiceError("The IdP metadata is larger than 512 KB.")
    try:
        data = OneLogin_Saml2_IdPMetadataParser.parse(raw)
    except Exception as exc:  # the parser raises bare Exceptions and lxml errors alike
        raise ServiceError("The IdP metadata is not valid SAML metadata XML.") from exc
    idp = data.get("idp") or {}
    entity_id = idp.get("entityId") or ""
    sso_url = (idp.get("singleSignOnService") or {}).get("url") or ""
    slo_url = (idp.get("singleLogoutService") or {}).get("url") or ""
    certificates = _signing_certificates(idp)
    if not (entity_id and sso_url and certificates):
        raise ServiceError(
            "The IdP metadata must name the entity ID, an HTTP-Redirect SingleSignOnService and a signing certificate."
        )
    primary, following = choose_certificates(certificates)
    if slo_url and not re.match(r"^https?://", slo_url):
        slo_url = ""
    return IdpValues(entity_id=entity_id, sso_url=sso_url, certificate=primary, next_certificate=following,
                     slo_url=slo_url[:1024])


def configured_certificates(sso: SsoSettings) -> list[str]:
    return [pem for pem in (sso.idp_x509_cert, sso.idp_x509_cert_next) if pem]


def trusted_certificates(sso: SsoSettings) -> list[str]:
    """The signing certificates a response may be signed with: the configured
    ones not yet expired. When every one has expired, the primary alone (the
    tab flags it and SSO cannot be enabled with it): a rollover never widens trust."""
    configured = configured_certificates(sso)
    valid = [pem for pem in configured if (info := certificate_info(pem)) is not None and not info.expired]
    return valid or configured[:1]


def certificate_in_use(sso: SsoSettings) -> CertInfo | None:
    """The trusted certificate that expires last: sign-ins stop when it does."""
    infos = [info for pem in trusted_certificates(sso) if (info := certificate_info(pem)) is not None]
    return max(infos, key=lambda info: info.not_after) if infos else None


# ---- settings -----------------------------------------------------------------


def _snapshot(sso: SsoSettings) -> dict:
    """What the audit log keeps of the settings: the certificate by fingerprint."""
    info = certificate_info(sso.idp_x509_cert)
    following = certificate_info(sso.idp_x509_cert_next)
    sp_cert = certificate_info(sso.sp_x509_cert)
    return {
        "signin_name": sso.signin_name,
        "idp_entity_id": sso.idp_entity_id,
        "idp_sso_url": sso.idp_sso_url,
        "idp_slo_url": sso.idp_slo_url,
        "idp_certificate_sha256": info.sha256 if info else "",
        "idp_next_certificate_sha256": following.sha256 if following else "",
        "metadata_url": sso.metadata_url,
        "sign_authn_requests": sso.sign_authn_requests,
        "want_assertions_encrypted": sso.want_assertions_encrypted,
        "sp_certificate_sha256": sp_cert.sha256 if sp_cert else "",
        "enabled": sso.enabled,
        "strict": sso.strict,
        "jit_provisioning": sso.jit_provisioning,
        "allow_idp_initiated": sso.allow_idp_initiated,
        "session_timeout_minutes": sso.session_timeout_minutes,
    }


def suggested_signin_name(org: Organization) -> str:
    base = slugify(org.name)[:40].strip("-") or "org"
    name, n = base, 1
    while SsoSettings.objects.filter(signin_name=name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def validate_signin_name(name: str) -> str:
    name = (name or "").strip().lower()
    if not re.fullmatch(SIGNIN_NAME_RE, name):
        raise ServiceError("The sign-in name must be 1-50 lowercase letters, digits and hyphens.")
    return name


def get_settings(org: Organization) -> SsoSettings | None:
    return SsoSettings.objects.filter(organization=org).select_related("organization").first()


@transaction.atomic
def create_settings(org: Organization, *, actor: Actor, signin_name: str | None = None) -> SsoSettings:
    """Step 1: the sign-in name. It is fixed once created."""
    _ensure_owner(org, actor)
    existing = SsoSettings.objects.select_for_update().filter(organization=org).first()
    if existing is not None:
        if signin_name and validate_signin_name(signin_name) != existing.signin_name:
            raise ServiceError(f"The sign-in name is already \"{existing.signin_name}\" and cannot change.")
        return existing
    name = validate_signin_name(signin_name) if signin_name else suggested_signin_name(org)
    try:
        with transaction.atomic():
            sso = SsoSettings.objects.create(organization=org, signin_name=name)
    except IntegrityError as exc:
        raise ServiceError(f"The sign-in name \"{name}\" is taken; choose another.") from exc
    audit.record(org, actor, SSO_CREATE, sso, after=_snapshot(sso), target_label=name)
    return sso


def _locked(org: Organization, actor: Actor) -> SsoSettings:
    _ensure_owner(org, actor)
    sso = SsoSettings.objects.select_for_update().select_related("organization").filter(organization=org).first()
    if sso is None:
        raise ServiceError("Choose a sign-in name first.")
    return sso


def _save(sso: SsoSettings, before: dict, action: str, *, actor: Actor, fields: list[str]) -> SsoSettings:
    sso.save(update_fields=[*fields, "updated_at"])
    after = _snapshot(sso)
    changed = {k for k in after if after[k] != before[k]}
    if changed:
        audit.record(
            sso.organization, actor, action, sso,
            before={k: before[k] for k in changed}, after={k: after[k] for k in changed},
            target_label=sso.signin_name,
        )
    return sso


def _clean_idp(entity_id: str, sso_url: str, slo_url: str) -> tuple[str, str, str]:
    entity_id, sso_url, slo_url = (entity_id or "").strip(), (sso_url or "").strip(), (slo_url or "").strip()
    if not entity_id:
        raise ServiceError("The IdP entity ID (Identity Provider Issuer) is required.")
    if not re.match(r"^https?://", sso_url):
        raise ServiceError("The IdP Single Sign-On URL must be an http(s) URL.")
    if slo_url and not re.match(r"^https?://", slo_url):
        raise ServiceError("The IdP Single Logout URL must be an http(s) URL.")
    return entity_id[:1024], sso_url[:1024], slo_url[:1024]


def _apply_idp(sso: SsoSettings, entity_id: str, sso_url: str, slo_url: str, pem: str, next_pem: str) -> list[str]:
    sso.idp_entity_id, sso.idp_sso_url, sso.idp_slo_url = entity_id, sso_url, slo_url
    sso.idp_x509_cert, sso.idp_x509_cert_next = pem, next_pem if next_pem != pem else ""
    return ["idp_entity_id", "idp_sso_url", "idp_slo_url", "idp_x509_cert", "idp_x509_cert_next"]


@transaction.atomic
def set_identity_provider(
    org: Organization, *, entity_id: str, sso_url: str, certificate: str, actor: Actor,
    next_certificate: str = "", slo_url: str = "",
) -> SsoSettings:
    """By hand (or from an uploaded document). `next_certificate`: a second
    signing certificate trusted next to the first until it expires (a rollover)."""
    entity_id, sso_url, slo_url = _clean_idp(entity_id, sso_url, slo_url)
    pem = normalize_certificate(certificate)
    next_pem = normalize_certificate(next_certificate) if (next_certificate or "").strip() else ""
    sso = _locked(org, actor)
    before = _snapshot(sso)
    fields = _apply_idp(sso, entity_id, sso_url, slo_url, pem, next_pem)
    return _save(sso, before, SSO_SET_IDENTITY_PROVIDER, actor=actor, fields=fields)


def import_metadata(org: Organization, xml: str | bytes, *, actor: Actor) -> SsoSettings:
    values = parse_idp_metadata(xml)
    return set_identity_provider(
        org, entity_id=values.entity_id, sso_url=values.sso_url, certificate=values.certificate,
        next_certificate=values.next_certificate, slo_url=values.slo_url, actor=actor,
    )


# ---- the metadata URL ----------------------------------------------------------


def _apply_values(sso: SsoSettings, values: IdpValues) -> list[str]:
    entity_id, sso_url, slo_url = _clean_idp(values.entity_id, values.sso_url, values.slo_url)
    return _apply_idp(sso, entity_id, sso_url, slo_url, values.certificate, values.next_certificate)


@transaction.atomic
def _store_metadata_url(org: Organization, url: str, values: IdpValues, *, actor: Actor) -> SsoSettings:
    sso = _locked(org, actor)
    before = _snapshot(sso)
    fields = _apply_values(sso, values)
    sso.metadata_url = url
    sso.metadata_refreshed_at, sso.metadata_error, sso.metadata_error_at = timezone.now(), "", None
    return _save(sso, before, SSO_SET_METADATA_URL, actor=actor,
                 fields=[*fields, "metadata_url", "metadata_refreshed_at", "metadata_error", "metadata_error_at"])


def set_metadata_url(org: Organization, url: str, *, actor: Actor) -> SsoSettings:
    """Configure the IdP from its metadata URL (fetched now, and nightly after:
    refresh_metadata). Nothing is stored unless the fetched document is good.
    An empty URL stops the nightly refresh and keeps the current values."""
    _ensure_owner(org, actor)
    url = (url or "").strip()
    if not url:
        return clear_metadata_url(org, actor=actor)
    url = fetch.check_url(url)
    values = parse_idp_metadata(fetch.fetch_metadata(url))  # outside the transaction: network I/O
    return _store_metadata_url(org, url, values, actor=actor)


@transaction.atomic
def clear_metadata_url(org: Organization, *, actor: Actor) -> SsoSettings:
    sso = _locked(org, actor)
    before = _snapshot(sso)
    sso.metadata_url, sso.metadata_error, sso.metadata_error_at = "", "", None
    return _save(sso, before, SSO_SET_METADATA_URL, actor=actor,
                 fields=["metadata_url", "metadata_error", "metadata_error_at"])


def refresh_metadata(sso_id: int) -> bool:
    """Fetch one org's metadata URL again (the nightly beat task). A good
    document replaces the IdP values (audited when they change); a failure keeps
    them and is shown on the tab, with when the last refresh succeeded."""
    sso = SsoSettings.objects.select_related("organization").filter(pk=sso_id).exclude(metadata_url="").first()
    if sso is None:
        return False
    url = sso.metadata_url
    try:
        values = parse_idp_metadata(fetch.fetch_metadata(fetch.check_url(url)))
        _clean_idp(values.entity_id, values.sso_url, values.slo_url)
    except ServiceError as exc:
        error = str(exc)[:500]
        with transaction.atomic():
            locked = SsoSettings.objects.select_for_update().filter(pk=sso_id, metadata_url=url).first()
            if locked is None:
                return False
            locked.metadata_error, locked.metadata_error_at = error, timezone.now()
            locked.save(update_fields=["metadata_error", "metadata_error_at", "updated_at"])
            audit.record(sso.organization, None, SSO_METADATA_REFRESH_FAILED, locked,
                         target_label=locked.signin_name, after={"url": url, "error": error})
        return False
    with transaction.atomic():
        locked = SsoSettings.objects.select_for_update().select_related("organization").filter(
            pk=sso_id, metadata_url=url).first()
        if locked is None:  # the Owner changed the URL meanwhile
            return False
        before = _snapshot(locked)
        fields = _apply_values(locked, values)
        locked.metadata_refreshed_at, locked.metadata_error, locked.metadata_error_at = timezone.now(), "", None
        _save(locked, before, SSO_METADATA_REFRESH, actor=None,
              fields=[*fields, "metadata_refreshed_at", "metadata_error", "metadata_error_at"])
    return True


def refresh_all_metadata() -> int:
    """Every org with a metadata URL, one at a time; returns how many succeeded."""
    ids = list(SsoSettings.objects.exclude(metadata_url="").values_list("pk", flat=True))
    return sum(1 for sso_id in ids if refresh_metadata(sso_id))


def certificate_notice(sso: SsoSettings) -> tuple[str, str] | None:
    """("error" | "warning", sentence) when the certificate in use (the trusted
    one that expires last) has expired or expires within CERT_WARNING_DAYS: said
    at the top of the SSO tab and in the message of the import that brought it."""
    info = certificate_in_use(sso)
    if info is None:
        return None
    when = timezone.localtime(info.not_after).strftime("%Y-%m-%d")
    if info.expired:
        return ("error", f"The IdP signing certificate expired on {when}: SSO cannot be enabled with it, and "
                "sign-ins through the IdP are refused. Your identity provider has probably moved to a new "
                "certificate: import its current certificate (or metadata).")
    if info.expires_soon:
        days = max(info.days_left, 0)
        return ("warning", f"The IdP signing certificate expires within {CERT_WARNING_DAYS} days (on {when}, "
                f"{days} day{'s' if days != 1 else ''} left). Import the IdP's new certificate (or metadata) "
                "before then, or sign-ins will stop. The Owner is e-mailed 30, 7 and 1 days before.")
    return None


def enable_refusal(sso: SsoSettings | None) -> str | None:
    """Why SSO cannot be enabled now (asked before the confirmation, and again by
    enable_sso), or None."""
    if sso is None:
        return "Choose a sign-in name first."
    if not sso.idp_configured:
        return "Enter the identity provider's settings (or import its metadata) before enabling SSO."
    info = certificate_in_use(sso)
    if info is None or info.expired:
        return ("The IdP signing certificate has expired; import the IdP's current certificate (or metadata) "
                "before enabling SSO.")
    return None




@transaction.atomic
def enable_sso(org: Organization, *, actor: Actor) -> SsoSettings:
    sso = _locked(org, actor)
    if refusal := enable_refusal(sso):
        raise ServiceError(refusal)
    before = _snapshot(sso)
    sso.enabled, sso.enabled_at = True, timezone.now()
    return _save(sso, before, SSO_ENABLE, actor=actor, fields=["enabled", "enabled_at"])


@transaction.atomic
def disable_sso(org: Organization, *, actor: Actor) -> SsoSettings:
    """Everyone stays in the org; people then sign in with a password (reset by
    e-mail). Strict mode goes off with SSO, or nobody but the Owner could sign in."""
    sso = _locked(org, actor)
    before = _snapshot(sso)
    sso.enabled, sso.strict = False, False
    return _save(sso, before, SSO_DISABLE, actor=actor, fields=["enabled", "strict"])


@transaction.atomic
def set_strict(org: Organization, strict: bool, *, actor: Actor) -> SsoSettings:
    sso = _locked(org, actor)
    if strict and not sso.enabled:
        raise ServiceError("Enable SSO before turning on Strict mode.")
    before = _snapshot(sso)
    sso.strict = bool(strict)
    return _save(sso, before, SSO_SET_STRICT, actor=actor, fields=["strict"])


@transaction.atomic
def set_jit_provisioning(org: Organization, jit: bool, *, actor: Actor) -> SsoSettings:
    sso = _locked(org, actor)
    before = _snapshot(sso)
    sso.jit_provisioning = bool(jit)
    return _save(sso, before, SSO_SET_JIT_PROVISIONING, actor=actor, fields=["jit_provisioning"])


@transaction.atomic
def set_session_policy(
    org: Organization, *, allow_idp_initiated: bool, session_timeout_minutes: int, actor: Actor
) -> SsoSettings:
    """Whether the IdP's dashboard may start a sign-in (IdP-initiated), and how
    long an SSO session for this org lasts before going back through the IdP."""
    if not 5 <= session_timeout_minutes <= 14 * 24 * 60:
        raise ServiceError("The session timeout must be between 5 minutes and 14 days.")
    sso = _locked(org, actor)
    before = _snapshot(sso)
    sso.allow_idp_initiated = bool(allow_idp_initiated)
    sso.session_timeout_minutes = session_timeout_minutes
    return _save(
        sso, before, SSO_SET_SESSION_POLICY, actor=actor, fields=["allow_idp_initiated", "session_timeout_minutes"]
    )


@transaction.atomic
def set_sso_exemption(membership: Membership, exempt: bool, *, actor: Actor) -> Membership:
    """The Owner lets a named member keep signing in with a password while Strict
    mode is on (or takes that away: their password sessions stop opening the org
    on their next request, organizations.signin.sessions)."""
    org = membership.organization
    _ensure_owner(org, actor)
    membership = Membership.objects.select_for_update(of=("self",)).select_related("user").get(pk=membership.pk)
    if membership.role == OrgRole.OWNER:
        raise ServiceError("The Owner always keeps password sign-in; no exception is needed.")
    if membership.sso_exempt == exempt:
        return membership
    membership.sso_exempt = exempt
    membership.save(update_fields=["sso_exempt", "updated_at"])
    audit.record(
        org, actor, SSO_EXCEPTION_ADD if exempt else SSO_EXCEPTION_REMOVE, membership,
        target_label=membership.user.email, after={"sso_exempt": exempt},
    )
    return membership


@transaction.atomic
def record_test(org: Organization, *, ok: bool, summary: dict, actor: Actor) -> None:
    sso = _locked(org, actor)
    sso.last_test_at, sso.last_test_ok, sso.last_test_summary = timezone.now(), ok, summary
    sso.save(update_fields=["last_test_at", "last_test_ok", "last_test_summary", "updated_at"])
    audit.record(org, actor, SSO_TEST, sso, after={"accepted": ok, **summary}, target_label=sso.signin_name)


# ---- certificate expiry warnings ------------------------------------------------

EXPIRY_WARNING_DAYS = (30, 7, 1)


def due_warning(sso: SsoSettings) -> tuple[int, CertInfo] | None:
    """The expiry warning to send now, if any: (days, the certificate in use).
    Each of 30, 7 and 1 days is sent once per certificate; a warning that
    became due while an earlier one was pending replaces it (no burst)."""
    info = certificate_in_use(sso)
    if info is None or info.expired:
        return None
    days_left = info.days_left
    due = [days for days in EXPIRY_WARNING_DAYS if days_left < days]
    if not due:
        return None
    sent = sso.cert_warnings_sent or {}
    already = set(sent.get("days") or []) if sent.get("sha256") == info.sha256 else set()
    if min(due) in already:
        return None
    return min(due), info


# ---- the SP's key pair: signed AuthnRequests, encrypted assertions ---------------

SP_KEY_BITS = 3072
SP_CERT_YEARS = 10


def _generate_sp_key(org: Organization) -> tuple[str, str]:
    """A new RSA key and a self-signed certificate naming the org (IdPs trust
    the SP certificate itself, as pasted or read from the SP metadata)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=SP_KEY_BITS)
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, f"Orgdesk SAML SP {org.uid}"[:64]),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, (org.name or "Orgdesk")[:64]),
    ])
    now = timezone.now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365 * SP_CERT_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def _ensure_sp_key(sso: SsoSettings) -> list[str]:
    """Give a locked SsoSettings its key pair if it has none; the fields changed."""
    if sso.sp_x509_cert and sso.sp_private_key:
        return []
    sso.sp_x509_cert, sso.sp_private_key = _generate_sp_key(sso.organization)
    return ["sp_x509_cert", "sp_private_key"]


@transaction.atomic
def set_security_options(
    org: Organization, *, sign_authn_requests: bool, want_assertions_encrypted: bool, actor: Actor
) -> SsoSettings:
    """Sign AuthnRequests (and logout messages) with the org's SP key, and/or
    require the IdP to encrypt assertions to the SP certificate. The key pair is
    generated the first time either is turned on and kept after (the IdP holds
    its certificate); its private key is never shown."""
    sso = _locked(org, actor)
    before = _snapshot(sso)
    fields = ["sign_authn_requests", "want_assertions_encrypted"]
    if sign_authn_requests or want_assertions_encrypted:
        fields += _ensure_sp_key(sso)
    sso.sign_authn_requests, sso.want_assertions_encrypted = bool(sign_authn_requests), bool(want_assertions_encrypted)
    return _save(sso, before, SSO_SET_SECURITY_OPTIONS, actor=actor, fields=fields)
