"""Delete provisioning activity older than SCIM_ACTIVITY_RETENTION_DAYS (beat runs the same pruning: scim.tasks)."""
from django.core.management.base import BaseCommand

from scim.activity import prune


class Command(BaseCommand):
    help = "Delete provisioning activity entries older than SCIM_ACTIVITY_RETENTION_DAYS."

    def handle(self, *args, **options):
        deleted = prune()
        self.stdout.write(f"Deleted {deleted} provisioning activity entries.")
