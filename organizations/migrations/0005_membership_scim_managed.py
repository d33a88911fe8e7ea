from django.db import migrations, models


def mark_scim_members(apps, schema_editor):
    # Members an IdP pushed carry the IdP's externalId; hand-added ones do not.
    Membership = apps.get_model("organizations", "Membership")
    Membership.objects.exclude(scim_external_id="").update(scim_managed=True)


class Migration(migrations.Migration):
    dependencies = [("organizations", "0004_auditevent_request_context")]

    operations = [
        migrations.AddField(
            model_name="membership", name="scim_managed", field=models.BooleanField(default=False)
        ),
        migrations.RunPython(mark_scim_members, migrations.RunPython.noop),
    ]
