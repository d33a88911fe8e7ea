"""Every audit action code, written once: services record entries with these
constants and each app registers the sentences of its own (organizations.audit_log,
scim/audit_sentences.py, mappings/audit_sentences.py), so a misspelt action is an
ImportError, never an entry nobody can filter or read. The values are stored in
AuditEvent.action: never change one, add a new code instead."""
from __future__ import annotations

# The organization itself
ORGANIZATION_CHANGE_PLAN = "organization.change_plan"
ORGANIZATION_CREATE = "organization.create"
ORGANIZATION_INVITE_PROVISIONED_MEMBERS = "organization.invite_provisioned_members"
ORGANIZATION_MFA_REQUIRED = "organization.mfa_required"
ORGANIZATION_RENAME = "organization.rename"
ORGANIZATION_TRANSFER_OWNERSHIP = "organization.transfer_ownership"

# Members and their org roles
MEMBERSHIP_ADD = "membership.add"
MEMBERSHIP_CHANGE_ROLE = "membership.change_role"
MEMBERSHIP_DEACTIVATE = "membership.deactivate"
MEMBERSHIP_JOIN = "membership.join"
MEMBERSHIP_REACTIVATE = "membership.reactivate"
MEMBERSHIP_REMOVE = "membership.remove"

# Stacks
STACK_CREATE = "stack.create"
STACK_DELETE = "stack.delete"
STACK_RENAME = "stack.rename"

# Custom stack roles
STACK_ROLE_CREATE = "stack_role.create"
STACK_ROLE_DELETE = "stack_role.delete"
STACK_ROLE_RENAME = "stack_role.rename"

# Stack roles granted by hand
STACK_ACCESS_GRANT = "stack_access.grant"
STACK_ACCESS_REVOKE = "stack_access.revoke"

# Accounts: password sign-in, password changes, two-factor authentication
ACCOUNT_MFA_CHALLENGE_FAILED = "account.mfa_challenge_failed"
ACCOUNT_MFA_CHALLENGE_PASSED = "account.mfa_challenge_passed"
ACCOUNT_MFA_DISABLED = "account.mfa_disabled"
ACCOUNT_MFA_ENROLLED = "account.mfa_enrolled"
ACCOUNT_MFA_RECOVERY_CODE_USED = "account.mfa_recovery_code_used"
ACCOUNT_MFA_RECOVERY_CODES_RENEWED = "account.mfa_recovery_codes_renewed"
ACCOUNT_MFA_RESET = "account.mfa_reset"
ACCOUNT_PASSWORD_CHANGE = "account.password_change"
ACCOUNT_PASSWORD_CONFIRMED = "account.password_confirmed"
ACCOUNT_PASSWORD_RESET = "account.password_reset"
ACCOUNT_PASSWORD_RESET_REQUEST = "account.password_reset_request"
ACCOUNT_SIGNIN = "account.signin"
ACCOUNT_SIGNIN_ALERT_SENT = "account.signin_alert_sent"
ACCOUNT_SIGNIN_DELAYED = "account.signin_delayed"
ACCOUNT_SIGNIN_FAILED = "account.signin_failed"
ACCOUNT_SIGNIN_THROTTLED = "account.signin_throttled"

# Invitations
INVITATION_ACCEPT = "invitation.accept"
INVITATION_CREATE = "invitation.create"
INVITATION_DELIVER = "invitation.deliver"
INVITATION_DELIVERY_FAILED = "invitation.delivery_failed"
INVITATION_EXPIRE = "invitation.expire"
INVITATION_REFUSE = "invitation.refuse"
INVITATION_RESEND = "invitation.resend"
INVITATION_REVOKE = "invitation.revoke"

# Single sign-on (organizations.signin.saml)
SSO_CERTIFICATE_WARNING = "sso.certificate_warning"
SSO_CREATE = "sso.create"
SSO_DISABLE = "sso.disable"
SSO_ENABLE = "sso.enable"
SSO_EXCEPTION_ADD = "sso.exception_add"
SSO_EXCEPTION_REMOVE = "sso.exception_remove"
SSO_IDP_LOGOUT = "sso.idp_logout"
SSO_LINK = "sso.link"
SSO_LINK_PROOF_SENT = "sso.link_proof_sent"
SSO_LINK_REFUSED = "sso.link_refused"
SSO_LOGOUT_REFUSED = "sso.logout_refused"
SSO_METADATA_REFRESH = "sso.metadata_refresh"
SSO_METADATA_REFRESH_FAILED = "sso.metadata_refresh_failed"
SSO_SET_IDENTITY_PROVIDER = "sso.set_identity_provider"
SSO_SET_JIT_PROVISIONING = "sso.set_jit_provisioning"
SSO_SET_METADATA_URL = "sso.set_metadata_url"
SSO_SET_SECURITY_OPTIONS = "sso.set_security_options"
SSO_SET_SESSION_POLICY = "sso.set_session_policy"
SSO_SET_STRICT = "sso.set_strict"
SSO_SIGNIN = "sso.signin"
SSO_SIGNIN_REFUSED = "sso.signin_refused"
SSO_SIGNOUT = "sso.signout"
SSO_TEST = "sso.test"
SSO_UNLINK = "sso.unlink"

# Verified domains (organizations.signin.domains)
DOMAIN_ADD = "domain.add"
DOMAIN_REMOVE = "domain.remove"
DOMAIN_UNVERIFY = "domain.unverify"
DOMAIN_VERIFY = "domain.verify"
DOMAIN_VERIFY_FAILED = "domain.verify_failed"

# SCIM: enabling it, and what the identity provider changes over the API (scim)
SCIM_DISABLE = "scim.disable"
SCIM_ENABLE = "scim.enable"
SCIM_GROUP_CREATE = "scim.group.create"
SCIM_GROUP_DELETE = "scim.group.delete"
SCIM_GROUP_MEMBERS = "scim.group.members"
SCIM_GROUP_UPDATE = "scim.group.update"
SCIM_USER_DEACTIVATE = "scim.user.deactivate"
SCIM_USER_PROVISION = "scim.user.provision"
SCIM_USER_REACTIVATE = "scim.user.reactivate"
SCIM_USER_UPDATE = "scim.user.update"

# Marketplace installations and their tokens (scim.installations)
MARKETPLACE_INSTALL = "marketplace.install"
MARKETPLACE_REINSTALL = "marketplace.reinstall"
MARKETPLACE_TOKEN_REGENERATE = "marketplace.token_regenerate"
MARKETPLACE_UNINSTALL = "marketplace.uninstall"

# Group mappings (mappings.services)
GROUP_MAPPING_CREATE = "group_mapping.create"
GROUP_MAPPING_DELETE = "group_mapping.delete"
GROUP_MAPPING_UPDATE = "group_mapping.update"

# Derived access (mappings.access)
ACCESS_RECOMPUTE = "access.recompute"
