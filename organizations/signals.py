"""What the tenant core announces. Higher apps (scim, mappings) send or subscribe
to these without the core ever importing them: organizations <- scim <- mappings."""
from django.dispatch import Signal

# A membership was created. kwargs: membership, source ("manual" or "scim"), actor.
# Sent inside the creating transaction, so a receiver's writes commit or roll back with it.
membership_created = Signal()

# A membership was deactivated (active=False) or reactivated (active=True).
# kwargs: membership, active, actor. Sent inside the changing transaction.
membership_active_changed = Signal()
