"""A small SAML 2.0 identity provider for tests. It signs with its own RSA key
(generated at test time with `cryptography`) through xmlsec, the library the
service provider verifies with (python3-saml's add_sign). Never used by the
application; hostile variants are built by its keyword arguments."""
from __future__ import annotations

import base64
import datetime as dt
import html
import threading
import uuid
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape, quoteattr

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.utils import OneLogin_Saml2_Utils

NS = (
    'xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"'
)
EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"


def _ts(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _new_id() -> str:
    return "_" + uuid.uuid4().hex


class TestIdP:
    __test__ = False  # not a pytest test class

    def __init__(self, entity_id: str = "http://idp.example.test/saml", sso_url: str = "http://idp.example.test/sso",
                 *, days_valid: float = 365, slo_url: str = "") -> None:
        self.entity_id, self.sso_url, self.days_valid, self.slo_url = entity_id, sso_url, days_valid, slo_url

    def rolled_over(self, *, days_valid: float = 365) -> "TestIdP":
        """The same IdP (entity ID, URLs) with a new key: its next certificate."""
        return TestIdP(self.entity_id, self.sso_url, days_valid=days_valid, slo_url=self.slo_url)

    # ---- keys --------------------------------------------------------------

    @cached_property
    def _key(self) -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @cached_property
    def key_pem(self) -> str:
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    @cached_property
    def cert_pem(self) -> str:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test IdP"),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Orgdesk tests")])
        now = _now()
        not_after = now + dt.timedelta(days=self.days_valid)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(min(now, not_after) - dt.timedelta(days=1))
            .not_valid_after(not_after)
            .sign(self._key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def cert_base64(self) -> str:
        return "".join(line for line in self.cert_pem.splitlines() if "CERTIFICATE" not in line)

    def metadata(self, *, also: "list[TestIdP] | tuple[TestIdP, ...]" = (), prolog: str = "") -> str:
        """The IdP's metadata; `also`: further signing keys published next to
        this one (Okta's rollover lists the current and the next certificate)."""
        keys = "".join(
            f'<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{idp.cert_base64}'
            f'</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>'
            for idp in (self, *also)
        )
        slo = (f'<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
               f'Location={quoteattr(self.slo_url)}/>' if self.slo_url else "")
        return f"""<?xml version="1.0"?>{prolog}
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID={quoteattr(self.entity_id)}>
  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    {keys}
    {slo}
    <md:NameIDFormat>{EMAIL_FORMAT}</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location={quoteattr(self.sso_url)}/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location={quoteattr(self.sso_url)}/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"""

    # ---- responses ---------------------------------------------------------

    def assertion_xml(
        self, *, name_id: str, audience: str, recipient: str, in_response_to: str | None = None,
        not_before: dt.datetime | None = None, not_on_or_after: dt.datetime | None = None,
        issuer: str | None = None, assertion_id: str | None = None, attributes: dict | None = None,
    ) -> str:
        now = _now()
        not_before = not_before or now - dt.timedelta(seconds=30)
        not_on_or_after = not_on_or_after or now + dt.timedelta(minutes=5)
        irt = f" InResponseTo={quoteattr(in_response_to)}" if in_response_to else ""
        attrs = "".join(
            f'<saml:Attribute Name={quoteattr(k)}><saml:AttributeValue>{escape(v)}</saml:AttributeValue></saml:Attribute>'
            for k, v in (attributes if attributes is not None else {"email": name_id}).items()
        )
        statement = f"<saml:AttributeStatement>{attrs}</saml:AttributeStatement>" if attrs else ""
        return (
            f'<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{assertion_id or _new_id()}" '
            f'Version="2.0" IssueInstant="{_ts(now)}">'
            f"<saml:Issuer>{escape(issuer or self.entity_id)}</saml:Issuer>"
            f'<saml:Subject><saml:NameID Format="{EMAIL_FORMAT}">{escape(name_id)}</saml:NameID>'
            f'<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
            f'<saml:SubjectConfirmationData NotOnOrAfter="{_ts(not_on_or_after)}" Recipient={quoteattr(recipient)}{irt}/>'
            f"</saml:SubjectConfirmation></saml:Subject>"
            f'<saml:Conditions NotBefore="{_ts(not_before)}" NotOnOrAfter="{_ts(not_on_or_after)}">'
            f"<saml:AudienceRestriction><saml:Audience>{escape(audience)}</saml:Audience></saml:AudienceRestriction>"
            f"</saml:Conditions>"
            f'<saml:AuthnStatement AuthnInstant="{_ts(now)}" SessionIndex="{_new_id()}">'
            f"<saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
            f"</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"
            f"{statement}</saml:Assertion>"
        )

    def sign(self, xml: str, signer: "TestIdP | None" = None) -> str:
        signer = signer or self
        signed = OneLogin_Saml2_Utils.add_sign(xml, signer.key_pem, signer.cert_pem)
        return signed.decode() if isinstance(signed, bytes) else signed

    def response_xml(
        self, *, assertion: str, destination: str, in_response_to: str | None = None, issuer: str | None = None,
        prolog: str = "",
    ) -> str:
        irt = f" InResponseTo={quoteattr(in_response_to)}" if in_response_to else ""
        return (
            f'{prolog}<samlp:Response {NS} ID="{_new_id()}" Version="2.0" IssueInstant="{_ts(_now())}" '
            f"Destination={quoteattr(destination)}{irt}>"
            f"<saml:Issuer>{escape(issuer or self.entity_id)}</saml:Issuer>"
            f'<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
            f"{assertion}</samlp:Response>"
        )

    def response(
        self, sp, name_id: str, *, in_response_to: str | None = None, sign: bool = True,
        signer: "TestIdP | None" = None, audience: str | None = None, recipient: str | None = None,
        destination: str | None = None, encrypt_to: str | None = None, **assertion_options,
    ) -> str:
        """A base64 SAMLResponse for the SP whose URLs are `sp` (SpUrls).
        `encrypt_to`: the SP's certificate (PEM): the signed assertion is sent
        as an EncryptedAssertion only that SP's private key opens."""
        assertion = self.assertion_xml(
            name_id=name_id, audience=audience or sp.entity_id, recipient=recipient or sp.acs_url,
            in_response_to=in_response_to, **assertion_options,
        )
        if sign:
            assertion = self.sign(assertion, signer)
        if encrypt_to:
            assertion = encrypt_assertion(assertion, encrypt_to)
        xml = self.response_xml(assertion=assertion, destination=destination or sp.acs_url, in_response_to=in_response_to)
        return encode(xml)


def logout_request_xml(idp: "TestIdP", *, destination: str, name_id: str, session_index: str = "",
                       issuer: str | None = None) -> str:
    index = f"<samlp:SessionIndex>{escape(session_index)}</samlp:SessionIndex>" if session_index else ""
    return (
        f'<samlp:LogoutRequest {NS} ID="{_new_id()}" Version="2.0" IssueInstant="{_ts(_now())}" '
        f'Destination={quoteattr(destination)} NotOnOrAfter="{_ts(_now() + dt.timedelta(minutes=5))}">'
        f"<saml:Issuer>{escape(issuer or idp.entity_id)}</saml:Issuer>"
        f'<saml:NameID Format="{EMAIL_FORMAT}">{escape(name_id)}</saml:NameID>{index}</samlp:LogoutRequest>'
    )


def logout_response_xml(idp: "TestIdP", *, destination: str, in_response_to: str) -> str:
    return (
        f'<samlp:LogoutResponse {NS} ID="{_new_id()}" Version="2.0" IssueInstant="{_ts(_now())}" '
        f"Destination={quoteattr(destination)} InResponseTo={quoteattr(in_response_to)}>"
        f"<saml:Issuer>{escape(idp.entity_id)}</saml:Issuer>"
        f'<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
        f"</samlp:LogoutResponse>"
    )


def redirect_payload(redirect_url: str, saml_type: str = "SAMLRequest"):
    """The XML (lxml root) of an HTTP-Redirect binding message."""
    from lxml import etree

    query = parse_qs(urlsplit(redirect_url).query)
    xml = OneLogin_Saml2_Utils.decode_base64_and_inflate(query[saml_type][0])
    return etree.fromstring(xml if isinstance(xml, bytes) else xml.encode())


def encrypt_assertion(assertion: str, certificate_pem: str) -> str:
    """<saml:EncryptedAssertion> holding `assertion`, encrypted with xmlsec's
    template API (AES-256-CBC content key, wrapped with RSA-OAEP to the
    certificate's public key), as IdPs do."""
    import xmlsec
    from lxml import etree

    saml_ns = OneLogin_Saml2_Constants.NS_SAML
    container = etree.Element(f"{{{saml_ns}}}EncryptedAssertion", nsmap={"saml": saml_ns})
    element = etree.fromstring(assertion.encode())
    container.append(element)
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_memory(certificate_pem.encode(), xmlsec.KeyFormat.CERT_PEM, None))
    template = xmlsec.template.encrypted_data_create(
        container, xmlsec.Transform.AES256, type=xmlsec.EncryptionType.ELEMENT, ns="xenc")
    xmlsec.template.encrypted_data_ensure_cipher_value(template)
    key_info = xmlsec.template.encrypted_data_ensure_key_info(template, ns="ds")
    encrypted_key = xmlsec.template.add_encrypted_key(key_info, xmlsec.Transform.RSA_OAEP)
    xmlsec.template.encrypted_data_ensure_cipher_value(encrypted_key)
    context = xmlsec.EncryptionContext(manager)
    context.key = xmlsec.Key.generate(xmlsec.KeyData.AES, 256, xmlsec.KeyDataType.SESSION)
    context.encrypt_xml(template, element)
    return etree.tostring(container).decode()


