"""What happens to a SAML Response posted to an org's ACS URL: validate it with
python3-saml in strict mode, accept each assertion once, and find the
membership of *that* org the NameID is linked to (organizations.signin.saml.
linking). Every refusal is a `Refused` with a reason code (recorded in the
audit log) and a sentence safe to show."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from onelogin.saml2.errors import OneLogin_Saml2_ValidationError as VE
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

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
    VE.NO_ENCRYPTED_ASSERTION: "not_encrypted",
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
    "idp_initiated_off": "This organization accepts single sign-on only when it is started from Orgdesk's sign-in page, not from the identity provider's dashboard.",
    "unknown_request": "The SAML response answers a sign-in this browser did not start (or already finished).",
    "wrong_issuer": "The SAML response comes from another identity provider than the one configured.",
    "idp_error": "The identity provider refused the sign-in.",
    "no_nameid": "The SAML assertion does not name the person (NameID).",
    "weak_algorithm": "The SAML response uses a deprecated signature algorithm (SHA-1).",
    "not_encrypted": "This organization requires encrypted assertions, and the identity provider sent one unencrypted. Turn on assertion encryption at the identity provider (with Orgdesk's certificate).",
    "invalid": "The SAML response is not valid.",
    "replayed": "This SAML assertion was already used. Sign in again.",
    "unknown_person": "{email} is not a member of {org}. Ask an administrator of {org} to add you.",
    "deactivated": "{email} is deactivated in {org}. Ask an administrator of {org} to reactivate you.",
    "pending": "{email} has been invited to {org} and has not joined yet. Accept the invitation e-mailed to {email} first.",
    "account_disabled": "The account {email} is disabled.",
    "operator": "{email} is an operator account: operators sign in with their password, never through an organization's identity provider.",
    "link_expired": "The sign-in to link has expired. Sign in through your identity provider again.",
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
    session_index: str = ""  # the IdP's session, named again by single logout


SCD_XPATH = "//saml:Assertion/saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData"


def requested_id(sso: SsoSettings, saml_response: str) -> str | None:
    """The AuthnRequest a response answers, read before it is validated (to find
    the request this browser started): the Response's InResponseTo and the
    assertion's (SubjectConfirmationData, inside the signed part) must agree, so
    an assertion answering another browser's request cannot be re-wrapped as an
    IdP-initiated one. None: no InResponseTo anywhere (IdP-initiated).
    Parsing refuses DTDs and entities."""
    response = _parse(sso, saml_response)
    document = response.decrypted_document if response.encrypted else response.document
    ids = {response.get_in_response_to()} | {
        node.get("InResponseTo") for node in OneLogin_Saml2_XML.query(document, SCD_XPATH)
    }
    ids.discard(None)
    if len(ids) > 1:
        raise Refused("wrong_in_response_to", detail="Response and assertion name different requests")
    return ids.pop() if ids else None


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
    signed_ids = {node.get("InResponseTo") for node in response._query_assertion(
        "/saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData"
    )} - {None}
    if signed_ids and signed_ids != {request_id}:
        raise Refused("wrong_in_response_to", detail="the signed assertion answers another request")
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
        session_index=(response.get_session_index() or "")[:256],
    )


def claim_once(sso: SsoSettings, assertion: Assertion) -> None:
    if not assertion.assertion_id or not replay.claim(sso.organization, assertion.assertion_id, assertion.not_on_or_after):
        raise Refused("replayed", email=assertion.name_id)
