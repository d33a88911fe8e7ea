from django.contrib.admin.apps import AdminConfig


class OrgdeskAdminConfig(AdminConfig):
    """The Django admin is the product UI; its site is tenant-aware."""

    default_site = "config.admin_site.OrgdeskAdminSite"