def signed_query(redirect_url: str, saml_type: str = "SAMLRequest") -> tuple[str, str, str] | None:
    """(the signed part of the query, as sent; SigAlg; Signature) of an
    HTTP-Redirect binding message, or None when it is not signed."""
    from urllib.parse import unquote_plus

    raw = urlsplit(redirect_url).query.split("&")
    by_name = {part.split("=", 1)[0]: part for part in raw if "=" in part}
    if "Signature" not in by_name or "SigAlg" not in by_name:
        return None
    signed = "&".join(by_name[name] for name in (saml_type, "RelayState", "SigAlg") if name in by_name)
    return signed, unquote_plus(by_name["SigAlg"].split("=", 1)[1]), unquote_plus(by_name["Signature"].split("=", 1)[1])


def verify_redirect_signature(redirect_url: str, certificate_pem: str, saml_type: str = "SAMLRequest") -> bool:
    """Whether an HTTP-Redirect message carries a valid signature by the key of
    `certificate_pem` (SAML bindings 3.4.4.1: over the query string as sent)."""
    found = signed_query(redirect_url, saml_type)
    if found is None:
        return False
    signed, algorithm, signature = found
    return bool(OneLogin_Saml2_Utils.validate_binary_sign(
        signed, base64.b64decode(signature), certificate_pem, algorithm))


