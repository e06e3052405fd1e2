"""`manage.py seed_demo`: load the demo inventory (idempotent; a second run creates nothing)."""

from django.core.management.base import BaseCommand

from certificates.demo_data import seed_demo


class Command(BaseCommand):
    help = "Load demo teams, owners, policies, a local CA issuer, an agent with targets and ~30 certificates."

    def handle(self, *args, **options) -> None:
        result = seed_demo()
        summary = ", ".join(f"{count} {label}" for label, count in result.created.items())
        self.stdout.write(self.style.SUCCESS(f"Demo data ready (created: {summary})."))
