"""The e-mail verified domains send (from Celery tasks only): the Owner is told
that a domain lost its verification."""
from __future__ import annotations

from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from organizations.models import User
from organizations.signin.mail import absolute

from .models import VerifiedDomain


def send_domain_unverified(row: VerifiedDomain, owner: User) -> None:
    org = row.organization
    context = {
        "org_name": org.name,
        "domain": row.domain,
        "record_name": row.record_name,
        "record_value": row.record_value,
        "answer": row.last_error,
        "url": absolute(reverse("admin:org-settings-sso", args=[org.uid])),
    }
    body = render_to_string("signin/email/domain_unverified.txt", context)
    EmailMultiAlternatives(
        subject=f"{row.domain} is no longer verified for {org.name} on Orgdesk", body=body, to=[owner.email]
    ).send(fail_silently=False)
