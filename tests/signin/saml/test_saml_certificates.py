"""Certificates without outages: the IdP configured from its metadata URL
(served here by a loopback HTTP server) and refreshed nightly; hostile
metadata refused (a DTD, plain http, too large, another scheme, only expired
certificates); two signing certificates during a rollover; the Owner warned
30, 7 and 1 days before the certificate in use expires, once each."""
from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from organizations.models import AuditEvent
from organizations.services import ServiceError
from organizations.signin.saml import config, services, tasks
from organizations.signin.saml.models import SsoSettings
from tests import builders
from tests.saml_idp import MetadataServer, TestIdP, redirect_to, stream_without_length

from .conftest import post_acs

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _loopback_metadata_allowed(settings):
    settings.SAML_METADATA_ALLOW_HTTP = True


@pytest.fixture
def configured(db, org, owner):
    services.create_settings(org, actor=owner.user, signin_name="acme")
    return org


def tab(org):
    return reverse("admin:org-settings-sso", args=[org.uid])


def _sso(org) -> SsoSettings:
    return SsoSettings.objects.get(organization=org)


# ---- the metadata URL -------------------------------------------------------------


def test_owner_sets_the_metadata_url_on_the_tab(client, configured, owner, idp):
    org = configured
    with MetadataServer({"/metadata": idp.metadata()}) as server:
        client.force_login(owner.user)
        response = client.post(tab(org), {"form": "metadata_url", "metadata_url-metadata_url": server.url("/metadata")})
        assert response.status_code == 302
    sso = _sso(org)
    assert (sso.metadata_url, sso.idp_entity_id, sso.idp_sso_url) == (server.url("/metadata"), idp.entity_id, idp.sso_url)
    assert sso.idp_x509_cert == services.normalize_certificate(idp.cert_pem) and sso.idp_x509_cert_next == ""
    assert sso.metadata_refreshed_at is not None and sso.metadata_error == ""
    body = client.get(tab(org)).content.decode()
    assert 'id="sso-metadata-refreshed"' in body and server.url("/metadata") in body
    event = AuditEvent.objects.get(action="sso.set_metadata_url")
    assert event.after["metadata_url"] == server.url("/metadata") and "BEGIN" not in json.dumps(event.after)


def _refused(org, owner, url, message):
    with pytest.raises(ServiceError, match=message):
        services.set_metadata_url(org, url, actor=owner.user)
    sso = _sso(org)
    assert (sso.metadata_url, sso.idp_x509_cert) == ("", "")


def test_metadata_with_a_dtd_is_refused(configured, owner, idp):
    doctype = '<!DOCTYPE md:EntityDescriptor [<!ENTITY x "y">]>'
    with MetadataServer({"/m": idp.metadata(prolog=doctype)}) as server:
        _refused(configured, owner, server.url("/m"), "not valid SAML metadata")


def test_plain_http_is_refused_without_the_allowance(configured, owner, idp, settings):
    settings.SAML_METADATA_ALLOW_HTTP = False
    settings.DEBUG = False
    with MetadataServer({"/m": idp.metadata()}) as server:
        _refused(configured, owner, server.url("/m"), "must use HTTPS")
        assert server.hits == []  # refused before connecting


def test_http_allowance_is_for_loopback_only(configured, owner):
    _refused(configured, owner, "http://idp.example.com/metadata", "loopback")


def test_https_to_a_private_address_is_refused(configured, owner, settings):
    settings.SAML_METADATA_ALLOW_HTTP = False
    _refused(configured, owner, "https://127.0.0.1:9/metadata", "not a public address")


def test_oversized_metadata_is_refused_while_streaming(configured, owner, idp):
    big = b"<!-- " + b"x" * 1024 + b" -->\n"
    routes = {"/declared": idp.metadata().encode() + big * 600, "/streamed": stream_without_length(big, 4000)}
    with MetadataServer(routes) as server:
        _refused(configured, owner, server.url("/declared"), "larger than 512 KB")
        _refused(configured, owner, server.url("/streamed"), "larger than 512 KB")


def test_a_redirect_to_another_scheme_is_refused(configured, owner, idp):
    with MetadataServer({"/m": redirect_to("https://idp.example.com/metadata"), "/ok": idp.metadata(),
                         "/same": None}) as server:
        server.routes["/same"] = redirect_to(server.url("/ok"))
        _refused(configured, owner, server.url("/m"), "another scheme")
        services.set_metadata_url(configured, server.url("/same"), actor=owner.user)
    assert _sso(configured).idp_entity_id == idp.entity_id


