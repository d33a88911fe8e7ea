"""The SCIM 2.0 API under /scim/v2/organizations/<org_uid>/. Filled in by the SCIM API work."""

urlpatterns: list = []
