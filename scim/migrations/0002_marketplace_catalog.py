from django.db import migrations

# A frozen copy of the catalog as it was when this migration was written: a data
# migration runs against the models of its time, so it does not import
# scim.catalog (the live catalog, ensured after every migrate by ScimConfig.ready).

PERMISSIONS = [
    "Create, update, deactivate and remove users (members) of this organization",
    "Create, rename and delete groups, and change their members",
    "Read the organization's users and groups through the SCIM 2.0 API",
]

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


def seed(apps, schema_editor):
    MarketplaceApp = apps.get_model("scim", "MarketplaceApp")
    for data in APPS:
        MarketplaceApp.objects.update_or_create(
            slug=data["slug"], defaults={**data, "permissions": PERMISSIONS, "requires_feature": "scim"}
        )


def unseed(apps, schema_editor):
    apps.get_model("scim", "MarketplaceApp").objects.filter(slug__in=[a["slug"] for a in APPS]).delete()


class Migration(migrations.Migration):
    dependencies = [("scim", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
