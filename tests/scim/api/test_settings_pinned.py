"""django-scim2 reads SCIM_SERVICE_PROVIDER once at import and silently ignores
misspelled keys: pin what it actually sees, and the django-scim2 behaviour we build on."""
from __future__ import annotations

import pytest
from django.conf import settings
from django_scim import views as scim_views
from django_scim.adapters import SCIMGroup, SCIMUser
from django_scim.settings import DEFAULTS, scim_settings

from organizations.models import Membership
from scim.api import adapters, auth, discovery, views
from scim.models import ScimGroup


def test_every_configured_key_is_one_django_scim2_knows():
    assert set(settings.SCIM_SERVICE_PROVIDER) <= set(DEFAULTS)


def test_django_scim2_resolves_our_classes():
    assert scim_settings.USER_ADAPTER is adapters.ScimUserAdapter
    assert scim_settings.GROUP_ADAPTER is adapters.ScimGroupAdapter
    assert scim_settings.GROUP_MODEL is ScimGroup
    assert scim_settings.USER_MODEL_GETTER() is Membership
    assert scim_settings.AUTH_CHECK_MIDDLEWARE is auth.ScimAuthCheckMiddleware
    assert scim_settings.SERVICE_PROVIDER_CONFIG_MODEL is discovery.ServiceProviderConfig
    assert scim_settings.WWW_AUTHENTICATE_HEADER.startswith("Bearer ")
    assert [s["type"] for s in scim_settings.AUTHENTICATION_SCHEMES] == ["oauthbearertoken"]


def test_scim_limits_are_settings():
    assert settings.SCIM_MAX_PAGE_SIZE >= 100
    assert settings.SCIM_MAX_BODY_BYTES > 0
    assert settings.SCIM_ACTIVITY_RETENTION_DAYS > 0
    assert "scim.api.middleware.ScimApiMiddleware" in settings.MIDDLEWARE


def test_pinned_django_scim2_behaviour_we_extend():
    # Our views reuse its class hierarchy and method routing...
    assert issubclass(views.UsersView, scim_views.UsersView)
    assert issubclass(views.GroupsView, scim_views.GroupsView)
    assert issubclass(views.ScimApiView, scim_views.SCIMView)
    assert issubclass(adapters.ScimUserAdapter, SCIMUser) and issubclass(adapters.ScimGroupAdapter, SCIMGroup)
    # ...and its PATCH driver, which lower-cases op names and refuses a path-less remove.
    from django_scim.adapters import SCIMMixin

    assert adapters.ScimUserAdapter.handle_path_and_value is SCIMMixin.handle_path_and_value
    # django-scim2 renders `status` as an int; RFC 7644 wants a string: we render our own.
    from django_scim.exceptions import SCIMException

    assert SCIMException("x", status=400).to_dict()["status"] == 400


@pytest.mark.django_db
def test_django_scim2_patch_driver_lower_cases_ops(rf):
    adapter = adapters.ScimGroupAdapter(ScimGroup(display_name="x"))
    adapter.handle_operations([{"op": "Replace", "path": "displayName", "value": "Y"}])
    assert adapter.name == "Y"
    from django_scim.exceptions import BadRequestError

    with pytest.raises(BadRequestError):
        adapter.handle_operations([{"op": "Remove"}])
