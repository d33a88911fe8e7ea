"""What the SCIM app announces. Apps above it (mappings, via its AppConfig.ready)
subscribe; scim never imports them (docs/ARCHITECTURE.md, "Apps").

Sent synchronously inside the provisioning service's transaction, so a
receiver's writes commit or roll back with the SCIM change that caused them."""
from django.dispatch import Signal

# Members joined or left SCIM groups (a group created with members, members
# changed, a group deleted with the ids collected before deleting): whatever
# access is derived from group membership must be derived again for them.
# (Deactivation over SCIM is organizations.signals.membership_active_changed.)
# Keyword arguments: organization, member_ids (sorted, non-empty), actor.
group_membership_changed = Signal()

# The SCIM tab of Organization Settings is being rendered for an org with SCIM
# on. Keyword arguments: request, organization. A receiver returns HTML (safe
# string) shown as a section of the tab, before the provisioning activity.
scim_tab_sections = Signal()
