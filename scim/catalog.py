"""The marketplace catalog: the SCIM apps an org can install.

The catalog is data, kept here and ensured after every migrate or flush
(`ensure_catalog`, connected in ScimConfig.ready; a flush between transactional
tests empties the table). Migration 0002 seeded the catalog as it was then from
a frozen copy of its own, as data migrations must: a migration runs against the
model of its time, so it never imports this module."""
from __future__ import annotations

from .models import MarketplaceApp

PERMISSIONS = [
    "Create, update, deactivate and remove users (members) of this organization",
    "Create, rename and delete groups, and change their members",
    "Read the organization's users and groups through the SCIM 2.0 API",
]

REQUIRED_FEATURE = "scim"

APPS = [
    {
        "slug": "okta-generic-scim",
        "name": "Okta Generic SCIM",
        "vendor": "Okta",
        "summary": "Provision users and push groups from Okta over SCIM 2.0.",
        "description": "Connect an Okta SCIM 2.0 app (HTTP Header authentication) to this organization. "
        "Okta creates, updates and deactivates members and pushes groups with their members.",
        "position": 10,
    },
    {
        "slug": "entra-id-scim",
        "name": "Microsoft Entra ID SCIM",
        "vendor": "Microsoft",
        "summary": "Provision users and groups from Microsoft Entra ID (Azure AD) over SCIM 2.0.",
        "description": "Use the Secret Token as the Entra ID provisioning connector's secret token.",
        "position": 20,
    },
    {
        "slug": "onelogin-scim",
        "name": "OneLogin SCIM",
        "vendor": "OneLogin",
        "summary": "Provision users and groups from OneLogin over SCIM 2.0.",
        "description": "Use the SCIM URL as the SCIM Base URL and the Secret Token as the SCIM Bearer Token.",
        "position": 30,
    },
]


def ensure_catalog(sender=None, using: str = "default", **kwargs) -> None:
    """Create the catalog's apps that are missing; apps already there are left as they are."""
    apps = MarketplaceApp.objects.using(using)
    present = set(apps.filter(slug__in=[data["slug"] for data in APPS]).values_list("slug", flat=True))
    missing = [
        MarketplaceApp(**data, permissions=PERMISSIONS, requires_feature=REQUIRED_FEATURE)
        for data in APPS
        if data["slug"] not in present
    ]
    if missing:
        apps.bulk_create(missing)
