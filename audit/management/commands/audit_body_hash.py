"""`manage.py audit_body_hash FILE|-`: the keyed body hash an API call row would hold for this exact body."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand

from audit.services.api_calls import body_hash


class Command(BaseCommand):
    help = (
        "Print the audit body_hash (HMAC-SHA256 keyed with this server's CERTCTL_SECRET_KEY) of a request body, "
        "to confirm that a body you hold is the one an audit row recorded. Reads FILE, or stdin for '-'."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="the raw request body, byte for byte; '-' for stdin")

    def handle(self, *args, **options) -> None:
        data = sys.stdin.buffer.read() if options["file"] == "-" else Path(options["file"]).read_bytes()
        self.stdout.write(body_hash(data) or "(empty body: no hash)")
