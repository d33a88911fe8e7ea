"""Sign-in through the org's identity provider.

SP-initiated: "Sign in with SSO" (sign-in name, or a work e-mail on a domain an
org verified; any other work e-mail is sent its orgs' links) -> the org's login URL -> AuthnRequest (its ID kept in this session) ->
IdP -> POST to the ACS with InResponseTo. IdP-initiated (the Okta tile): a POST
to the ACS with no InResponseTo. Both end in acs(): validate, accept once, match
an active membership, sign in, and land by role."""
from __future__ import annotations

import math
import time

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.contrib import messages
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request

from organizations import audit
from organizations.audit_actions import SSO_IDP_LOGOUT, SSO_LOGOUT_REFUSED, SSO_SIGNIN_REFUSED
from organizations.background import enqueue_after_response
from organizations.models import Membership, Organization
from organizations.signin import sessions, throttle
from organizations.signin.domains.services import org_for_email
from organizations.signin.tasks import send_sso_signin_links

from . import acs, config, linking, logout, services, signing
from .forms import SsoStartForm
from .models import SsoSettings

PENDING_KEY = "saml_requests"  # {AuthnRequest ID: {"org": uid, "test": bool, "at": epoch}}
PENDING_MAX = 5
PENDING_SECONDS = 15 * 60
BOUNCE_FIELD = "orgdesk_bounced"
TEST_RELAY_STATE = "orgdesk-test"


def _sso_of(org_uid: str) -> SsoSettings:
    return get_object_or_404(SsoSettings.objects.select_related("organization"), organization__uid=org_uid)


# ---- "Sign in with SSO" --------------------------------------------------------

SSO_START_THROTTLE_PREFIX = "sso-start-throttle"
SENT_NOTICE = (
    "If {address} belongs to an organization that signs in with single sign-on, "
    "we have e-mailed it a sign-in link."
)
UNKNOWN_NAME = (
    "No organization signs in with SSO under that name. Enter your organization's SSO sign-in name "
    "or your work e-mail, or sign in with your password."
)
THROTTLED = "Too many requests from here. Try again in {minutes} minute(s), or sign in with your password."


def _by_signin_name(name: str) -> SsoSettings | None:
    return SsoSettings.objects.select_related("organization").filter(enabled=True, signin_name=name.lower()).first()


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def start(request: HttpRequest) -> HttpResponse:
    """An SSO sign-in name leads to that org's login URL. A work e-mail gets the
    same page whatever the address (which org it belongs to is never shown):
    a task e-mails the account its orgs' SSO sign-in links, after the response.
    Requests are throttled per client address and per e-mail, and an unknown
    sign-in name counts against the address, so neither can be enumerated."""
    form = SsoStartForm(request.POST or None)
    error, notice, status = "", "", 200
    if request.method == "POST" and form.is_valid():
        identifier = form.cleaned_data["identifier"]
        email = identifier if "@" in identifier else None
        locked = throttle.seconds_locked(request, email, prefix=SSO_START_THROTTLE_PREFIX)
        if locked:
            error, status = THROTTLED.format(minutes=max(1, math.ceil(locked / 60))), 429
        elif email is None:
            sso = _by_signin_name(identifier)
            if sso is not None:
                return HttpResponseRedirect(reverse("saml:login", args=[sso.organization.uid]))
            throttle.record_failure(request, None, prefix=SSO_START_THROTTLE_PREFIX)
            error, status = UNKNOWN_NAME, 400
        elif (by_domain := org_for_email(email)) is not None:
            # An address on a domain an org with SSO verified goes to that org's IdP
            # (which org holds a domain is public, like GitHub's; nothing about the person).
            return HttpResponseRedirect(reverse("saml:login", args=[by_domain.uid]))
        else:
            throttle.record_failure(request, email, prefix=SSO_START_THROTTLE_PREFIX)
            enqueue_after_response(send_sso_signin_links, email)
            notice, form = SENT_NOTICE.format(address=email), SsoStartForm()
    elif form.errors:
        status = 400
    context = {"form": form, "error": error, "notice": notice}
    return TemplateResponse(request, "signin/saml/start.html", context, status=status)


# ---- SP-initiated ---------------------------------------------------------------


def _remember_request(request: HttpRequest, request_id: str, org: Organization, *, test: bool) -> None:
    now = time.time()
    pending = {
        rid: entry
        for rid, entry in (request.session.get(PENDING_KEY) or {}).items()
        if now - entry.get("at", 0) < PENDING_SECONDS
    }
    pending[request_id] = {"org": org.uid, "test": test, "at": now}
    request.session[PENDING_KEY] = dict(sorted(pending.items(), key=lambda kv: kv[1]["at"])[-PENDING_MAX:])


