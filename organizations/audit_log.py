"""The audit log as people read it: one sentence per entry ("ada@acme.example
changed the role of bob@acme.example from Member to Admin"), newest first, a
page at a time, for Organization Settings > Audit log.

Each app owns the sentences of the actions it records: organizations' are
below, scim and mappings register theirs from `AppConfig.ready`
(`register_sentences`), so this module never imports the apps above it. An
action nobody registered still reads as words ("ada@acme.example: sso
certificate rotate, on Acme"), never as its raw code.

A sentence is a format string over `Words` (actor, target, org and every
before_*/after_* value, roles and plans by their labels) or a function of the
event and its words, for sentences that depend on the values."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Union

from django import forms
from django.db import connection
from django.db.models import QuerySet

from .audit_actions import (
    ACCOUNT_PASSWORD_CHANGE, ACCOUNT_PASSWORD_CONFIRMED, ACCOUNT_PASSWORD_RESET,
    ACCOUNT_PASSWORD_RESET_REQUEST, ACCOUNT_SIGNIN, ACCOUNT_SIGNIN_ALERT_SENT, ACCOUNT_SIGNIN_DELAYED,
    ACCOUNT_SIGNIN_FAILED, ACCOUNT_SIGNIN_THROTTLED, INVITATION_ACCEPT, INVITATION_CREATE, INVITATION_DELIVER,
    INVITATION_DELIVERY_FAILED, INVITATION_EXPIRE, INVITATION_REFUSE, INVITATION_RESEND, INVITATION_REVOKE,
    MEMBERSHIP_ADD, MEMBERSHIP_CHANGE_ROLE, MEMBERSHIP_DEACTIVATE, MEMBERSHIP_JOIN, MEMBERSHIP_REACTIVATE,
    MEMBERSHIP_REMOVE, ORGANIZATION_CHANGE_PLAN, ORGANIZATION_CREATE, ORGANIZATION_INVITE_PROVISIONED_MEMBERS,
    ORGANIZATION_MFA_REQUIRED, ORGANIZATION_RENAME, ORGANIZATION_TRANSFER_OWNERSHIP, SCIM_DISABLE,
    SCIM_ENABLE, SSO_CERTIFICATE_WARNING, SSO_CREATE, SSO_DISABLE, SSO_ENABLE, SSO_EXCEPTION_ADD,
    SSO_EXCEPTION_REMOVE, SSO_IDP_LOGOUT, SSO_LINK, SSO_LINK_PROOF_SENT, SSO_LINK_REFUSED, SSO_LOGOUT_REFUSED,
    SSO_METADATA_REFRESH, SSO_METADATA_REFRESH_FAILED, SSO_SET_IDENTITY_PROVIDER, SSO_SET_JIT_PROVISIONING,
    SSO_SET_METADATA_URL, SSO_SET_SECURITY_OPTIONS, SSO_SET_SESSION_POLICY, SSO_SET_STRICT, SSO_SIGNIN,
    SSO_SIGNIN_REFUSED, SSO_SIGNOUT, SSO_TEST, SSO_UNLINK, STACK_ACCESS_GRANT, STACK_ACCESS_REVOKE,
    STACK_CREATE, STACK_DELETE, STACK_RENAME, STACK_ROLE_CREATE, STACK_ROLE_DELETE, STACK_ROLE_RENAME,
)
from .models import ActorType, AuditEvent, Organization, OrgRole, Plan
from .paging import PAGE_SIZE, TRAIL_COUNT_CAP, Page, capped_count, in_org, page_number, paginate

Words = dict[str, str]
Sentence = Union[str, Callable[[AuditEvent, Words], str]]

_SENTENCES: dict[str, Sentence] = {}

_LABELS = {
    "role": dict(OrgRole.choices),
    "manual_role": dict(OrgRole.choices),
    "org_role": dict(OrgRole.choices),
    "plan": dict(Plan.choices),
}
_INSTALLATION = re.compile(r"\(installation (\d+)\)$")
SYSTEM_ACTOR = "Orgdesk"


def register_sentences(sentences: dict[str, Sentence]) -> None:
    """Called by each app's AppConfig.ready with the sentences of its actions."""
    _SENTENCES.update(sentences)


def registered_actions() -> frozenset[str]:
    return frozenset(_SENTENCES)


