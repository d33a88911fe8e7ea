"""Delete provisioning activity older than SCIM_ACTIVITY_RETENTION_DAYS, and the
health chart's rolled-up hours past it (beat runs the same pruning: scim.tasks)."""
from django.core.management.base import BaseCommand

from scim.activity import prune
from scim.health_rollup import prune_rollups


class Command(BaseCommand):
    help = "Delete provisioning activity entries older than SCIM_ACTIVITY_RETENTION_DAYS."

    def handle(self, *args, **options):
        deleted = prune()
        hours = prune_rollups()
        self.stdout.write(f"Deleted {deleted} provisioning activity entries and {hours} rolled-up hours.")
