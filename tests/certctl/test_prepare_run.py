"""`manage.py prepare_run` (part of `make run`): the admin user with a printed password, and a fresh API key."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def prepare_run() -> str:
    out = StringIO()
    call_command("prepare_run", "--base-url", "http://127.0.0.1:8000", stdout=out)
    return out.getvalue()


def test_a_generated_password_is_printed_once_and_kept_on_later_runs(client, settings):
    settings.ADMIN_PASSWORD = ""
    first = prepare_run()
    password = re.search(r"\(user admin, password (\S+)\)", first).group(1)
    assert client.login(username="admin", password=password)

    second = prepare_run()
    assert password not in second
    assert "unchanged since the first run" in second
    assert client.login(username="admin", password=password)


def test_certctl_admin_password_sets_and_resets_the_password(client, settings):
    prepare_run()
    settings.ADMIN_PASSWORD = "chosen-password-1"
    assert "password chosen-password-1" in prepare_run()
    assert client.login(username="admin", password="chosen-password-1")


def test_the_printed_curl_line_uses_a_working_key(api_client, settings):
    settings.ADMIN_PASSWORD = ""
    output = prepare_run()
    assert "http://127.0.0.1:8000/admin/" in output and "http://127.0.0.1:8000/api/docs/" in output
    key = re.search(r'curl -s -H "Authorization: Bearer (cctl_[\w-]+)"', output).group(1)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api_client.get("/api/v1/certificates?per_page=5").status_code == 200


def test_the_banner_names_the_channels_sent_to_the_demo_receiver_and_links_the_inbox(settings):
    assert "Inbox" not in prepare_run()  # no channel points at the receiver: no line
    settings.DEMO_RECEIVER_HTTP_PORT, settings.DEMO_RECEIVER_SMTP_PORT = 8001, 8002
    settings.SLACK_WEBHOOK_URL = "http://127.0.0.1:8001/slack/demo"
    settings.SMTP_HOST, settings.SMTP_PORT = "127.0.0.1", 8002
    settings.TEAMS_WEBHOOK_URL = "https://example.webhook.office.com/operator"  # configured for real
    output = prepare_run()
    assert "Alerts for Email, Slack go to the demo receiver" in output
    assert "Inbox      http://127.0.0.1:8000/admin/notifications/demoinboxmessage/" in output


def test_each_local_issuers_crl_is_signed_before_the_console_opens(settings):
    from certificates.demo_data import seed_demo
    from certificates.models import CRLCache, Issuer

    seed_demo()
    assert not CRLCache.objects.exists()
    prepare_run()
    demo_ca = Issuer.objects.get(name="demo-local-ca")
    assert CRLCache.objects.get(issuer=demo_ca).next_update is not None
