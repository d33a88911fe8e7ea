"""Single sign-on's e-mail, sent by Celery workers (organizations.signin.tasks
holds the shared enqueue and retry pattern)."""
from __future__ import annotations

import logging

from celery import shared_task

from organizations.models import Membership, OrgRole
from organizations.scheduled import run_exclusively
from organizations.signin import mail
from organizations.signin.tasks import MAIL_ERRORS, _retry_delay

from .models import SsoSettings

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


@shared_task(bind=True, acks_late=True, max_retries=5)
def send_sso_certificate_warning(self, sso_id: int, days: int) -> bool:
    """Tell the Owner the IdP's signing certificate in use expires within `days`."""
    from . import services

    sso = SsoSettings.objects.select_related("organization").filter(pk=sso_id).first()
    if sso is None:
        return False
    info = services.certificate_in_use(sso)
    if info is None:
        return False
    owners = Membership.objects.in_effect().filter(organization=sso.organization, role=OrgRole.OWNER) \
        .select_related("user", "organization")
    try:
        for owner in owners:
            mail.send_sso_certificate_warning(owner, info, days, sso.metadata_url)
    except MAIL_ERRORS as exc:
        logger.warning("SSO certificate warning for SSO %s not delivered: %s", sso_id, exc)
        raise self.retry(exc=exc, countdown=_retry_delay(self.request.retries))
    return True


@shared_task(acks_late=True, ignore_result=True)
def refresh_idp_metadata() -> int | str:
    """Nightly (CELERY_BEAT_SCHEDULE): fetch every configured IdP metadata URL."""
    from . import services

    return run_exclusively("saml-metadata-refresh", services.refresh_all_metadata, ttl=3600)


@shared_task(acks_late=True, ignore_result=True)
def warn_certificate_expiry() -> int | str:
    """Daily (CELERY_BEAT_SCHEDULE): the Owner's 30/7/1-day certificate warnings."""
    from . import services

    return run_exclusively("saml-certificate-expiry", services.warn_certificate_expiry, ttl=3600)