def _take_request(request: HttpRequest, request_id: str, org: Organization) -> dict | None:
    """The pending AuthnRequest this response answers, used once."""
    pending = dict(request.session.get(PENDING_KEY) or {})
    entry = pending.pop(request_id, None)
    if entry is not None:
        request.session[PENDING_KEY] = pending
    if entry is None or entry.get("org") != org.uid or time.time() - entry.get("at", 0) >= PENDING_SECONDS:
        return None
    return entry


@never_cache
@require_GET
def login_view(request: HttpRequest, org_uid: str) -> HttpResponse:
    """Send the browser to the IdP with an AuthnRequest. ?test=1 is Test SSO: the
    Owner checks the settings before SSO is enabled; nobody is signed in."""
    sso = _sso_of(org_uid)
    org = sso.organization
    test = request.GET.get("test") == "1"
    if test and not services.can_configure_sso(request.user, org):
        raise Http404("No such organization.")
    if not sso.idp_configured or not (sso.enabled or test):
        reason = "not_configured" if not sso.idp_configured else "sso_disabled"
        return _refused(request, sso, acs.Refused(reason), flow="sp", record=False)
    path = reverse("saml:login", args=[org.uid])
    auth = OneLogin_Saml2_Auth(config.request_data(path), old_settings=config.saml_settings(sso))
    url = auth.login(return_to=TEST_RELAY_STATE if test else None)
    _remember_request(request, auth.get_last_request_id(), org, test=test)
    return HttpResponseRedirect(url)


# ---- the ACS --------------------------------------------------------------------


def _refused(request, sso: SsoSettings, refusal: acs.Refused, *, flow: str, record: bool = True) -> HttpResponse:
    org = sso.organization
    if record:
        audit.record(
            org,
            None,
            SSO_SIGNIN_REFUSED,
            target_label=refusal.email or "unknown",
            after={"reason": refusal.reason, "flow": flow, "email": refusal.email, "detail": refusal.detail},
        )
    context = {"org": org, "message": refusal.message(org.name), "reason": refusal.reason}
    return TemplateResponse(request, "signin/saml/refused.html", context, status=403)


@csrf_exempt  # the IdP's auto-submitted form; the SAML signature is the authentication
@never_cache
@require_POST
def acs_view(request: HttpRequest, org_uid: str) -> HttpResponse:
    sso = _sso_of(org_uid)
    post = {k: request.POST.get(k, "") for k in ("SAMLResponse", "RelayState")}
    # The IdP's POST is cross-site, so SameSite=Lax cookies (the session) are
    # not sent with it. Re-post once from our own origin to read the session,
    # which holds the AuthnRequest ID that InResponseTo must match.
    if settings.SESSION_COOKIE_NAME not in request.COOKIES and not request.POST.get(BOUNCE_FIELD):
        return TemplateResponse(request, "signin/saml/bounce.html", {"post": post, "bounce_field": BOUNCE_FIELD})
    flow = "idp"
    try:
        in_response_to = acs.requested_id(sso, post["SAMLResponse"])
        pending = None
        if in_response_to is not None:
            flow = "sp"
            pending = _take_request(request, in_response_to, sso.organization)
            if pending is None:
                raise acs.Refused("unknown_request")
        elif not sso.allow_idp_initiated:
            raise acs.Refused("idp_initiated_off")
        test = bool(pending and pending.get("test"))
        if test:
            return _test_result(request, sso, post, in_response_to)
        if not sso.enabled:
            raise acs.Refused("sso_disabled")
        assertion = acs.validate(sso, request.path, post, request_id=in_response_to)
        acs.claim_once(sso, assertion)
        resolution = linking.resolve(sso, assertion.name_id, proven_user_id=sessions.proven_user_id(request))
    except acs.Refused as refusal:
        return _refused(request, sso, refusal, flow=flow)
    if resolution.identity is None:  # the account holder proves it is theirs first
        signing.remember(request, sso, resolution.membership, assertion.name_id, flow=flow,
                         session_index=assertion.session_index)
        return HttpResponseRedirect(reverse("saml:link", args=[sso.organization.uid]))
    return signing.sign_in(request, sso, resolution.identity, flow=flow, session_index=assertion.session_index)