def test_a_timeout_is_refused(configured, owner, settings):
    import threading

    settings.SAML_METADATA_TIMEOUT = 1
    release = threading.Event()

    def stall(handler):
        release.wait(5)

    with MetadataServer({"/slow": stall}) as server:
        try:
            _refused(configured, owner, server.url("/slow"), "did not answer within 1 seconds")
        finally:
            release.set()


def test_metadata_with_only_an_expired_certificate_is_refused(configured, owner):
    expired = TestIdP(days_valid=-2)
    with MetadataServer({"/m": expired.metadata()}) as server:
        _refused(configured, owner, server.url("/m"), "signing certificate expired on")
    with pytest.raises(ServiceError, match="expired on"):  # an uploaded document alike
        services.import_metadata(configured, expired.metadata(), actor=owner.user)


def test_an_expired_certificate_next_to_a_valid_one_is_dropped(configured, owner, idp):
    expired = idp.rolled_over(days_valid=-2)
    services.import_metadata(configured, expired.metadata(also=[idp]), actor=owner.user)
    sso = _sso(configured)
    assert sso.idp_x509_cert == services.normalize_certificate(idp.cert_pem) and sso.idp_x509_cert_next == ""


def test_sso_configure_with_a_metadata_url(configured, owner, idp):
    with MetadataServer({"/m": idp.metadata()}) as server:
        out = StringIO()
        call_command("sso_configure", configured.uid, "--metadata-url", server.url("/m"), "--actor", owner.user.email,
                     "--enable", "--json", stdout=out)
        assert json.loads(out.getvalue())["acs_url"] == config.sp_urls(configured).acs_url
        with pytest.raises(CommandError, match="DTD|not valid SAML metadata"):
            server.routes["/dtd"] = idp.metadata(prolog='<!DOCTYPE x [<!ENTITY a "b">]>')
            call_command("sso_configure", configured.uid, "--metadata-url", server.url("/dtd"),
                         "--actor", owner.user.email, stdout=StringIO())
    sso = _sso(configured)
    assert sso.enabled and sso.metadata_url == server.url("/m")


# ---- the nightly refresh ------------------------------------------------------------


def test_nightly_refresh_follows_a_rollover_and_reports_failures(client, configured, owner, idp):
    org = configured
    new = idp.rolled_over()
    with MetadataServer({"/m": idp.metadata()}) as server:
        services.set_metadata_url(org, server.url("/m"), actor=owner.user)
        services.enable_sso(org, actor=owner.user)
        # Okta's rollover: the metadata lists the current and the next certificate.
        server.routes["/m"] = idp.metadata(also=[new])
        assert tasks.refresh_idp_metadata() == 1
        sso = _sso(org)
        assert sso.idp_x509_cert_next == services.normalize_certificate(new.cert_pem)
        assert AuditEvent.objects.filter(action="sso.metadata_refresh").count() == 1
        assert tasks.refresh_idp_metadata() == 1  # nothing changed: nothing audited
        assert AuditEvent.objects.filter(action="sso.metadata_refresh").count() == 1

        refreshed_at = _sso(org).metadata_refreshed_at
        server.routes["/m"] = idp.metadata(prolog='<!DOCTYPE x [<!ENTITY a "b">]>')
        assert tasks.refresh_idp_metadata() == 0
    sso = _sso(org)
    assert sso.metadata_refreshed_at == refreshed_at and "not valid SAML metadata" in sso.metadata_error
    assert sso.idp_x509_cert_next  # the values are kept
    assert AuditEvent.objects.filter(action="sso.metadata_refresh_failed").exists()
    client.force_login(owner.user)
    body = client.get(tab(org)).content.decode()
    assert 'id="sso-metadata-error"' in body and 'id="sso-rollover"' in body


# ---- two signing certificates ------------------------------------------------------


@pytest.mark.parametrize("primary_is_old", [True, False])
def test_either_certificate_of_a_rollover_signs_in(client, configured, owner, idp, primary_is_old):
    org = configured
    new = idp.rolled_over()
    first, second = (idp, new) if primary_is_old else (new, idp)
    services.import_metadata(org, first.metadata(also=[second]), actor=owner.user)
    services.enable_sso(org, actor=owner.user)
    sp = config.sp_urls(org)
    member = builders.make_provisioned(org, "member@acme.example")
    for signer in (idp, new):
        client.logout()
        response = post_acs(client, org, idp.response(sp, member.user.email, signer=signer))
        assert response.status_code == 302, response.content.decode()[:500]
    forger = TestIdP()
    client.logout()
    assert post_acs(client, org, idp.response(sp, member.user.email, signer=forger)).status_code == 403


