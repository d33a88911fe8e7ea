from django.db import migrations

BUILTIN = ["Admin", "Developer", "Content Manager"]


def seed(apps, schema_editor):
    StackRole = apps.get_model("organizations", "StackRole")
    for name in BUILTIN:
        StackRole.objects.get_or_create(organization=None, name=name, defaults={"builtin": True})


def unseed(apps, schema_editor):
    apps.get_model("organizations", "StackRole").objects.filter(organization=None, name__in=BUILTIN).delete()


class Migration(migrations.Migration):
    dependencies = [("organizations", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
