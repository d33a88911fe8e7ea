"""Forms of sign-in: the sign-in form itself, accepting an invitation,
confirming or changing one's password, asking for a password reset."""
from __future__ import annotations

import math

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import PasswordChangeForm, PasswordResetForm, SetPasswordForm
from django.core.exceptions import ValidationError

from organizations.background import enqueue_after_response

from . import throttle
from .access import can_sign_in
from .mfa.challenge import require_second_factor
from .saml.policy import password_signin_refusal
from .tasks import send_password_reset_email_to
from .throttle import ThrottledLoginFormMixin

RESET_THROTTLE_PREFIX = "reset-throttle"


class OrgdeskAuthenticationForm(ThrottledLoginFormMixin, AdminAuthenticationForm):
    """The one sign-in form: Owners and Admins go on to the admin, members to
    their home page (config.admin_site.OrgdeskAdminSite.login). A person with no active
    membership left (deactivated or removed everywhere) cannot sign in."""

    # Orgdesk's words, not Django's "…for a staff account": members sign in here too.
    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": "That e-mail and password do not match. Check both and try again; if you forgot "
                         "your password, or never chose one, reset it with the link below.",
    }

    def confirm_login_allowed(self, user):
        if user.is_active and (refusal := password_signin_refusal(user)):
            raise ValidationError(refusal, code="sso_required")
        if not can_sign_in(user):
            raise ValidationError(
                "This account cannot sign in: it is not an active member of any organization.",
                code="inactive",
            )

    def get_user(self):
        """An account with two-factor on is not handed to login() yet: its
        second step comes first (organizations/signin/mfa/challenge.py)."""
        require_second_factor(self.user_cache)
        return self.user_cache


# Django's wording has a curly apostrophe ("didn\u2019t"); Orgdesk writes straight quotes.
PASSWORD_MISMATCH = "The two passwords do not match."


class InvitationPasswordForm(SetPasswordForm):
    """Choose a password, from an invitation or a reset link (Django's validators
    run, with the account's own data)."""

    error_messages = {**SetPasswordForm.error_messages, "password_mismatch": PASSWORD_MISMATCH}


class ConfirmPasswordForm(forms.Form):
    """The signed-in person's own password, throttled like the sign-in form."""

    password = forms.CharField(
        label="Password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True})
    )

    def __init__(self, user, *args, request=None, **kwargs):
        self.user, self.request = user, request
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("password")
        if password is None:
            return cleaned
        # A password attempt like any sign-in: the pair and address pauses and
        # the account-wide delay apply (the person's own browser skips the delay).
        refusal = throttle.signin_refusal(self.request, self.user.email)
        if refusal:
            raise ValidationError(refusal.message(), code="throttled")
        if not self.user.check_password(password):
            throttle.record_signin_failure(self.request, self.user.email)
            raise ValidationError("That is not your password.", code="wrong_password")
        throttle.record_signin_success(self.request, self.user.email)
        return cleaned


class ThrottledPasswordChangeForm(PasswordChangeForm):
    """Django's change form; the old password is a guess like any sign-in
    (organizations.signin.throttle: pair and address pauses, account-wide delay)."""

    error_messages = {**PasswordChangeForm.error_messages, "password_mismatch": PASSWORD_MISMATCH}

    def __init__(self, user, *args, request=None, **kwargs):
        self.request = request
        super().__init__(user, *args, **kwargs)

    def clean_old_password(self):
        refusal = throttle.signin_refusal(self.request, self.user.email)
        if refusal:
            raise ValidationError(refusal.message(), code="throttled")
        try:
            old = super().clean_old_password()
        except ValidationError:
            throttle.record_signin_failure(self.request, self.user.email)
            raise
        throttle.record_signin_success(self.request, self.user.email)
        return old


class ThrottledPasswordResetForm(PasswordResetForm):
    """Django's reset form, but: the request does the same work whether or not
    the address has an account (it enqueues one task with the address typed;
    the task looks the account up, audits and e-mails, after the response when
    tasks run eagerly), and requests are throttled per address and per e-mail
    with the sign-in limits, counted apart from sign-in failures."""

    def __init__(self, *args, request=None, **kwargs):
        self.request = request
        super().__init__(*args, **kwargs)

    def clean_email(self):
        # On the field: the admin's reset template shows field errors only.
        email = self.cleaned_data["email"]
        locked = throttle.seconds_locked(self.request, email, prefix=RESET_THROTTLE_PREFIX)
        if locked:
            raise ValidationError(
                "Too many password reset requests. Try again in {} minute(s).".format(max(1, math.ceil(locked / 60))),
                code="throttled",
            )
        throttle.record_failure(self.request, email, prefix=RESET_THROTTLE_PREFIX)
        return email

    def get_users(self, email):
        """Never used in the request: the task decides (tasks.send_password_reset_email_to)."""
        return iter(())

    def save(self, *args, **kwargs) -> None:
        enqueue_after_response(send_password_reset_email_to, self.cleaned_data["email"])
