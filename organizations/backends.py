from django.contrib.auth.backends import ModelBackend

from .models import User


class EmailBackend(ModelBackend):
    """Log in by e-mail, compared case-insensitively like the uniqueness rule."""

    def authenticate(self, request, username=None, password=None, email=None, **kwargs):
        login = email or username or kwargs.get(User.USERNAME_FIELD)
        if not login or password is None:
            return None
        try:
            user = User.objects.get_by_natural_key(login)
        except User.DoesNotExist:
            User().set_password(password)  # same cost as a real check: no timing oracle
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None


class SsoBackend(ModelBackend):
    """Names sessions that an org's identity provider signed in (the ACS calls
    login() with it). It checks no credential itself: authenticate() never lets
    anyone in, and a session made with it opens only the orgs whose IdP vouched
    for it (organizations.signin.sessions)."""

    def authenticate(self, request, **kwargs):
        return None
