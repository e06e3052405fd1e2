"""`manage.py init_ca NAME --subject "CN=…"`: create a local root CA, or an intermediate with --parent."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from certificates.inventory.models import Issuer
from certificates.issuance.services.ca_setup import KEY_TYPES, CASetupError, init_ca


class Command(BaseCommand):
    help = "Create a local CA issuer (root, or intermediate signed by --parent). The key is stored encrypted."

    def add_arguments(self, parser):
        parser.add_argument("name", help="issuer name (unique)")
        parser.add_argument(
            "--subject", required=True, help='RFC 4514 subject, e.g. "CN=Example Root CA,O=Example"'
        )
        parser.add_argument(
            "--key-type",
            choices=KEY_TYPES,
            default="ec",
            help="ec (P-256, default), ec-p384, rsa (3072), ed25519",
        )
        parser.add_argument("--parent", help="name or id of the issuer that signs this intermediate")
        parser.add_argument("--path-length", type=int, default=None, help="basicConstraints pathLen")
        parser.add_argument("--validity-days", type=int, default=3650, help="validity in days (default 3650)")

    def handle(self, *args, **options):
        parent = None
        if options["parent"]:
            parent = (
                Issuer.objects.filter(name=options["parent"]).first()
                or Issuer.objects.filter(pk=options["parent"]).first()
            )
            if parent is None:
                raise CommandError(f"no issuer named {options['parent']!r}")
        try:
            issuer = init_ca(
                options["name"],
                subject=options["subject"],
                key_type=options["key_type"],
                parent=parent,
                path_length=options["path_length"],
                validity_days=options["validity_days"],
            )
        except CASetupError as exc:
            raise CommandError(str(exc)) from exc
        kind = "intermediate" if parent else "root"
        self.stdout.write(self.style.SUCCESS(f"created {kind} CA issuer {issuer.name} ({issuer.pk})"))
