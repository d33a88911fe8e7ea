"""What the tenant core announces. Apps above it (scim, mappings) send or
subscribe in their AppConfig.ready; organizations never imports them
(docs/ARCHITECTURE.md, "Apps").

Sent synchronously inside the changing transaction, so a receiver's writes
commit or roll back with the change that caused them."""
from django.dispatch import Signal

# A stack was created. Keyword arguments: stack, actor.
stack_created = Signal()

# The role granted by hand to a membership changed (services.change_role).
# Keyword arguments: membership, actor.
manual_role_changed = Signal()

# A membership was created. kwargs: membership, source ("manual" or "scim"), actor.
membership_created = Signal()

# A membership was deactivated (active=False) or reactivated (active=True), by
# hand (services.set_member_active) or over SCIM (scim.provisioning).
# kwargs: membership, active, actor.
membership_active_changed = Signal()

# Ownership passed to another member (services.transfer_ownership).
# kwargs: organization, new_owner, previous_owner (a Membership or None), actor.
ownership_transferred = Signal()

# Which mappings name a custom stack role (asked before it is deleted:
# services.stack_role_usage). kwargs: role. A receiver returns (names, total):
# up to a few names of what uses it ("SCIM group Engineering") and how many in all.
stack_role_in_use = Signal()
