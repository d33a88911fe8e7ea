"""Every membership made by hand (the Owner of each org, members added before
names were asked for) becomes a complete SCIM user: the account's name where the
membership has none, and the account's e-mail as its primary work e-mail where
it has no e-mail at all."""
from django.db import migrations
from django.db.models import Exists, OuterRef, Subquery

BATCH = 2000


def complete_profiles(apps, schema_editor):
    Membership = apps.get_model("organizations", "Membership")
    MembershipEmail = apps.get_model("organizations", "MembershipEmail")
    User = apps.get_model("organizations", "User")
    account = User.objects.filter(pk=OuterRef("user_id"))
    Membership.objects.filter(given_name="", family_name="").update(
        given_name=Subquery(account.values("first_name")[:1]),
        family_name=Subquery(account.values("last_name")[:1]),
    )
    without_email = Membership.objects.filter(
        ~Exists(MembershipEmail.objects.filter(membership_id=OuterRef("pk")))
    ).values_list("pk", "user__email")
    rows = [MembershipEmail(membership_id=pk, value=email, type="work", primary=True) for pk, email in without_email.iterator()]
    MembershipEmail.objects.bulk_create(rows, batch_size=BATCH)


class Migration(migrations.Migration):
    dependencies = [("organizations", "0007_invitations")]

    operations = [migrations.RunPython(complete_profiles, migrations.RunPython.noop)]
