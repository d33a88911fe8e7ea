"""Single sign-on's e-mail, sent by Celery workers (organizations.signin.tasks
holds the shared enqueue and retry pattern)."""
from __future__ import annotations

import logging

from celery import shared_task

from organizations.models import Membership
from organizations.signin import mail
from organizations.signin.tasks import MAIL_ERRORS, _retry_delay

logger = logging.getLogger("orgdesk.mail")


@shared_task(bind=True, acks_late=True, max_retries=3)
def send_sso_link_email(self, membership_id: int, path: str) -> bool:
    """The one-time link that proves an account is its holder's before an org's
    IdP is linked to it. Useless after LINK_SECONDS, so few retries."""
    membership = Membership.objects.select_related("user", "organization").filter(pk=membership_id).first()
    if membership is None:
        return False
    try:
        mail.send_sso_link_proof(membership, mail.absolute(path))
    except MAIL_ERRORS as exc:
        logger.warning("SSO link e-mail for membership %s not delivered: %s", membership_id, exc)
        raise self.retry(exc=exc, countdown=min(_retry_delay(self.request.retries), 60))
    return True
