"""The person's two-factor pages (included at the root by organizations.signin.urls)."""
from django.urls import path

from . import views

urlpatterns = [
    path("account/two-factor/", views.manage, name="mfa_manage"),
    path("signin/two-factor/", views.challenge_view, name="mfa_challenge"),
]