def _value(key: str, value) -> str:
    if value is None or value == "":
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if key in _LABELS and isinstance(value, str):
        return _LABELS[key].get(value, value)
    if isinstance(value, (list, tuple)):
        return ", ".join(_value(key, v) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_value(k, v)}" for k, v in value.items()) or "none"
    return str(value)


def actor_words(event: AuditEvent) -> str:
    if event.actor_type == ActorType.SYSTEM:
        return SYSTEM_ACTOR
    label = event.actor_label or "someone"
    if event.actor_type == ActorType.INSTALLATION:
        return _INSTALLATION.sub(r"(installation #\1)", label)
    return label


def target_words(event: AuditEvent) -> str:
    """The target as a person reads it: a member's e-mail without the
    " in <org>" that Membership's str() adds."""
    label = event.target_label
    if event.target_type == "organizations.membership" and " in " in label:
        head = label.split(" in ", 1)[0]
        if "@" in head and " " not in head:
            return head
    return label or "—"


def words_of(event: AuditEvent) -> Words:
    words: Words = {
        "actor": actor_words(event),
        "target": target_words(event),
        "org": event.organization.name if event.organization_id and event.organization else event.org_uid,
    }
    for side, values in (("before", event.before), ("after", event.after)):
        if isinstance(values, dict):
            for key, value in values.items():
                words[f"{side}_{key}"] = _value(key, value)
    return words


def humanised(event: AuditEvent, words: Words) -> str:
    """An action with no sentence: its code as words, never the code itself."""
    what = event.action.replace(".", " ").replace("_", " ").strip()
    target = f" {words['target']}" if event.target_label else ""
    return f"{words['actor']}: {what}{target}"


def sentence(event: AuditEvent) -> str:
    words = words_of(event)
    shape = _SENTENCES.get(event.action)
    try:
        if callable(shape):
            return shape(event, words)
        if shape is not None:
            return shape.format_map(words)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        pass  # an entry written before its shape changed: say it plainly
    return humanised(event, words)


# --- organizations' own actions ---------------------------------------------------------------


def _after(event: AuditEvent, key: str, default=None):
    return (event.after or {}).get(key, default) if isinstance(event.after, dict) else default


def _before(event: AuditEvent, key: str, default=None):
    return (event.before or {}).get(key, default) if isinstance(event.before, dict) else default


def _role_change(event: AuditEvent, w: Words) -> str:
    if w["before_role"] != w["after_role"]:
        text = f"{w['actor']} changed the role of {w['target']} from {w['before_role']} to {w['after_role']}"
        if w.get("after_manual_role") not in (None, w["after_role"]):
            text += f" (by hand: {w['after_manual_role']})"
        return text
    return (
        f"{w['actor']} set the role by hand of {w['target']} to {w['after_manual_role']}; "
        f"{w['target']} stays {w['after_role']} through a mapped SCIM group"
    )


def _stack_delete(event: AuditEvent, w: Words) -> str:
    n = _before(event, "members_affected", 0) or 0
    return f"{w['actor']} deleted the stack {w['before_name']}; {n} member{'s' if n != 1 else ''} lost their roles on it"


def _stack_role_delete(event: AuditEvent, w: Words) -> str:
    grants = _before(event, "grants", 0) or 0
    n = _before(event, "members_affected", 0) or 0
    if not grants:
        return f"{w['actor']} deleted the custom stack role {w['before_name']}; nobody held it"
    return (
        f"{w['actor']} deleted the custom stack role {w['before_name']}; {n} member{'s' if n != 1 else ''} "
        f"lost it ({grants} grant{'s' if grants != 1 else ''})"
    )


def _invite_provisioned(event: AuditEvent, w: Words) -> str:
    state = "on" if _after(event, "invite_provisioned_members") else "off"
    return f"{w['actor']} turned {state} invitations to members provisioned over SCIM"


def _invitation_create(event: AuditEvent, w: Words) -> str:
    how = " (provisioned over SCIM)" if _after(event, "source") == "scim" else ""
    return f"{w['actor']} invited {w['target']}{how}"


def _invitation_accept(event: AuditEvent, w: Words) -> str:
    chose = " and chose a password" if _after(event, "password_set") else ""
    return f"{w['actor']} accepted the invitation{chose}"


def _switch(noun: str, key: str) -> Callable[[AuditEvent, Words], str]:
    def say(event: AuditEvent, w: Words) -> str:
        return f"{w['actor']} turned {'on' if _after(event, key) else 'off'} {noun}"

    return say


