"""`manage.py import_ca NAME --cert ca.pem --key ca.key [--chain chain.pem]`: use an existing CA as a local issuer."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from certificates.issuance.services.ca_setup import CASetupError, import_ca


class Command(BaseCommand):
    help = "Import a CA certificate and private key as a local CA issuer; the key is stored encrypted."

    def add_arguments(self, parser):
        parser.add_argument("name", help="issuer name (unique)")
        parser.add_argument("--cert", required=True, help="PEM file with the CA certificate")
        parser.add_argument("--key", required=True, help="PEM file with the CA private key")
        parser.add_argument(
            "--chain", help="PEM file with the CA's issuers up to the root (for intermediates)"
        )
        parser.add_argument("--key-password-file", help="file holding the key's password, if it is encrypted")

    def handle(self, *args, **options):
        try:
            password = (
                Path(options["key_password_file"]).read_bytes().strip()
                if options["key_password_file"]
                else None
            )
            issuer = import_ca(
                options["name"],
                cert_pem=Path(options["cert"]).read_bytes(),
                key_pem=Path(options["key"]).read_bytes(),
                chain_pem=Path(options["chain"]).read_bytes() if options["chain"] else b"",
                key_password=password,
            )
        except OSError as exc:
            raise CommandError(f"cannot read {exc.filename}: {exc.strerror}") from exc
        except CASetupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"imported CA issuer {issuer.name} ({issuer.pk})"))
