"""`manage.py prepare_run`: the admin user and a fresh API key for `make run`, then the welcome banner.

Safe to run again: the admin user is created once (its password is only changed when CERTCTL_ADMIN_PASSWORD is
given), and each run revokes the previous `make-run-*` key and prints a new one (only hashes are stored, so an
old key cannot be shown again).
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from certctl.api.models import ApiKey
from certctl.services.api_keys import create_api_key, revoke_api_key
from certificates.revocation.services import crl
from notifications.services.demo_inbox import receiver_channels

KEY_NAME_PREFIX = "make-run-"


class Command(BaseCommand):
    help = "Create the admin user and a new API key for `make run`, and print how to use them."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--base-url", default=settings.PUBLIC_URL)

    def handle(self, *args, username: str, base_url: str, **options) -> None:
        password_note = self._ensure_admin(username)
        raw_key = self._fresh_key()
        # Sign every local issuer's CRL now: beat's first regeneration comes after CERTCTL_CRL_INTERVAL, and the
        # console shows an issuer without a CRL in red.
        crl.regenerate_all()
        base_url = base_url.rstrip("/")
        lines = [
            "",
            "certctl is starting. Open:",
            f"  Admin      {base_url}/admin/   (user {username}, password {password_note})",
            f"  API docs   {base_url}/api/docs/",
            f"  Readiness  {base_url}/ready",
            f"  API key    {raw_key}",
            "Try the API:",
            f'  curl -s -H "Authorization: Bearer {raw_key}" "{base_url}/api/v1/certificates?per_page=5"',
        ]
        demo_channels = receiver_channels()
        if demo_channels:
            lines += [
                f"Alerts for {', '.join(demo_channels)} go to the demo receiver (no channel configured for them):",
                f"  Inbox      {base_url}/admin/notifications/demoinboxmessage/",
            ]
        processes = (
            "the web server, the worker, beat and the demo receiver" if demo_channels else "all processes"
        )
        lines += [f"Press Ctrl-C to stop {processes}.", ""]
        self.stdout.write("\n".join(lines))

    def _ensure_admin(self, username: str) -> str:
        given = settings.ADMIN_PASSWORD
        user_model = get_user_model()
        with transaction.atomic():
            user = user_model.objects.filter(username=username).first()
            if user is None:
                password = given or secrets.token_urlsafe(12)
                user_model.objects.create_superuser(username=username, email="", password=password)
                return password
            if given:
                user.set_password(given)
                user.is_active = user.is_staff = user.is_superuser = True
                user.save()
                return given
        return "unchanged since the first run; set CERTCTL_ADMIN_PASSWORD to reset it"

    def _fresh_key(self) -> str:
        for old in ApiKey.objects.filter(name__startswith=KEY_NAME_PREFIX, revoked_at__isnull=True):
            revoke_api_key(old, actor="make-run", actor_type="System")
        name = KEY_NAME_PREFIX + timezone.now().strftime("%Y%m%d-%H%M%S-%f")
        _, raw = create_api_key(name, scopes=["admin"], actor="make-run", actor_type="System")
        return raw
