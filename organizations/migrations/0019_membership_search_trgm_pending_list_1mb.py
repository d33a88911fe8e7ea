"""The Members tab's trigram indexes keep a pending list of 1 MB instead of
64 kB (migration 0016; PostgreSQL only, a no-op elsewhere).

Every update of a membership that is not a HOT update (a role, a status, a
name: `role` and `active` are indexed) adds the row's trigrams to both
indexes' pending lists, and a list at its limit is merged into the index by
the statement that filled it. At 64 kB an access recompute's UPDATE of 100
roles merged nearly every time, one trigram at a time: the trigrams every
address of a domain shares were inserted once per merge instead of once for
many rows. Measured on the benchmark's 100,000-member org, 60 updates of 100
roles in a row: 9.6-10.2 ms each at 64 kB, 4.5-6.7 ms at 1 MB (a mapped group
PATCH's largest statement). A search reads the pending list whole: at 1 MB,
full, a search of the 100,000-member org read 171 index buffers in 2.4 ms
(against 21 ms and 366 buffers for the name index alone at the 4 MB default,
the reason for 0016)."""
from django.db import migrations

INDEXES = ("membership_username_trgm", "membership_name_trgm")


def set_limit(kilobytes: int):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for name in INDEXES:
            schema_editor.execute(f"ALTER INDEX IF EXISTS {name} SET (gin_pending_list_limit = {kilobytes})")

    return run


class Migration(migrations.Migration):
    dependencies = [("organizations", "0018_invitation_open_idx_id")]

    operations = [migrations.RunPython(set_limit(1024), set_limit(64))]
