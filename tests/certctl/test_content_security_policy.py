"""A self-only Content-Security-Policy on every response, and pages that run under it (no inline script)."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.factories import CertificateFactory
from tests.notification_factories import NotificationEventFactory

pytestmark = pytest.mark.django_db

OUR_APPS = ("certificates", "notifications", "audit", "certctl")
SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=\s*[\"']", re.I)


def _executable_inline_scripts(html: str) -> list[str]:
    return [
        body.strip()[:80]
        for attributes, body in SCRIPT.findall(html)
        if "src=" not in attributes and "application/json" not in attributes and body.strip()
    ]


@pytest.mark.parametrize(
    "path", ["/api/v1/teams", "/admin/login/", "/api/docs/", "/health", "/api/v1/schema/"]
)
def test_every_kind_of_response_carries_the_self_only_policy(client_with_key, path):
    response = client_with_key.get(path)
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert "unsafe-inline" not in policy.split("script-src", 1)[1].split(";", 1)[0]


def test_an_error_answer_carries_it_too(client):
    response = client.get("/api/v1/teams")
    assert response.status_code == 401
    assert "default-src 'self'" in response["Content-Security-Policy"]


def test_an_empty_setting_sends_no_policy(client, settings):
    settings.CONTENT_SECURITY_POLICY = ""
    assert "Content-Security-Policy" not in client.get("/admin/login/")


def test_swagger_ui_starts_from_a_script_file_not_inline(client):
    html = client.get("/api/docs/").content.decode()
    assert _executable_inline_scripts(html) == []
    sources = re.findall(r'<script src="([^"]+)"', html)
    start_up = [src for src in sources if src.startswith("/api/docs/")]
    assert start_up, sources
    script = client.get(start_up[0])
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()
    assert all(src.startswith("/") for src in sources)  # nothing from another origin


def test_our_admin_pages_have_no_inline_script_or_handler(client):
    """Every changelist, add and change page of certctl's own admins works under script-src 'self'."""
    user = get_user_model().objects.create_superuser("csp-admin", "csp@example.test", "pw")
    client.force_login(user)
    CertificateFactory()
    NotificationEventFactory()
    pages = ["/admin/"]
    for model, _ in admin.site._registry.items():
        if model._meta.app_label not in OUR_APPS:
            continue
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        pages += [reverse(f"{prefix}_changelist"), reverse(f"{prefix}_add")]
        obj = model._default_manager.first()
        if obj is not None:
            pages.append(reverse(f"{prefix}_change", args=[obj.pk]))
    checked = 0
    for page in pages:
        response = client.get(page)
        if response.status_code in (302, 403):  # read-only admins have no add page; a proxy admin's own rows
            continue
        assert response.status_code == 200, page
        html = response.content.decode()
        assert _executable_inline_scripts(html) == [], page
        assert INLINE_HANDLER.findall(html) == [], page
        assert "javascript:" not in html, page
        checked += 1
    assert checked >= 20  # the scan really covered the admin
