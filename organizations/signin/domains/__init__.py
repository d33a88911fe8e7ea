"""Verified domains: an org proves it owns a DNS domain (a TXT record holding
its token) so that its IdP may claim accounts on that domain.

A sub-app of organizations (its own migrations): the model, the services
(add, verify through dnspython, remove, the daily re-check), the Verified
domains section of the Single Sign-On tab and the domain_add/domain_verify
commands. What a verified domain changes is read by saml (linking, "Sign in
with SSO") through services.verified_by / services.org_for_email."""
