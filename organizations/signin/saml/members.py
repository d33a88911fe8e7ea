"""Single sign-on on a member's page: whether the person is linked to the
org's IdP (linking.py), and the Owner's Unlink. Kept apart from the SSO tab's
views so the Members pages can ask it without importing the tab."""
from __future__ import annotations

from django.http import HttpRequest

from organizations.models import Membership, Organization

from .models import SsoIdentity
from .services import can_configure_sso


def sso_link_context(request: HttpRequest, org: Organization, member: Membership) -> dict:
    """sso_identities: None when the org has no single sign-on set up (nothing to show)."""
    if not hasattr(org, "sso"):  # a reverse one-to-one: no row, no single sign-on
        return {"sso_identities": None, "can_unlink": False}
    return {
        "sso_identities": list(SsoIdentity.objects.filter(membership=member).order_by("pk")[:10]),
        "can_unlink": can_configure_sso(request.user, org),
    }

