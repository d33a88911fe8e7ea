"""What happens to a SAML Response posted to an org's ACS URL: validate it with
python3-saml in strict mode, accept each assertion once, and match the NameID
to an active membership of *that* org. Every refusal is a `Refused` with a
reason code (recorded in the audit log) and a sentence safe to show."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models.functions import Lower
from onelogin.saml2.errors import OneLogin_Saml2_ValidationError as VE
from onelogin.saml2.response import OneLogin_Saml2_Response

from organizations import services as org_services
from organizations.models import Membership, OrgRole

from . import config, replay
from .models import SsoSettings

# python3-saml's error codes, by what they mean for the person signing in.
_REASONS: dict[int, str] = {
    VE.NO_SIGNATURE_FOUND: "unsigned",
    VE.NO_SIGNED_ASSERTION: "unsigned",
    VE.INVALID_SIGNATURE: "bad_signature",
    VE.WRONG_SIGNED_ELEMENT: "signature_wrapping",
    VE.ID_NOT_FOUND_IN_SIGNED_ELEMENT: "signature_wrapping",
    VE.DUPLICATED_ID_IN_SIGNED_ELEMENTS: "signature_wrapping",
    VE.INVALID_SIGNED_ELEMENT: "signature_wrapping",
    VE.DUPLICATED_REFERENCE_IN_SIGNED_ELEMENTS: "signature_wrapping",
    VE.UNEXPECTED_SIGNED_ELEMENTS: "signature_wrapping",
    VE.WRONG_NUMBER_OF_SIGNATURES_IN_RESPONSE: "signature_wrapping",
    VE.WRONG_NUMBER_OF_SIGNATURES_IN_ASSERTION: "signature_wrapping",
    VE.WRONG_NUMBER_OF_SIGNATURES: "signature_wrapping",
    VE.WRONG_NUMBER_OF_ASSERTIONS: "signature_wrapping",
    VE.ASSERTION_EXPIRED: "expired",
    VE.RESPONSE_EXPIRED: "expired",
    VE.SESSION_EXPIRED: "expired",
    VE.ASSERTION_TOO_EARLY: "not_yet_valid",
    VE.WRONG_AUDIENCE: "wrong_audience",
    VE.WRONG_DESTINATION: "wrong_destination",
    VE.EMPTY_DESTINATION: "wrong_destination",
    VE.WRONG_SUBJECTCONFIRMATION: "wrong_recipient",
    VE.WRONG_INRESPONSETO: "wrong_in_response_to",
    VE.WRONG_ISSUER: "wrong_issuer",
    VE.ISSUER_MULTIPLE_IN_RESPONSE: "wrong_issuer",
    VE.ISSUER_NOT_FOUND_IN_ASSERTION: "wrong_issuer",
    VE.STATUS_CODE_IS_NOT_SUCCESS: "idp_error",
    VE.NO_NAMEID: "no_nameid",
    VE.EMPTY_NAMEID: "no_nameid",
    VE.DEPRECATED_SIGNATURE_METHOD: "weak_algorithm",
    VE.DEPRECATED_DIGEST_METHOD: "weak_algorithm",
}

MESSAGES: dict[str, str] = {
    "sso_disabled": "Single sign-on is not enabled for this organization.",
    "not_configured": "Single sign-on is not set up for this organization yet.",
    "no_response": "No SAML response was received. Start again from the sign-in page.",
    "too_large": "The SAML response is too large.",
    "malformed": "The SAML response could not be read.",
    "unsigned": "The identity provider's response was not signed.",
    "bad_signature": "The identity provider's signature did not verify against the certificate configured for this organization.",
    "signature_wrapping": "The SAML response's structure is not allowed (signed and unsigned parts differ).",
    "expired": "The SAML assertion has expired. Sign in again.",
    "not_yet_valid": "The SAML assertion is not valid yet (check the identity provider's clock).",
    "wrong_audience": "The SAML assertion was issued for another service provider (audience).",
    "wrong_destination": "The SAML response was addressed to another URL (destination).",
    "wrong_recipient": "The SAML assertion was issued for another recipient or has expired.",
    "wrong_in_response_to": "The SAML response does not answer a sign-in started in this browser.",
    "unknown_request": "The SAML response answers a sign-in this browser did not start (or already finished).",
    "wrong_issuer": "The SAML response comes from another identity provider than the one configured.",
    "idp_error": "The identity provider refused the sign-in.",
    "no_nameid": "The SAML assertion does not name the person (NameID).",
    "weak_algorithm": "The SAML response uses a deprecated signature algorithm (SHA-1).",
    "invalid": "The SAML response is not valid.",
    "replayed": "This SAML assertion was already used. Sign in again.",
    "unknown_person": "{email} is not a member of {org}. Ask an administrator of {org} to add you.",
    "deactivated": "{email} is deactivated in {org}. Ask an administrator of {org} to reactivate you.",
    "account_disabled": "The account {email} is disabled.",
}

MAX_RESPONSE_BYTES = 256 * 1024


class Refused(Exception):
    def __init__(self, reason: str, *, email: str = "", detail: str = "") -> None:
        super().__init__(reason)
        self.reason, self.email, self.detail = reason, email, detail

    def message(self, org_name: str) -> str:
        return MESSAGES.get(self.reason, MESSAGES["invalid"]).format(email=self.email or "This person", org=org_name)


@dataclass
class Assertion:
    name_id: str
    name_id_format: str
    attributes: dict = field(default_factory=dict)
    assertion_id: str = ""
    in_response_to: str | None = None
    not_on_or_after: dt.datetime | None = None


def read_in_response_to(sso: SsoSettings, saml_response: str) -> str | None:
    """The InResponseTo of a response before it is validated (to find the request
    this browser started). Parsing refuses DTDs and entities."""
    return _parse(sso, saml_response).get_in_response_to()


def _parse(sso: SsoSettings, saml_response: str) -> OneLogin_Saml2_Response:
    if not saml_response:
        raise Refused("no_response")
    if len(saml_response) > MAX_RESPONSE_BYTES:
        raise Refused("too_large")
    try:
        return OneLogin_Saml2_Response(config.saml_settings(sso), saml_response)
    except Exception as exc:  # bad base64, not XML, a DTD or an entity
        raise Refused("malformed", detail=str(exc)[:200]) from exc


def validate(sso: SsoSettings, path: str, post: dict, *, request_id: str | None) -> Assertion:
    """A valid assertion for this org's SP, or Refused. `request_id` is the
    AuthnRequest this browser started, None for IdP-initiated sign-in."""
    if not sso.idp_configured:
        raise Refused("not_configured")
    response = _parse(sso, post.get("SAMLResponse", ""))
    try:
        response.is_valid(config.request_data(path, post=post), request_id=request_id, raise_exceptions=True)
    except VE as exc:
        raise Refused(_REASONS.get(exc.code, "invalid"), detail=str(exc)[:200]) from exc
    except Exception as exc:  # xmlsec/lxml errors on hostile documents
        raise Refused("invalid", detail=str(exc)[:200]) from exc
    name_id = (response.get_nameid() or "").strip()
    if not name_id:
        raise Refused("no_nameid")
    nooa = response.get_assertion_not_on_or_after()
    return Assertion(
        name_id=name_id,
        name_id_format=response.get_nameid_format() or "",
        attributes=response.get_attributes(),
        assertion_id=response.get_assertion_id() or "",
        in_response_to=response.get_in_response_to(),
        not_on_or_after=dt.datetime.fromtimestamp(nooa, tz=dt.timezone.utc) if nooa else None,
    )


def claim_once(sso: SsoSettings, assertion: Assertion) -> None:
    if not assertion.assertion_id or not replay.claim(sso.organization, assertion.assertion_id, assertion.not_on_or_after):
        raise Refused("replayed", email=assertion.name_id)


def find_membership(sso: SsoSettings, email: str) -> Membership | None:
    """The membership of this org the NameID names: the IdP's userName for this
    org (SCIM profile) first, then the account e-mail. Never another org's."""
    org = sso.organization
    scoped = Membership.objects.filter(organization=org).select_related("user", "organization")
    found = scoped.alias(_u=Lower("scim_username")).filter(_u=email.lower()).first()
    if found is None:
        found = scoped.alias(_e=Lower("user__email")).filter(_e=email.lower()).first()
    return found


