"""The service-provider side of one org, as python3-saml wants it.

Every URL is built from PUBLIC_BASE_URL, never from the request's Host header:
the Destination and Recipient an IdP signs must equal what the admin pasted
into it, whatever host or proxy the POST came through."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from organizations.models import Organization

from .models import SsoSettings
from .services import trusted_certificates

NAMEID_FORMAT = OneLogin_Saml2_Constants.NAMEID_EMAIL_ADDRESS


def apply_clock_skew() -> None:
    """python3-saml allows 300 s of clock drift on NotBefore/NotOnOrAfter by a
    class constant; SAML_CLOCK_SKEW_SECONDS makes it small (default 120 s)."""
    OneLogin_Saml2_Constants.ALLOWED_CLOCK_DRIFT = settings.SAML_CLOCK_SKEW_SECONDS


@dataclass(frozen=True)
class SpUrls:
    entity_id: str
    acs_url: str
    metadata_url: str
    login_url: str
    slo_url: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "entity_id": self.entity_id,
            "acs_url": self.acs_url,
            "metadata_url": self.metadata_url,
            "login_url": self.login_url,
            "slo_url": self.slo_url,
        }


def _absolute(path: str) -> str:
    return settings.PUBLIC_BASE_URL + path


def sp_urls(org: Organization) -> SpUrls:
    """The values to paste into the IdP. The entity ID is the metadata URL, the
    usual convention (Okta's "Audience URI")."""
    metadata_url = _absolute(reverse("saml:metadata", args=[org.uid]))
    return SpUrls(
        entity_id=metadata_url,
        acs_url=_absolute(reverse("saml:acs", args=[org.uid])),
        metadata_url=metadata_url,
        login_url=_absolute(reverse("saml:login", args=[org.uid])),
        slo_url=_absolute(reverse("saml:slo", args=[org.uid])),
    )


def request_data(path: str, post: dict | None = None, get: dict | None = None) -> dict:
    """python3-saml's view of the request, on the public base URL (see above)."""
    parts = urlsplit(settings.PUBLIC_BASE_URL)
    return {
        "https": "on" if parts.scheme == "https" else "off",
        "http_host": parts.netloc,
        "script_name": parts.path.rstrip("/") + path,
        "get_data": get or {},
        "post_data": post or {},
    }


def saml_settings(sso: SsoSettings) -> OneLogin_Saml2_Settings:
    """Strict validation: signed assertions required, audience, destination,
    recipient, timestamps and issuer checked; the schema is validated and DTDs
    are refused by the library's parser.

    The IdP's signing certificates: both during a rollover (x509certMulti), each
    until it expires (services.trusted_certificates). The SP's own key pair,
    once generated (services.ensure_sp_key), signs AuthnRequests and logout
    messages when the org turned signing on, and decrypts encrypted assertions;
    its certificate is in the SP metadata."""
    urls = sp_urls(sso.organization)
    certificates = trusted_certificates(sso)
    has_key = bool(sso.sp_x509_cert and sso.sp_private_key)
    sign = bool(sso.sign_authn_requests and has_key)
    idp: dict = {
        "entityId": sso.idp_entity_id,
        "singleSignOnService": {"url": sso.idp_sso_url, "binding": OneLogin_Saml2_Constants.BINDING_HTTP_REDIRECT},
        "x509cert": certificates[0] if certificates else "",
    }
    if len(certificates) > 1:
        idp["x509certMulti"] = {"signing": certificates}
    if sso.idp_slo_url:
        idp["singleLogoutService"] = {"url": sso.idp_slo_url, "binding": OneLogin_Saml2_Constants.BINDING_HTTP_REDIRECT}
    data = {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": urls.entity_id,
            "assertionConsumerService": {"url": urls.acs_url, "binding": OneLogin_Saml2_Constants.BINDING_HTTP_POST},
            "singleLogoutService": {"url": urls.slo_url, "binding": OneLogin_Saml2_Constants.BINDING_HTTP_REDIRECT},
            "NameIDFormat": NAMEID_FORMAT,
            "x509cert": sso.sp_x509_cert if has_key else "",
            "privateKey": sso.sp_private_key if has_key else "",
        },
        "idp": idp,
        "security": {
            "wantAssertionsSigned": True,
            "wantMessagesSigned": False,  # a signed assertion inside an unsigned Response is the usual (Okta)
            "wantNameId": True,
            "wantAttributeStatement": False,  # Okta sends none unless attribute statements are set up
            "authnRequestsSigned": sign,
            "logoutRequestSigned": sign,
            "logoutResponseSigned": sign,
            "wantAssertionsEncrypted": bool(sso.want_assertions_encrypted and has_key),
            "rejectDeprecatedAlgorithm": True,
            "requestedAuthnContext": False,
            "signatureAlgorithm": OneLogin_Saml2_Constants.RSA_SHA256,
            "digestAlgorithm": OneLogin_Saml2_Constants.SHA256,
        },
    }
    return OneLogin_Saml2_Settings(data, sp_validation_only=not sso.idp_configured)
