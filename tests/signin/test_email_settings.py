"""EMAIL_URL picks Django's e-mail transport."""
import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings import parse_email_url


def test_email_urls():
    assert parse_email_url("console:")["EMAIL_BACKEND"].endswith("console.EmailBackend")
    assert parse_email_url("smtp+tls://me%40corp.example:p%2Fw@mail.example") == {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "mail.example",
        "EMAIL_PORT": 587,
        "EMAIL_HOST_USER": "me@corp.example",
        "EMAIL_HOST_PASSWORD": "p/w",
        "EMAIL_USE_TLS": True,
        "EMAIL_USE_SSL": False,
    }
    smtps = parse_email_url("smtps://relay:2465")
    assert (smtps["EMAIL_PORT"], smtps["EMAIL_USE_SSL"], smtps["EMAIL_HOST_USER"]) == (2465, True, "")
    with pytest.raises(ImproperlyConfigured):
        parse_email_url("http://mail.example")
