"""Sign-in URLs (included at the root by config.urls). Names are global: other
code reverses `member_home`; the password-reset names are Django's own, and
`admin_password_reset` makes the admin's sign-in page show its reset link.
Accepting an invitation to an org in SSO Strict mode continues at its IdP
(organizations/signin/csp.py)."""
from django.urls import include, path

from .csp import form_may_reach_identity_provider
from . import views

urlpatterns = [
    path("home/", views.member_home, name="member_home"),
    path("signout/", views.signout, name="signout"),
    path("signin/password/", views.confirm_password, name="confirm_password"),
    path("account/password/", views.PasswordChangeView.as_view(), name="account_password_change"),
    path("", include("organizations.signin.mfa.urls")),  # two-factor: account/two-factor/, signin/two-factor/
    path("invitations/<str:org_uid>/<str:token>/", form_may_reach_identity_provider(views.invitation_accept), name="invitation_accept"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/", views.PasswordResetView.as_view(), name="admin_password_reset"),
    path("password-reset/sent/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"
    ),
    path("password-reset/done/", views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
]