def _sso_test(event: AuditEvent, w: Words) -> str:
    verdict = "accepted" if _after(event, "accepted") else "refused"
    return f"{w['actor']} tested single sign-on: the identity provider's answer would be {verdict}"


def _sso_session_policy(event: AuditEvent, w: Words) -> str:
    dashboard = "allowed" if _after(event, "allow_idp_initiated") else "refused"
    return (
        f"{w['actor']} set single sign-on sessions to {w.get('after_session_timeout_minutes', '?')} minutes; "
        f"sign-in from the identity provider's dashboard is {dashboard}"
    )


_PROOFS = {
    "owned": "the organization created the account",
    "password": "proven with the account's password",
    "email": "proven with a link e-mailed to the account",
    "invitation": "proven by accepting the invitation",
    "session": "confirmed in a session signed in with the account's password",
    "domain": "the organization verified the domain of the account's e-mail",
}


def _sso_link(event: AuditEvent, w: Words) -> str:
    proof = _PROOFS.get(str(_after(event, "proof")), str(_after(event, "proof")))
    return f"{w['target']} was linked to the identity provider as {w.get('after_name_id', '?')} ({proof})"


def _sso_metadata_url(event: AuditEvent, w: Words) -> str:
    url = _after(event, "metadata_url")
    if url:
        return f"{w['actor']} set the identity provider's metadata URL to {url} (refreshed every night)"
    return f"{w['actor']} removed the identity provider's metadata URL (no more nightly refresh)"


def _sso_security_options(event: AuditEvent, w: Words) -> str:
    parts = []
    for key, noun in (("sign_authn_requests", "signed AuthnRequests"),
                      ("want_assertions_encrypted", "required encryption of assertions")):
        value = _after(event, key)
        if value is not None:
            parts.append(f"turned {'on' if value else 'off'} {noun}")
    if _after(event, "sp_certificate_sha256"):
        parts.append("created Orgdesk's signing and encryption certificate")
    return f"{w['actor']} " + (", ".join(parts) or "changed the request signing and encryption settings") \
        + " for single sign-on"


def _sso_certificate_warning(event: AuditEvent, w: Words) -> str:
    days = _after(event, "days")
    return f"The Owner was e-mailed that the identity provider's signing certificate expires within {days} day{'s' if days != 1 else ''}"


