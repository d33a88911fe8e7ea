"""What the tenant core announces. Apps above it (mappings, via its AppConfig.ready)
subscribe; organizations never imports them (docs/ARCHITECTURE.md, "Apps").

Sent synchronously inside the service's transaction, so a receiver's writes
commit or roll back with the change that caused them."""
from django.dispatch import Signal

# A stack was created. Keyword arguments: stack, actor.
stack_created = Signal()

# The role granted by hand to a membership changed (services.change_role).
# Keyword arguments: membership, actor.
manual_role_changed = Signal()

# A member was deactivated or reactivated by hand (services.set_member_active).
# Keyword arguments: membership, actor.
membership_active_changed = Signal()
