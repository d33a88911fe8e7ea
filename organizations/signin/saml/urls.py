from django.urls import path

from organizations.signin.csp import form_may_reach_identity_provider

from . import signing, views

app_name = "saml"

urlpatterns = [
    path("", form_may_reach_identity_provider(views.start), name="start"),
    path("signed-in/", views.signed_in_view, name="signed-in"),
    path("saml/<str:org_uid>/login/", views.login_view, name="login"),
    path("saml/<str:org_uid>/acs/", views.acs_view, name="acs"),
    path("saml/<str:org_uid>/metadata/", views.metadata_view, name="metadata"),
    path("saml/<str:org_uid>/slo/", views.slo_view, name="slo"),
    path("saml/<str:org_uid>/link/", signing.link_view, name="link"),
    path("saml/<str:org_uid>/link/<str:token>/", signing.link_confirm_view, name="link-confirm"),
]
