"""The Members tab's trigram indexes (0006) keep a short pending list (PostgreSQL
only; SQLite has no such index and this is a no-op there).

A GIN index collects new entries in a pending list, read whole by every search,
until VACUUM (or the list reaching gin_pending_list_limit, 4 MB by default) merges
them. An org an identity provider is growing adds thousands of members between
two vacuums, so a search read megabytes of pending names: measured on a
20,000-member org grown after the last VACUUM, 366 buffers and 21 ms for the
name index alone, against 8 buffers for a merged one. At 64 kB (the smallest
limit) a search reads at most 8 pending pages, and an insert still merges its
entries in batches, not one by one as with fastupdate off.

pg_trgm is created by 0006 (`CREATE EXTENSION IF NOT EXISTS pg_trgm`): a trusted
extension since PostgreSQL 13, which the database owner may create without
superuser rights."""
from django.db import migrations

INDEXES = ("membership_username_trgm", "membership_name_trgm")


def shorten(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"ALTER INDEX IF EXISTS {name} SET (gin_pending_list_limit = 64)")
        # What is pending already is merged now rather than at the next VACUUM.
        schema_editor.execute(
            "SELECT gin_clean_pending_list(c.oid) FROM pg_class c WHERE c.relname = %s AND c.relkind = 'i'", [name]
        )


def restore(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"ALTER INDEX IF EXISTS {name} RESET (gin_pending_list_limit)")


class Migration(migrations.Migration):
    dependencies = [("organizations", "0015_membership_invitation_due")]

    operations = [migrations.RunPython(shorten, restore)]