def redirect_message(url: str, saml_type: str, xml: str, key_pem: str | None, relay_state: str = "") -> str:
    """`url` with an HTTP-Redirect binding message, signed with `key_pem`."""
    from urllib.parse import quote_plus

    import xmlsec

    parts = [f"{saml_type}={quote_plus(OneLogin_Saml2_Utils.deflate_and_base64_encode(xml))}"]
    if relay_state:
        parts.append(f"RelayState={quote_plus(relay_state)}")
    if key_pem:
        algorithm = OneLogin_Saml2_Constants.RSA_SHA256
        parts.append(f"SigAlg={quote_plus(algorithm)}")
        signature = OneLogin_Saml2_Utils.sign_binary("&".join(parts), key_pem, xmlsec.Transform.RSA_SHA256)
        parts.append(f"Signature={quote_plus(base64.b64encode(signature).decode())}")
    return url + ("&" if "?" in url else "?") + "&".join(parts)


def encode(xml: str) -> str:
    return base64.b64encode(xml.encode()).decode()


def decode(saml_response: str) -> str:
    return base64.b64decode(saml_response).decode()


def authn_request(redirect_url: str) -> tuple[str, str, str]:
    """(ID, AssertionConsumerServiceURL, RelayState) of an HTTP-Redirect AuthnRequest."""
    from lxml import etree

    query = parse_qs(urlsplit(redirect_url).query)
    xml = OneLogin_Saml2_Utils.decode_base64_and_inflate(query["SAMLRequest"][0])
    root = etree.fromstring(xml if isinstance(xml, bytes) else xml.encode())
    return root.get("ID"), root.get("AssertionConsumerServiceURL"), query.get("RelayState", [""])[0]


# ---- an HTTP front for browser tests -------------------------------------------------


