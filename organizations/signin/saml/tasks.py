"""Single sign-on's e-mail, sent by Celery workers (organizations.signin.tasks
holds the shared enqueue and retry pattern)."""
from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction

from organizations import audit
from organizations.audit_actions import SSO_CERTIFICATE_WARNING
from organizations.background import enqueue
from organizations.models import Membership, OrgRole
from organizations.scheduled import run_exclusively
from organizations.signin import mail
from organizations.signin.tasks import MAIL_ERRORS, _retry_delay

from . import services
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


def warn_due_certificates() -> int:
    """Daily: e-mail the Owner of each org whose IdP certificate in use expires
    within 30, 7 or 1 days (each warning once, remembered per certificate).
    Returns how many warnings were sent."""
    sent = 0
    for sso_id in SsoSettings.objects.filter(enabled=True).exclude(idp_x509_cert="").values_list("pk", flat=True):
        with transaction.atomic():
            sso = SsoSettings.objects.select_for_update().select_related("organization").filter(pk=sso_id).first()
            if sso is None or not sso.enabled:
                continue
            found = services.due_warning(sso)
            if found is None:
                continue
            days, info = found
            previous = sso.cert_warnings_sent or {}
            already = set(previous.get("days") or []) if previous.get("sha256") == info.sha256 else set()
            already |= {d for d in services.EXPIRY_WARNING_DAYS if d >= days}
            sso.cert_warnings_sent = {"sha256": info.sha256, "days": sorted(already, reverse=True)}
            sso.save(update_fields=["cert_warnings_sent", "updated_at"])
            audit.record(sso.organization, None, SSO_CERTIFICATE_WARNING, sso, target_label=sso.signin_name,
                         after={"days": days, "certificate_sha256": info.sha256,
                                "expires": info.not_after.isoformat()})
            transaction.on_commit(lambda pk=sso.pk, d=days: enqueue(send_sso_certificate_warning, pk, d))
            sent += 1
    return sent


@shared_task(acks_late=True, ignore_result=True)
def refresh_idp_metadata() -> int | str:
    """Nightly (CELERY_BEAT_SCHEDULE): fetch every configured IdP metadata URL."""
    return run_exclusively("saml-metadata-refresh", services.refresh_all_metadata, ttl=3600)


@shared_task(acks_late=True, ignore_result=True)
def warn_certificate_expiry() -> int | str:
    """Daily (CELERY_BEAT_SCHEDULE): the Owner's 30/7/1-day certificate warnings."""
    return run_exclusively("saml-certificate-expiry", warn_due_certificates, ttl=3600)
