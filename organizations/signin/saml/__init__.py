"""SAML 2.0 single sign-on per organization (python3-saml on xmlsec).

A sub-app of organizations (its own migrations and URLs): the org's SSO
settings, the SP-/IdP-initiated sign-in, the replay cache, the Single Sign-On
settings tab and the sso_configure/sso_disable commands."""
