"""The "Import certificates" admin page and `certctl discovery import` (the installed CLI against a live server)."""

from __future__ import annotations

import json
import types

import pytest
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
from django.contrib import admin
from django.contrib.admin import AdminSite
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import path, reverse

from audit.models import AuditEvent
from certificates.discovery.admin.imports import IMPORT_URL_NAME, ImportPageMixin
from certificates.discovery.models import DiscoveredCertificate
from tests.client.cli_process import Server, one_error_line, run
from tests.discovery_support import Pki, issue
from tests.factories import make_api_key


@pytest.fixture
def import_admin(settings):
    """An admin site whose discovered-certificate page carries the import page, as the console's does."""
    site = AdminSite(name="admin")

    class DiscoveredAdmin(ImportPageMixin, admin.ModelAdmin):
        pass

    site.register(DiscoveredCertificate, DiscoveredAdmin)
    urlconf = types.ModuleType("import_admin_urls")
    urlconf.urlpatterns = [path("admin/", site.urls)]
    settings.ROOT_URLCONF = urlconf
    return reverse(f"admin:{IMPORT_URL_NAME}")


@pytest.mark.django_db
def test_the_admin_import_page_imports_a_bundle_and_shows_what_came_in(admin_client, import_admin):
    page = admin_client.get(import_admin)
    assert page.status_code == 200 and b'enctype="multipart/form-data"' in page.content
    changelist = admin_client.get(reverse("admin:certificates_discoveredcertificate_changelist"))
    assert changelist.context["import_url"] == import_admin
    assert f'href="{import_admin}"'.encode() in changelist.content

    pki = Pki()
    leaf = pki.leaf("admin-import.example")
    upload = SimpleUploadedFile("site.pem", leaf.pem + pki.intermediate.pem + leaf.key_pem)
    answer = admin_client.post(import_admin, {"file": upload, "include_private_key": "on"})
    assert answer.status_code == 200
    assert b"Imported 1 certificate" in answer.content and b"admin-import.example" in answer.content
    stored = DiscoveredCertificate.objects.get(common_name="admin-import.example")
    assert stored.has_private_key and b"PRIVATE KEY" not in answer.content
    assert AuditEvent.objects.get(action="certificates_imported").actor == "admin"


@pytest.mark.django_db
def test_the_admin_import_page_shows_a_wrong_password_and_stores_nothing(admin_client, import_admin):
    leaf = issue("locked.example")
    data = pkcs12.serialize_key_and_certificates(
        b"x", leaf.key, leaf.cert, None, BestAvailableEncryption(b"pw")
    )
    answer = admin_client.post(import_admin, {"file": SimpleUploadedFile("a.p12", data), "password": "nope"})
    assert answer.status_code == 200 and b"wrong_password" in answer.content
    assert not DiscoveredCertificate.objects.exists()


@pytest.fixture
def server(live_server, tmp_path) -> Server:
    _, key = make_api_key("cli-ops", is_admin=True)
    home = tmp_path / "home"
    home.mkdir()
    return Server(url=live_server.url, key=key, home=home)


@pytest.mark.django_db(transaction=True)
def test_cli_imports_a_pem_bundle_and_a_protected_pkcs12(server, tmp_path):
    pki = Pki()
    leaf = pki.leaf("cli-import.example")
    bundle = tmp_path / "fullchain.pem"
    bundle.write_bytes(leaf.pem + pki.intermediate.pem)
    table = run(server, "discovery", "import", str(bundle))
    assert table.returncode == 0, table.stderr
    assert "cli-import.example" in table.stdout and "1 imported, 1 new (pem)" in table.stdout

    locked = pki.leaf("cli-locked.example")
    archive = tmp_path / "site.pfx"
    archive.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"x", locked.key, locked.cert, [pki.intermediate.cert], BestAvailableEncryption(b"s3cret")
        )
    )
    as_json = run(
        server,
        "discovery",
        "import",
        str(archive),
        "--password-stdin",
        "--with-key",
        "-o",
        "json",
        stdin="s3cret\n",
    )
    assert as_json.returncode == 0, as_json.stderr
    body = json.loads(as_json.stdout)
    assert body["format"] == "pkcs12" and body["imported"][0]["has_private_key"] is True
    assert DiscoveredCertificate.objects.get(common_name="cli-locked.example").has_private_key

    wrong = run(server, "discovery", "import", str(archive), "--password-stdin", stdin="nope\n")
    assert wrong.returncode == 2 and "wrong_password" in one_error_line(wrong)
    quiet = run(server, "-q", "discovery", "import", str(bundle))
    assert quiet.stdout.split() == [DiscoveredCertificate.objects.get(common_name="cli-import.example").pk]
