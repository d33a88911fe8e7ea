"""`{% saml_sso_values org as sso %}`: the org's SP values for pages outside the
SSO tab (the Okta marketplace page), or None when SSO is not set up."""
from django import template

from .. import config
from ..models import SsoSettings

register = template.Library()


@register.simple_tag
def saml_sso_values(org):
    sso = SsoSettings.objects.filter(organization=org).first()
    if sso is None:
        return None
    return {"settings": sso, "sp": config.sp_urls(org)}
