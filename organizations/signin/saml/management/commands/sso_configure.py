import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from organizations.services import ServiceError

from ... import config, services
from ._common import add_org_and_actor, resolve


class Command(BaseCommand):
    help = (
        "Configure SAML single sign-on for an organization from the IdP's metadata file or metadata URL (HTTPS, "
        "refreshed nightly), optionally enabling it and Strict mode; prints the values to paste into the IdP."
    )

    def add_arguments(self, parser) -> None:
        add_org_and_actor(parser)
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--metadata", metavar="FILE", help="The IdP's SAML metadata XML file.")
        source.add_argument("--metadata-url", metavar="URL",
                            help="The IdP's metadata URL (HTTPS); fetched now and refreshed every night.")
        parser.add_argument("--name", metavar="SIGNIN_NAME", help="The SSO sign-in name (only when first created).")
        parser.add_argument("--enable", action="store_true", help="Enable SSO.")
        parser.add_argument("--strict", action="store_true", help="Turn on Strict mode (implies --enable).")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args, org_uid, actor, metadata, metadata_url, name, enable, strict, json: bool,
               **options) -> None:
        org, user = resolve(org_uid, actor)
        xml = None
        if metadata:
            try:
                xml = Path(metadata).read_bytes()
            except OSError as exc:
                raise CommandError(f"Cannot read {metadata}: {exc.strerror}.") from exc
        elif not (metadata_url or "").strip():
            raise CommandError("--metadata-url is empty.")
        try:
            with transaction.atomic():
                sso = services.create_settings(org, actor=user, signin_name=name)
                if xml is not None:
                    services.import_metadata(org, xml, actor=user)
                else:
                    services.set_metadata_url(org, metadata_url, actor=user)
                if enable or strict:
                    services.enable_sso(org, actor=user)
                if strict:
                    services.set_strict(org, True, actor=user)
        except ServiceError as exc:
            raise CommandError(str(exc)) from exc
        sso.refresh_from_db()
        urls = config.sp_urls(org).as_dict()
        if json:
            self.stdout.write(_dumps(urls), ending="\n")
            return
        self.stdout.write(f"SSO for {org.name} (sign-in name {sso.signin_name}): "
                          f"{'enabled' if sso.enabled else 'not enabled'}{', strict' if sso.strict else ''}.")
        for label, key in (("Entity ID (Audience URI)", "entity_id"), ("ACS URL (Single sign-on URL)", "acs_url"),
                           ("SP metadata URL", "metadata_url"), ("Sign-in URL", "login_url")):
            self.stdout.write(f"{label}: {urls[key]}")


def _dumps(payload: dict) -> str:
    return json.dumps(payload)