def test_an_expired_certificate_stops_being_trusted_once_the_next_is_valid(client, configured, owner, idp):
    org = configured
    old = idp.rolled_over(days_valid=-1)
    services.set_identity_provider(org, entity_id=idp.entity_id, sso_url=idp.sso_url, certificate=old.cert_pem,
                                   next_certificate=idp.cert_pem, actor=owner.user)
    services.enable_sso(org, actor=owner.user)  # the certificate in use (the next one) is valid
    sp = config.sp_urls(org)
    builders.make_provisioned(org, "member@acme.example")
    assert post_acs(client, org, idp.response(sp, "member@acme.example", signer=old)).status_code == 403
    assert post_acs(client, org, idp.response(sp, "member@acme.example")).status_code == 302


def test_the_next_certificate_by_hand_on_the_tab(client, configured, owner, idp):
    org = configured
    new = idp.rolled_over()
    client.force_login(owner.user)
    response = client.post(tab(org), {
        "form": "idp", "idp-idp_sso_url": idp.sso_url, "idp-idp_entity_id": idp.entity_id,
        "idp-idp_x509_cert": idp.cert_base64, "idp-idp_x509_cert_next": new.cert_pem,
        "idp-idp_slo_url": "https://idp.example.test/slo",
    })
    assert response.status_code == 302
    sso = _sso(org)
    assert sso.idp_x509_cert_next == services.normalize_certificate(new.cert_pem)
    assert sso.idp_slo_url == "https://idp.example.test/slo"
    assert 'id="sso-next-cert-subject"' in client.get(tab(org)).content.decode()


# ---- expiry warnings ----------------------------------------------------------------


def test_the_owner_is_warned_30_7_and_1_days_before_once_each(configured, owner, monkeypatch,
                                                             django_capture_on_commit_callbacks):
    org = configured
    expiring = TestIdP(days_valid=40)
    services.import_metadata(org, expiring.metadata(), actor=owner.user)
    services.enable_sso(org, actor=owner.user)
    real_now = timezone.now

    def at(days: float):
        monkeypatch.setattr(timezone, "now", lambda: real_now() + dt.timedelta(days=days))

    def run() -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return tasks.warn_certificate_expiry()

    assert run() == 0 and mail.outbox == []  # 40 days left
    at(15)  # 25 days left
    assert run() == 1 and run() == 0
    at(20)
    assert run() == 0
    at(34)  # 6 days left
    assert run() == 1 and run() == 0
    at(39.5)  # half a day left
    assert run() == 1 and run() == 0
    assert [m.to for m in mail.outbox] == [[owner.user.email]] * 3
    subjects = [m.subject for m in mail.outbox]
    assert "within 30 days" in subjects[0] and "within 7 days" in subjects[1] and "tomorrow" in subjects[2]
    assert reverse("admin:org-settings-sso", args=[org.uid]) in mail.outbox[0].body
    days = list(AuditEvent.objects.filter(action="sso.certificate_warning").order_by("pk").values_list("after__days", flat=True))
    assert days == [30, 7, 1]


def test_a_late_import_sends_one_warning_and_a_new_certificate_starts_over(configured, owner, idp,
                                                                          django_capture_on_commit_callbacks):
    org = configured
    services.import_metadata(org, TestIdP(days_valid=5).metadata(), actor=owner.user)
    services.enable_sso(org, actor=owner.user)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.warn_certificate_expiry() == 1
        assert tasks.warn_certificate_expiry() == 0
    assert len(mail.outbox) == 1 and "within 7 days" in mail.outbox[0].subject
    # A rollover: the certificate in use is the one expiring last, far away.
    sso = _sso(org)
    services.set_identity_provider(org, entity_id=sso.idp_entity_id, sso_url=sso.idp_sso_url,
                                   certificate=sso.idp_x509_cert, next_certificate=idp.cert_pem, actor=owner.user)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.warn_certificate_expiry() == 0
    services.import_metadata(org, TestIdP(days_valid=20).metadata(), actor=owner.user)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.warn_certificate_expiry() == 1
    assert "within 30 days" in mail.outbox[-1].subject
