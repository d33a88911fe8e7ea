"""The e-mail verified domains send, and the Celery task that sends it: the
Owner is told that a domain lost its verification. The domain services schedule
the task (services._unverify), so it lives below them, not in tasks.py (beat's
re-check, which calls the services)."""
from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from organizations.models import Membership, Organization, OrgRole, User
from organizations.signin.mail import absolute
from organizations.signin.tasks import MAIL_ERRORS

from .models import VerifiedDomain

logger = logging.getLogger("orgdesk.domains")


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


def owners_of(org: Organization) -> list[User]:
    return [
        m.user for m in Membership.objects.in_effect()
        .filter(organization=org, role=OrgRole.OWNER, user__is_active=True).select_related("user")
    ]


def _retry_delay(retries: int) -> int:
    return min(settings.EMAIL_RETRY_DELAY * 2**retries, 3600)


@shared_task(bind=True, acks_late=True, max_retries=8)
def send_domain_unverified_email(self, domain_id: int) -> bool:
    """Nothing to say once the domain is verified again or removed."""
    row = VerifiedDomain.objects.select_related("organization").filter(pk=domain_id, verified_at__isnull=True).first()
    if row is None:
        return False
    owners = owners_of(row.organization)
    try:
        for owner in owners:
            send_domain_unverified(row, owner)
    except MAIL_ERRORS as exc:
        logger.warning("Domain e-mail for %s not delivered: %s", row.domain, exc)
        raise self.retry(exc=exc, countdown=_retry_delay(self.request.retries))
    return bool(owners)
