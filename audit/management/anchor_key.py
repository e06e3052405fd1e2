"""The audit anchor key, for the commands that write and check prune anchors (prune_audit, verify_audit).

It is read here, from the command's environment or a file, and deliberately not from the web settings: the web
server, workers and beat must not hold it, or a compromised application could forge the anchor that hides rows
deleted from the head of the audit chain (docs/audit.md, "Retention").
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.management.base import CommandError

ENV_NAME = "CERTCTL_AUDIT_ANCHOR_KEY"
MIN_LENGTH = 32


def add_key_arguments(parser) -> None:
    """The options both anchor commands take: where the key is, and which unsigned legacy anchors to accept."""
    parser.add_argument(
        "--anchor-key-file",
        default="",
        metavar="PATH",
        help=f"File holding the audit anchor key (default: the {ENV_NAME} environment variable)",
    )
    parser.add_argument(
        "--trust-legacy-anchor",
        action="append",
        default=[],
        metavar="EVENT_ID",
        help="An audit_pruned event written before anchors were authenticated that you vouch for (repeatable)",
    )


def read_anchor_key(path: str) -> bytes | None:
    """The key from `path` if given, else from CERTCTL_AUDIT_ANCHOR_KEY; None when neither is set."""
    if path:
        try:
            raw = Path(path).read_bytes().strip()
        except OSError as exc:
            raise CommandError(f"--anchor-key-file: cannot read {path}: {exc.strerror}") from exc
        source = path
    else:
        raw = os.environ.get(ENV_NAME, "").strip().encode()
        source = ENV_NAME
    if not raw:
        return None
    if len(raw) < MIN_LENGTH:
        raise CommandError(f"the audit anchor key ({source}) must be at least {MIN_LENGTH} characters")
    return raw
