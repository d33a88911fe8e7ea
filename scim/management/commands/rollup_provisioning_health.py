"""Roll provisioning activity up into hours for the SCIM tab's health chart (beat runs the same: scim.tasks)."""
from django.core.management.base import BaseCommand

from scim.health_rollup import roll_up_all


class Command(BaseCommand):
    help = "Roll the completed hours of every org's provisioning activity up for the health chart."

    def handle(self, *args, **options):
        done = roll_up_all()
        self.stdout.write(
            f"Rolled up {done['hours']} hours of {done['orgs']} orgs"
            + (f"; {done['failed']} orgs failed (see the log)." if done["failed"] else ".")
        )
