"""Every admin page of the operators' UI renders for a superuser, with real objects behind it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from audit.services.record import record
from certctl.kernel import counters
from certctl.kernel.certificate_facts import read_facts
from certctl.models import ProcessHeartbeat
from certctl.services import heartbeat
from certificates import models as m
from certificates.compliance.services.evaluate import evaluate_discovered
from certificates.demo_data import seed_demo
from certificates.discovery.models import ScanChunk, ScanProfile, ScanRun
from certificates.discovery.services.record import Place
from certificates.discovery.services.record import record as record_found
from certificates.enums import JobStatus
from notifications.models import NotificationEvent
from notifications.services.outbox import enqueue
from tests.discovery_support import issue
from tests.factories import CertificateFactory, make_api_key

OWN_APPS = {"certctl", "certificates", "notifications", "audit"}
READ_ONLY = {
    "processheartbeat", "metriccounter", "certificateversion", "certificaterevocation", "apikey",
    "notificationevent", "deadletternotification", "auditevent", "ocspresponsecache", "servergeneratedkey",
}  # fmt: skip


SERVER_KEY_CIPHERTEXT = "gAAAAABfake-ciphertext-that-must-never-show"


@pytest.fixture
def estate(db):
    """The demo inventory plus one row of each model the demo does not create."""
    seed_demo()
    job = m.Job.objects.filter(status=JobStatus.AWAITING_CSR).first()
    m.ApprovalRequest.objects.create(
        certificate=job.certificate,
        job=job,
        profile=m.CertificateProfile.objects.first(),
        requested_by="alice",
    )
    make_api_key("ci-bot")
    heartbeat.stamp(ProcessHeartbeat.Kind.WORKER)
    counters.increment("certctl_demo_total", {"result": "success"})
    enqueue(
        type="ExpirationWarning",
        channel="Slack",
        message="expires in 7 days",
        certificate_id=job.certificate_id,
    )
    NotificationEvent.objects.update(status="dead", retry_count=5, last_error="HTTP 500")
    version = m.CertificateVersion.objects.first()
    m.ServerGeneratedKey.objects.create(version=version, encrypted_private_key=SERVER_KEY_CIPHERTEXT)
    m.OCSPResponseCache.objects.create(
        issuer=version.issuer or m.Issuer.objects.first(),
        serial_hex=version.serial_number,
        hash_algorithm="sha256",
        response_der=b"\x30\x03\x0a\x01\x00",
        cert_status="good",
        this_update=timezone.now(),
        next_update=timezone.now(),
    )
    record("certificate_updated", resource_type="certificate", resource_id=job.certificate_id)
    # Discovery and compliance: a found certificate at an endpoint, a finished scan run, its violations.
    weak = issue("legacy.example", key_kind="rsa1024")
    place = Place(kind="network", address="127.0.0.1", port=8443, sni="legacy.example")
    found = record_found(read_facts(weak.cert), seen_at=timezone.now(), place=place).certificate
    run = ScanRun.objects.create(profile=ScanProfile.objects.first(), status="completed", targets_total=1)
    ScanChunk.objects.create(run=run, index=0, spec={"targets": ["127.0.0.1:8443"]}, status="done")
    evaluate_discovered([found.pk])
    group = m.AgentGroup.objects.create(name="linux-edge", match_os="linux", match_cidr="10.0.0.0/8")
    group.explicit_members.add(m.Agent.objects.first())


def own_models():
    return sorted(
        (model for model in admin.site._registry if model._meta.app_label in OWN_APPS),
        key=lambda model: model._meta.label,
    )


EXPECTED = {
    "team", "owner", "issuer", "certificateprofile", "renewalpolicy", "managedcertificate",
    "certificateversion", "deploymenttarget", "agent", "job", "approvalrequest", "certificaterevocation",
    "apikey", "processheartbeat", "metriccounter", "notificationevent", "deadletternotification", "auditevent",
    "ocspresponsecache", "servergeneratedkey", "discoveredcertificate", "discoveryendpoint", "discoverysighting",
    "scanprofile", "scanrun", "scanchunk", "compliancerule", "violation", "agentgroup",
}  # fmt: skip


def test_every_model_of_our_apps_is_registered():
    from django.apps import apps

    registered = {model._meta.model_name for model in own_models()}
    assert registered >= EXPECTED
    ours = {model._meta.label for label in OWN_APPS for model in apps.get_app_config(label).get_models()}
    assert ours - {model._meta.label for model in admin.site._registry} == set()


@pytest.mark.parametrize("model", own_models(), ids=lambda model: model._meta.label)
def test_changelist_add_and_change_pages_render(admin_client, estate, model):
    opts = model._meta
    model_admin = admin.site._registry[model]
    changelist = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert changelist.status_code == 200

    add = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))
    assert add.status_code == (200 if model_admin.has_add_permission(changelist.wsgi_request) else 403)
    if opts.model_name in READ_ONLY - {"apikey"}:
        assert add.status_code == 403

    obj = model._default_manager.first()
    if obj is None:
        assert opts.model_name not in EXPECTED, f"no {opts.label} row to open"
        return
    change = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
    assert change.status_code == 200
    assert escape(str(obj)) in change.content.decode()


def test_changelist_of_every_registered_model_renders(admin_client, estate):
    for model in admin.site._registry:
        opts = model._meta
        response = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        assert response.status_code == 200, opts.label


def test_site_header_is_certctl_and_styles_come_from_static(admin_client, db):
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert '<div id="site-name"><a href="/admin/">certctl</a></div>' in page
    assert "/static/certctl/admin.css" in page
    assert "https://" not in page.split("<body")[0]  # nothing in <head> from a CDN


def test_certificate_list_shows_days_left_coloured_status_owner_and_team(admin_client, estate):
    page = admin_client.get(reverse("admin:certificates_managedcertificate_changelist")).content.decode()
    assert "certctl-status certctl-status-warn'>Expiring<" in page
    assert "certctl-status certctl-status-bad'>Expired<" in page
    gateway = m.ManagedCertificate.objects.get(name="api-gateway-prod")  # expired 12 days minus 6 hours ago
    days_ago = (timezone.localdate() - timezone.localdate(gateway.expires_at)).days  # calendar days
    assert f"expired {days_ago}d ago" in page
    assert ">Alice Martin<" in page
    assert ">Platform<" in page


def test_days_left_says_today_only_on_the_same_calendar_day_and_is_neutral_when_revoked(admin_client, estate):
    now = timezone.localtime()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    today = CertificateFactory(name="gone-this-morning", expires_at=midnight + timedelta(seconds=1))
    yesterday = CertificateFactory(name="gone-last-night", expires_at=midnight - timedelta(seconds=1))
    CertificateFactory(name="revoked-old", status="Revoked", expires_at=now - timedelta(days=3))
    url = reverse("admin:certificates_managedcertificate_changelist")
    page = admin_client.get(url, {"q": "gone-"}).content.decode()
    row = {name: page.split(name, 1)[1].split("</tr>", 1)[0] for name in (today.name, yesterday.name)}
    if midnight + timedelta(seconds=1) < now:  # not in the first second of the day
        assert "expired today" in row[today.name]
    assert "expired 1d ago" in row[yesterday.name]
    revoked_page = admin_client.get(url, {"q": "revoked-old"}).content.decode()
    revoked_row = revoked_page.split(">revoked-old</a>", 1)[1].split("</tr>", 1)[0]
    assert "certctl-days certctl-days-muted" in revoked_row
    assert "expired 3d ago" in revoked_row


def test_certificate_list_issues_the_same_queries_for_30_and_90_rows(admin_client, db):
    url = reverse("admin:certificates_managedcertificate_changelist")
    CertificateFactory.create_batch(30)
    admin_client.get(url)
    with CaptureQueriesContext(connection) as small:
        admin_client.get(url)
    CertificateFactory.create_batch(60, expires_at=timezone.now())
    with CaptureQueriesContext(connection) as large:
        admin_client.get(url + "?all=")
    assert len(large) <= len(small) + 1  # `?all=` may add nothing but the count


def test_issuer_page_never_shows_the_encrypted_config_or_the_ca_key(admin_client, estate):
    issuer = m.Issuer.objects.get(name="demo-local-ca")
    assert issuer.encrypted_config
    page = admin_client.get(reverse("admin:certificates_issuer_change", args=[issuer.pk])).content.decode()
    assert issuer.encrypted_config not in page
    assert issuer.encrypted_config[:40] not in page
    assert "PRIVATE KEY" not in page
    assert "encrypted_config" not in page


def test_foreign_keys_use_autocomplete(admin_client, estate):
    response = admin_client.get(
        "/admin/autocomplete/",
        {
            "app_label": "certificates",
            "model_name": "managedcertificate",
            "field_name": "owner",
            "term": "alice",
        },
    )
    assert response.status_code == 200
    assert [r["text"] for r in response.json()["results"]] == ["Alice Martin <alice@example.com>"]
    page = admin_client.get(reverse("admin:certificates_managedcertificate_add")).content.decode()
    assert "data-autocomplete-light-url" in page or "admin-autocomplete" in page


def test_every_editable_foreign_key_of_our_admin_forms_uses_autocomplete(rf, admin_user, estate):
    from django.contrib.admin.widgets import AutocompleteMixin
    from django.forms import ModelChoiceField

    request = rf.get("/admin/")
    request.user = admin_user
    checked = []
    for model in own_models():
        model_admin = admin.site._registry[model]
        obj = model._default_manager.first()
        if not model_admin.has_change_permission(request, obj):
            continue
        form = model_admin.get_form(request, obj)
        for name, field in form.base_fields.items():
            if isinstance(field, ModelChoiceField):
                # the widget sits inside the admin's add/change-related wrapper
                widget = getattr(field.widget, "widget", field.widget)
                assert isinstance(widget, AutocompleteMixin), f"{model._meta.label}.{name}"
                checked.append(f"{model._meta.model_name}.{name}")
    expected = {
        "managedcertificate.owner",
        "managedcertificate.targets",
        "owner.team",
        "deploymenttarget.agent",
    }
    assert expected <= set(checked)


def test_server_key_page_never_shows_the_encrypted_key(admin_client, estate):
    key = m.ServerGeneratedKey.objects.get()
    for url in (
        reverse("admin:certificates_servergeneratedkey_changelist"),
        reverse("admin:certificates_servergeneratedkey_change", args=[key.pk]),
    ):
        page = admin_client.get(url).content.decode()
        assert key.pk in page
        assert SERVER_KEY_CIPHERTEXT not in page
