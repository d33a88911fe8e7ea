"""Trigram indexes for the Members tab's substring search (PostgreSQL only;
SQLite scans, which is fine at test sizes). The expressions are exactly those
organizations.directory.search_members filters on."""
from django.db import migrations

INDEXES = {
    "membership_username_trgm": "LOWER(scim_username)",
    "membership_name_trgm": "LOWER(given_name || ' ' || family_name || ' ' || display_name)",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON organizations_membership USING gin (({expression}) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("organizations", "0005_membership_scim_managed")]

    operations = [migrations.RunPython(create, drop)]
