# Drops Membership's plain organization_id index (the FK's db_index) by name.
#
# Not a plain AlterField(db_index=False): on PostgreSQL, Django then drops every
# single-column btree index on organization_id that is not in Meta.indexes,
# which includes the partial unique index behind membership_one_owner_per_org
# (one Owner per org). tests/organizations/test_services.py proves the constraint holds.

import django.db.models.deletion
from django.db import migrations, models

INDEX = "organizations_membership_organization_id_6889aa64"


class Migration(migrations.Migration):

    dependencies = [
        ('organizations', '0009_member_and_stack_access_indexes'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='membership',
                    name='organization',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to='organizations.organization'),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {INDEX}",
                    reverse_sql=f"CREATE INDEX {INDEX} ON organizations_membership (organization_id)",
                ),
            ],
        ),
    ]
