"""Single logout (SAML 2.0 SLO, HTTP-Redirect binding).

- Every IdP sign-in writes an SsoSession row (org, user, session key, NameID,
  SessionIndex): single logout finds a person's sessions through it.
- SP-initiated: Sign out (organizations.signin.views.signout) of a session an
  org's IdP signed in, when that org has an IdP Single Logout URL, also sends
  the browser to the IdP with a LogoutRequest naming the NameID and
  SessionIndex of that sign-in (the org signed in last, if several). The IdP
  answers a LogoutResponse to our SLO URL, which lands on the sign-in page.
- IdP-initiated: a LogoutRequest to /sso/saml/<org uid>/slo/, which must be
  signed by the IdP (its signing certificates, as for responses), ends that
  org in every session of the NameID: the org leaves the session's proofs
  (organizations.signin.sessions), and a session left with nothing is deleted.
  The answer is a LogoutResponse to the IdP."""
from __future__ import annotations

from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from onelogin.saml2.auth import OneLogin_Saml2_Auth

from organizations import audit
from organizations.audit_actions import SSO_SIGNOUT
from organizations.models import User
from organizations.signin import sessions

from . import config
from .models import SsoSession, SsoSettings


def record_session(request: HttpRequest, sso: SsoSettings, user: User, name_id: str, session_index: str) -> None:
    """After an IdP sign-in: this session belongs to `name_id` at this org."""
    key = request.session.session_key
    if not key:
        request.session.save()
        key = request.session.session_key
    SsoSession.objects.update_or_create(
        organization=sso.organization, session_key=key,
        defaults={"user": user, "name_id": name_id[:1024], "session_index": (session_index or "")[:256]},
    )
    # Rows of sessions that can no longer exist (past the absolute lifetime) go.
    cutoff = timezone.now() - timedelta(seconds=settings.SESSION_ABSOLUTE_LIFETIME)
    SsoSession.objects.filter(organization=sso.organization, user=user, created_at__lt=cutoff).delete()


def _slo_path(sso: SsoSettings) -> str:
    return reverse("saml:slo", args=[sso.organization.uid])


def sp_logout_url(request: HttpRequest) -> tuple[str, str] | None:
    """Before Sign out ends the session: (the org's name, the IdP URL with a
    LogoutRequest) to send the browser to, or None when no org this session signed in through
    has single logout. The session's SsoSession rows are removed."""
    state = sessions.SignInState.of(request)
    key = request.session.session_key
    if state is None or not state.sso or not key:
        return None
    rows = {row.organization_id: row for row in SsoSession.objects.filter(session_key=key)}
    SsoSession.objects.filter(session_key=key).delete()
    for org_id, _ in sorted(state.sso.items(), key=lambda item: item[1], reverse=True):
        row = rows.get(org_id)
        sso = SsoSettings.objects.select_related("organization").filter(
            organization_id=org_id, enabled=True).exclude(idp_slo_url="").first()
        if row is None or sso is None or not sso.idp_configured:
            continue
        auth = OneLogin_Saml2_Auth(config.request_data(_slo_path(sso)), old_settings=config.saml_settings(sso))
        url = auth.logout(name_id=row.name_id, session_index=row.session_index or None,
                          name_id_format=config.NAMEID_FORMAT)
        audit.record(sso.organization, request.user, SSO_SIGNOUT, target_label=request.user.email,
                     after={"name_id": row.name_id, "idp_slo_url": sso.idp_slo_url})
        return sso.organization.name, url
    return None


def _store(key: str) -> SessionBase:
    return import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)


def _end_org_in(session: SessionBase, org_id: int) -> None:
    """Drop the org from the session's proofs; delete a session left with none."""
    raw = dict(session.get(sessions.AUTH_KEY) or {})
    sso = {k: v for k, v in (raw.get("sso") or {}).items() if str(k) != str(org_id)}
    if not sso and not raw.get("password"):
        session.flush()
        return
    raw["sso"] = sso
    session[sessions.AUTH_KEY] = raw


def end_sessions(request: HttpRequest, sso: SsoSettings, name_id: str, session_indexes: list[str]) -> int:
    """End this org in every session its IdP signed `name_id` into (only those
    of the named SessionIndexes, if the LogoutRequest names any)."""
    rows = SsoSession.objects.filter(organization=sso.organization, name_id__iexact=name_id)
    if session_indexes:
        rows = rows.filter(session_index__in=session_indexes)
    ended = 0
    for row in list(rows):
        if row.session_key == request.session.session_key:
            _end_org_in(request.session, sso.organization_id)  # this browser: saved by the middleware
        else:
            store = _store(row.session_key)
            if store.exists(row.session_key):
                _end_org_in(store, sso.organization_id)
                if store.session_key:  # not flushed
                    store.save()
        row.delete()
        ended += 1
    return ended