def jit_allowed(sso: SsoSettings) -> bool:
    """Just-in-time creation only when SCIM is off: with SCIM on, the IdP
    provisions people and an unknown NameID is someone it did not assign."""
    return sso.jit_provisioning and not sso.organization.scim_enabled


def check_membership(sso: SsoSettings, email: str, *, create: bool) -> Membership:
    membership = find_membership(sso, email)
    if membership is None:
        if not (create and jit_allowed(sso) and "@" in email):
            raise Refused("unknown_person", email=email)
        try:
            membership = org_services.add_member(sso.organization, email, role=OrgRole.MEMBER, actor=None)
        except org_services.ServiceError as exc:
            raise Refused("unknown_person", email=email, detail=str(exc)) from exc
    if not membership.active:
        raise Refused("deactivated", email=email)
    if not membership.user.is_active:
        raise Refused("account_disabled", email=email)
    return membership


def would_accept(sso: SsoSettings, email: str) -> tuple[bool, str]:
    """For Test SSO: would this NameID be let in (without creating anyone)?"""
    membership = find_membership(sso, email)
    if membership is None:
        if jit_allowed(sso):
            return True, f"{email} is not a member yet and would be created as a Member (just-in-time)."
        return False, Refused("unknown_person", email=email).message(sso.organization.name)
    if not membership.active:
        return False, Refused("deactivated", email=email).message(sso.organization.name)
    if not membership.user.is_active:
        return False, Refused("account_disabled", email=email).message(sso.organization.name)
    return True, f"{email} would sign in as {membership.get_role_display()}."
