"""Beat's daily re-check of verified domains (under a lease: organizations.scheduled)
and the e-mail that tells the Owner a domain was unverified."""
from __future__ import annotations

import logging

from celery import shared_task

from organizations.scheduled import run_exclusively
from django.conf import settings

from organizations.signin.tasks import MAIL_ERRORS

from . import mail
from .models import VerifiedDomain

logger = logging.getLogger("orgdesk.domains")


def _retry_delay(retries: int) -> int:
    return min(settings.EMAIL_RETRY_DELAY * 2**retries, 3600)


@shared_task(acks_late=True, ignore_result=True)
def recheck_verified_domains() -> dict | str:
    from .services import recheck_verified_domains as recheck

    return run_exclusively("recheck-verified-domains", recheck, ttl=6 * 3600)


@shared_task(bind=True, acks_late=True, max_retries=8)
def send_domain_unverified_email(self, domain_id: int) -> bool:
    """Nothing to say once the domain is verified again or removed."""
    from .services import owners_of

    row = VerifiedDomain.objects.select_related("organization").filter(pk=domain_id, verified_at__isnull=True).first()
    if row is None:
        return False
    owners = owners_of(row.organization)
    try:
        for owner in owners:
            mail.send_domain_unverified(row, owner)
    except MAIL_ERRORS as exc:
        logger.warning("Domain e-mail for %s not delivered: %s", row.domain, exc)
        raise self.retry(exc=exc, countdown=_retry_delay(self.request.retries))
    return bool(owners)