def _post_form(action: str, saml_response: str, relay_state: str = "") -> bytes:
    relay = f'<input type="hidden" name="RelayState" value="{html.escape(relay_state)}">' if relay_state else ""
    return (
        f'<!DOCTYPE html><html><body><form method="post" action="{html.escape(action)}" id="f">'
        f'<input type="hidden" name="SAMLResponse" value="{html.escape(saml_response)}">{relay}</form>'
        f'<script>document.getElementById("f").submit()</script></body></html>'
    ).encode()


class IdPServer:
    """Serves the test IdP on a loopback port. GET /sso?SAMLRequest=... answers
    the AuthnRequest for `self.user` (SP-initiated); GET /tile posts an
    unsolicited response (IdP-initiated, the Okta dashboard tile)."""

    def __init__(self, idp: TestIdP, sp, host: str = "localhost") -> None:
        self.idp, self.sp, self.user = idp, sp, ""
        # The SP's certificate (PEM), once the org has one: AuthnRequests must
        # then be signed with its key (require_signed_requests), and assertions
        # are encrypted to it (encrypt).
        self.sp_cert, self.require_signed_requests, self.encrypt = "", False, False
        self.authn_requests: list[dict] = []  # {"id", "signed", "verified"}
        self.logout_requests: list[dict] = []  # {"name_id", "session_index", "verified"}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                parts = urlsplit(self.path)
                if parts.path == "/sso":
                    request_id, acs, relay = authn_request(self.path)
                    signed = signed_query(self.path) is not None
                    verified = bool(outer.sp_cert) and verify_redirect_signature(self.path, outer.sp_cert)
                    outer.authn_requests.append({"id": request_id, "signed": signed, "verified": verified})
                    if outer.require_signed_requests and not verified:
                        self.send_error(403, "AuthnRequest signature missing or invalid")
                        return
                    response = outer.idp.response(outer.sp, outer.user, in_response_to=request_id,
                                                  encrypt_to=outer.sp_cert if outer.encrypt else None)
                    body = _post_form(acs or outer.sp.acs_url, response, relay)
                elif parts.path == "/tile":
                    body = _post_form(outer.sp.acs_url, outer.idp.response(
                        outer.sp, outer.user, encrypt_to=outer.sp_cert if outer.encrypt else None))
                elif parts.path == "/slo":
                    # SP-initiated single logout: note the request, answer a LogoutResponse.
                    root = redirect_payload(self.path)
                    ns = {"saml": "urn:oasis:names:tc:SAML:2.0:assertion", "samlp": "urn:oasis:names:tc:SAML:2.0:protocol"}
                    outer.logout_requests.append({
                        "name_id": root.findtext("saml:NameID", namespaces=ns),
                        "session_index": root.findtext("samlp:SessionIndex", namespaces=ns) or "",
                        "verified": bool(outer.sp_cert) and verify_redirect_signature(self.path, outer.sp_cert),
                    })
                    relay = parse_qs(parts.query).get("RelayState", [""])[0]
                    location = redirect_message(
                        outer.sp.slo_url, "SAMLResponse",
                        logout_response_xml(outer.idp, destination=outer.sp.slo_url, in_response_to=root.get("ID")),
                        outer.idp.key_pem, relay,
                    )
                    self.send_response(302)
                    self.send_header("Location", location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://{host}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "IdPServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---- a metadata URL for tests ----------------------------------------------------------


class MetadataServer:
    """Serves documents on a loopback port, as an IdP's metadata URL does.
    `routes`: path -> bytes (served with Content-Length), or a callable(handler)
    that writes the whole answer itself (redirects, streams without a length)."""

    def __init__(self, routes: dict | None = None, host: str = "127.0.0.1") -> None:
        self.routes = dict(routes or {})
        self.hits: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                outer.hits.append(self.path)
                route = outer.routes.get(urlsplit(self.path).path)
                if route is None:
                    self.send_error(404)
                    return
                if callable(route):
                    route(self)
                    return
                body = route.encode() if isinstance(route, str) else route
                self.send_response(200)
                self.send_header("Content-Type", "application/samlmetadata+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.base_url = f"http://{host}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return self.base_url + path

    def __enter__(self) -> "MetadataServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def redirect_to(location: str):
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return answer


def stream_without_length(chunk: bytes, count: int):
    """An answer with no Content-Length: only reading it tells its size."""
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/xml")
        handler.send_header("Connection", "close")
        handler.end_headers()
        try:
            for _ in range(count):
                handler.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the reader stopped, as it should
        handler.close_connection = True

    return answer
