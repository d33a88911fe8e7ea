"""Beat's daily re-check of verified domains (under a lease: organizations.scheduled).
The e-mail that tells the Owner a domain was unverified is sent by a task of
domains.mail, which the services schedule."""
from __future__ import annotations

from celery import shared_task

from organizations.scheduled import run_exclusively

from . import services


@shared_task(acks_late=True, ignore_result=True)
def recheck_verified_domains() -> dict | str:
    return run_exclusively("recheck-verified-domains", services.recheck_verified_domains, ttl=6 * 3600)