def _test_result(request, sso: SsoSettings, post: dict, request_id: str) -> HttpResponse:
    """Test SSO: report what the IdP sent and whether it would be accepted;
    nobody is signed in and nothing is enabled."""
    org = sso.organization
    if not services.can_configure_sso(request.user, org):
        raise acs.Refused("unknown_request")
    context: dict = {"org": org, "sso": sso}
    try:
        assertion = acs.validate(sso, request.path, post, request_id=request_id)
    except acs.Refused as refusal:
        ok, verdict = False, refusal.message(org.name)
        context.update(reason=refusal.reason, detail=refusal.detail)
    else:
        ok, verdict = linking.would_accept(sso, assertion.name_id)
        context.update(assertion=assertion)
    context.update(ok=ok, verdict=verdict)
    summary = {"verdict": verdict[:300]}
    if context.get("assertion"):
        summary["name_id"] = context["assertion"].name_id
    else:
        summary["reason"] = context.get("reason", "")
    services.record_test(org, ok=ok, summary=summary, actor=request.user)
    return TemplateResponse(request, "signin/saml/test_result.html", context)


# ---- metadata and the fallback landing page -------------------------------------


@require_GET
def metadata_view(request: HttpRequest, org_uid: str) -> HttpResponse:
    sso = _sso_of(org_uid)
    xml = config.saml_settings(sso).get_sp_metadata()
    return HttpResponse(xml, content_type="application/samlmetadata+xml; charset=utf-8")


def _logout_refused(request, sso: SsoSettings, reason: str, detail: str = "") -> HttpResponse:
    audit.record(sso.organization, None, SSO_LOGOUT_REFUSED, target_label=sso.signin_name,
                 after={"reason": reason, "detail": detail[:200]})
    return HttpResponse(f"Single logout refused: {reason}.", status=400, content_type="text/plain; charset=utf-8")


@csrf_exempt  # the IdP redirects the browser here; the LogoutRequest's signature authenticates it
@never_cache
@require_GET
def slo_view(request: HttpRequest, org_uid: str) -> HttpResponse:
    """Single logout, HTTP-Redirect binding (organizations.signin.saml.logout).
    A LogoutRequest (IdP-initiated) must be signed by the org's IdP; it ends the
    NameID's sessions for this org and is answered with a LogoutResponse. A
    LogoutResponse answers our own Sign out: the session is already gone."""
    sso = _sso_of(org_uid)
    if "SAMLResponse" in request.GET:
        messages.info(request, "You are signed out, here and at your identity provider.")
        return HttpResponseRedirect(reverse("admin:login"))
    if "SAMLRequest" not in request.GET or not sso.idp_configured:
        return _logout_refused(request, sso, "no_request" if sso.idp_configured else "not_configured")
    if "Signature" not in request.GET:
        return _logout_refused(request, sso, "unsigned")
    if not sso.idp_slo_url:  # nowhere to answer: the IdP's Single Logout URL is not configured
        return _logout_refused(request, sso, "no_slo_url")
    data = config.request_data(request.path, get=request.GET.dict())
    data.update(query_string=request.META.get("QUERY_STRING", ""), validate_signature_from_qs=True)
    auth = OneLogin_Saml2_Auth(data, old_settings=config.saml_settings(sso))
    try:
        url = auth.process_slo(keep_local_session=True)
    except Exception as exc:  # undecodable or hostile input
        return _logout_refused(request, sso, "malformed", str(exc))
    if auth.get_errors() or not url:
        return _logout_refused(request, sso, "invalid", auth.get_last_error_reason() or ",".join(auth.get_errors()))
    xml = auth.get_last_request_xml()
    name_id = (OneLogin_Saml2_Logout_Request.get_nameid(xml) or "").strip()
    indexes = OneLogin_Saml2_Logout_Request.get_session_indexes(xml)
    ended = logout.end_sessions(request, sso, name_id, indexes) if name_id else 0
    audit.record(sso.organization, None, SSO_IDP_LOGOUT, target_label=name_id or "unknown",
                 after={"name_id": name_id, "sessions": ended})
    return HttpResponseRedirect(url)


@never_cache
@require_GET
def signed_in_view(request: HttpRequest) -> HttpResponse:
    """Where a Member lands when the member home page is not installed."""
    if not request.user.is_authenticated:
        return HttpResponseRedirect(reverse("saml:start"))
    memberships = (
        Membership.objects.in_effect().filter(user=request.user).filter(sessions.openable(request))
        .select_related("organization")[:50]
    )
    return TemplateResponse(request, "signin/saml/signed_in.html", {"memberships": memberships})
