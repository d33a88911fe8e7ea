from django.urls import path

from . import views

app_name = "saml"

urlpatterns = [
    path("", views.start, name="start"),
    path("signed-in/", views.signed_in_view, name="signed-in"),
    path("saml/<str:org_uid>/login/", views.login_view, name="login"),
    path("saml/<str:org_uid>/acs/", views.acs_view, name="acs"),
    path("saml/<str:org_uid>/metadata/", views.metadata_view, name="metadata"),
]