register_sentences({
    ORGANIZATION_CREATE: "{actor} created the organization {after_name} with {after_owner} as Owner",
    ORGANIZATION_RENAME: "{actor} renamed the organization from {before_name} to {after_name}",
    ORGANIZATION_CHANGE_PLAN: "{actor} changed the plan from {before_plan} to {after_plan}",
    ORGANIZATION_TRANSFER_OWNERSHIP: "{actor} transferred ownership from {before_owner} to {after_owner}",
    ORGANIZATION_INVITE_PROVISIONED_MEMBERS: _invite_provisioned,
    MEMBERSHIP_ADD: "{actor} added {after_email} as {after_role}",
    MEMBERSHIP_CHANGE_ROLE: _role_change,
    MEMBERSHIP_REMOVE: "{actor} removed {before_email} ({before_role}) from the organization",
    MEMBERSHIP_DEACTIVATE: "{actor} deactivated {target}",
    MEMBERSHIP_REACTIVATE: "{actor} reactivated {target}",
    STACK_CREATE: "{actor} created the stack {after_name}",
    STACK_RENAME: "{actor} renamed the stack {before_name} to {after_name}",
    STACK_DELETE: _stack_delete,
    STACK_ROLE_CREATE: "{actor} created the custom stack role {after_name}",
    STACK_ROLE_RENAME: "{actor} renamed the custom stack role {before_name} to {after_name}",
    STACK_ROLE_DELETE: _stack_role_delete,
    STACK_ACCESS_GRANT: "{actor} gave {target} the role {after_role} on the stack {after_stack}",
    STACK_ACCESS_REVOKE: "{actor} took the role {before_role} on the stack {before_stack} from {target}",
    ACCOUNT_SIGNIN: "{actor} signed in with their password",
    ACCOUNT_PASSWORD_RESET_REQUEST: "{actor} asked for a password reset",
    ACCOUNT_PASSWORD_RESET: "{actor} chose a new password",
    ACCOUNT_PASSWORD_CHANGE: "{actor} changed their password",
    ACCOUNT_SIGNIN_FAILED: "A sign-in as {target} failed: wrong password ({after_failures} failed attempts so far)",
    ACCOUNT_SIGNIN_THROTTLED: (
        "A sign-in as {target} failed ({after_failures} failed attempts so far); sign-in as {target} "
        "from that address is paused for {after_paused_minutes} minute(s)"
    ),
    ACCOUNT_SIGNIN_DELAYED: (
        "A sign-in as {target} failed ({after_failures} failed attempts so far); attempts from browsers "
        "{target} has not signed in from wait {after_delay_seconds} s"
    ),
    ACCOUNT_SIGNIN_ALERT_SENT: "{target} was e-mailed that someone is trying to sign in as them "
                                 "({after_failures} failed attempts)",
    INVITATION_CREATE: _invitation_create,
    INVITATION_RESEND: "{actor} sent {target} a new invitation (the previous link stopped working)",
    INVITATION_REVOKE: "{actor} closed the invitation of {target}: {after_reason}",
    INVITATION_EXPIRE: "The invitation of {target} expired unused",
    INVITATION_REFUSE: "An invitation link of {target} was refused: {after_reason}",
    INVITATION_ACCEPT: _invitation_accept,
    INVITATION_DELIVER: "The invitation e-mail to {target} was sent (attempt {after_attempts})",
    INVITATION_DELIVERY_FAILED: "The invitation e-mail to {target} could not be sent (attempt {after_attempts}); it is retried",
    SSO_CREATE: "{actor} set up single sign-on with the sign-in name {target}",
    SSO_SET_IDENTITY_PROVIDER: "{actor} changed the identity provider of single sign-on",
    SSO_ENABLE: "{actor} enabled single sign-on",
    SSO_DISABLE: "{actor} disabled single sign-on",
    SSO_SET_STRICT: _switch("Strict mode (sign-in through single sign-on only)", "strict"),
    SSO_SET_JIT_PROVISIONING: _switch("just-in-time creation of members at single sign-on", "jit_provisioning"),
    SSO_TEST: _sso_test,
    SSO_SIGNIN: "{actor} signed in through single sign-on",
    SSO_SIGNIN_REFUSED: "A single sign-on sign-in as {target} was refused: {after_reason}",
    SSO_SET_SESSION_POLICY: _sso_session_policy,
    SSO_LINK: _sso_link,
    SSO_EXCEPTION_ADD: "{actor} let {target} keep signing in with a password in Strict mode",
    SSO_EXCEPTION_REMOVE: "{actor} ended the Strict mode exception of {target}: password sign-in no longer opens the organization for them",
    SSO_UNLINK: "{actor} unlinked {target} from the identity provider (they link again at their next sign-in)",
    SSO_LINK_REFUSED: "Linking {target} to the identity provider as {after_name_id} was refused: {after_reason}",
    SSO_LINK_PROOF_SENT: "A one-time link was e-mailed to {target} to link them to the identity provider as {after_name_id}",
    SSO_SET_METADATA_URL: _sso_metadata_url,
    SSO_METADATA_REFRESH: "The identity provider's metadata was refreshed from its URL and its values changed",
    SSO_METADATA_REFRESH_FAILED: "The nightly refresh of the identity provider's metadata failed: {after_error}",
    SSO_CERTIFICATE_WARNING: _sso_certificate_warning,
    SSO_SET_SECURITY_OPTIONS: _sso_security_options,
    SSO_SIGNOUT: "{actor} signed out, and was sent to the identity provider to sign out there too",
    SSO_IDP_LOGOUT: "The identity provider signed {target} out (single logout): {after_sessions} session(s) ended",
    SSO_LOGOUT_REFUSED: "A single logout request from the identity provider was refused: {after_reason}",
    MEMBERSHIP_JOIN: "{actor} accepted the invitation and joined as {after_role}",
    ACCOUNT_PASSWORD_CONFIRMED: "{actor} confirmed their password to open an organization",
})


# --- the page ---------------------------------------------------------------------------------

