"""Forms of sign-in: accepting an invitation, asking for a password reset."""
from __future__ import annotations

import math

from django import forms
from django.contrib.auth.forms import PasswordResetForm, SetPasswordForm
from django.core.exceptions import ValidationError
from django.db import transaction

from organizations import audit, throttle
from organizations.services import find_account

from .access import can_sign_in

RESET_THROTTLE_PREFIX = "reset-throttle"


class InvitationPasswordForm(SetPasswordForm):
    """Choose a password (Django's validators run, with the account's own data)."""


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
        locked = throttle.seconds_locked(self.request, self.user.email)
        if locked:
            raise ValidationError(
                throttle.THROTTLED_MESSAGE.format(minutes=max(1, math.ceil(locked / 60))), code="throttled"
            )
        if not self.user.check_password(password):
            throttle.record_failure(self.request, self.user.email)
            raise ValidationError("That is not your password.", code="wrong_password")
        throttle.record_success(self.user.email)
        return cleaned


class ThrottledPasswordResetForm(PasswordResetForm):
    """Django's reset form, but: the e-mail leaves from a Celery task scheduled on
    commit (the request does the same work whether or not the address has an
    account), and requests are throttled per address and per e-mail with the
    sign-in limits, counted apart from sign-in failures."""

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
        user = find_account(email)
        if user is not None and user.has_usable_password() and can_sign_in(user):
            yield user

    def save(self, *args, **kwargs) -> None:
        from .tasks import enqueue, send_password_reset_email

        with transaction.atomic():
            for user in self.get_users(self.cleaned_data["email"]):
                audit.record(None, user, "account.password_reset_request", user)
                transaction.on_commit(lambda pk=user.pk: enqueue(send_password_reset_email, pk))