# Kinds of action to filter by: (value, label, action prefixes). A fixed list, so the
# filter never reads the distinct actions of a table that grows without bound.
KINDS: list[tuple[str, str, tuple[str, ...]]] = [
    ("members", "Members, roles and invitations", (
        "membership.", "stack_access.", "invitation.", ORGANIZATION_TRANSFER_OWNERSHIP)),
    ("provisioning", "Users and groups over SCIM", ("scim.user.", "scim.group.")),
    ("access", "Group mappings and derived access", ("group_mapping.", "access.")),
    ("stacks", "Stacks and stack roles", ("stack.", "stack_role.")),
    ("settings", "Organization, SCIM, apps and SSO settings", (
        ORGANIZATION_CREATE, ORGANIZATION_RENAME, ORGANIZATION_CHANGE_PLAN,
        ORGANIZATION_INVITE_PROVISIONED_MEMBERS, SCIM_ENABLE, SCIM_DISABLE, "marketplace.",
        SSO_CREATE, "sso.set_", SSO_ENABLE, SSO_DISABLE, SSO_TEST, "sso.exception_", "domain.",
        ORGANIZATION_MFA_REQUIRED, "sso.metadata_", SSO_CERTIFICATE_WARNING)),
    # An org's sign-ins: its IdP's (sso.signin, sso.signin_refused, sso.link*,
    # sign-outs) and its members' password sign-ins ("account.signin", recorded per
    # org by signin.sessions.record_password_signin). Failed password sign-ins are
    # the account's (no org), so they are not in any org's log.
    ("signins", "Sign-ins", (SSO_SIGNIN, SSO_LINK, SSO_UNLINK, ACCOUNT_SIGNIN, ACCOUNT_PASSWORD_CONFIRMED,
                             "account.mfa_", SSO_SIGNOUT, SSO_IDP_LOGOUT, SSO_LOGOUT_REFUSED)),
]


class AuditFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label="Kind", required=False, choices=[("", "Everything")] + [(v, label) for v, label, _ in KINDS]
    )

    def kind_value(self) -> str:
        return self.cleaned_data.get("kind", "") if self.is_valid() else ""


@dataclass
class Entry:
    event: AuditEvent
    sentence: str


def actions_of_kind(kind: str) -> list[str]:
    """The action codes of a kind: every registered action under its prefixes."""
    prefixes = next((p for v, _, p in KINDS if v == kind), ())
    return sorted(a for a in registered_actions() if prefixes and a.startswith(prefixes))


NEWEST_FIRST = ("-created_at", "-id")
PER_ACTION_READ_MAX = 10_000  # index entries a kind's page may read action by action


def events_of(org: Organization, kind: str = "", first: int = 0,
              read_max: int | None = PER_ACTION_READ_MAX) -> QuerySet[AuditEvent]:
    """Newest first, on the (organization, -created_at, -id) index. A kind's
    `action IN (...)` is a range per action, in no index's order: on an org the
    planner's statistics do not know (it believes it holds a row or two) PostgreSQL
    fetches the kind's every entry to sort them. So its `first` newest are a UNION
    ALL of each action's `first` newest, each the start of its range of the
    (organization, action, -created_at, -id) index, where the database can order
    and limit a UNION's parts (not SQLite) and they read at most read_max entries."""
    qs = AuditEvent.objects.filter(organization=org)
    actions = actions_of_kind(kind) if kind else []
    if (first and actions and connection.features.supports_slicing_ordering_in_compound
            and (read_max is None or len(actions) * first <= read_max)):
        # The org as a parameter (paging.in_org): planned for an average org, each
        # part reads its (organization, action) range, not the org's whole trail.
        org_actions = AuditEvent.objects.filter(in_org(org))
        parts = [org_actions.filter(action=action).order_by(*NEWEST_FIRST)[:first] for action in actions]
        return parts[0].union(*parts[1:], all=True).order_by(*NEWEST_FIRST)
    return (qs.filter(action__in=actions) if kind else qs).order_by(*NEWEST_FIRST)


def audit_page(org: Organization, kind: str, number) -> tuple[Page, list[Entry]]:
    """One page of entries and their sentences: two statements (the rows and a
    count capped at TRAIL_COUNT_CAP) whatever the size of the org's trail. The
    count's LIMIT above a kind's UNION stops it once the cap's worth is read."""
    number = page_number(number)
    count = capped_count(events_of(org, kind, TRAIL_COUNT_CAP + 1, read_max=None), TRAIL_COUNT_CAP)
    page = paginate(events_of(org, kind, number * PAGE_SIZE + 1), number, params={"kind": kind}, count=count)
    for event in page.rows:
        event.organization = org  # the sentences name it without another query
    return page, [Entry(e, sentence(e)) for e in page.rows]
