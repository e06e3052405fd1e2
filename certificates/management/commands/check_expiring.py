"""`manage.py check_expiring`: run the expiry check now and print what it did."""

from django.core.management.base import BaseCommand

from certificates.expiry.services.check import check_expiring_certificates


class Command(BaseCommand):
    help = "Run the expiry check once: update Expiring/Expired statuses and create threshold alerts."

    def handle(self, *args, **options) -> None:
        result = check_expiring_certificates()
        out = self.stdout
        out.write(f"Certificates scanned: {result.scanned}")
        changes = ", ".join(f"{change}: {n}" for change, n in sorted(result.status_changes.items()))
        out.write(
            f"Status changes: {sum(result.status_changes.values())}" + (f" ({changes})" if changes else "")
        )
        per_channel = ", ".join(f"{channel}: {n}" for channel, n in sorted(result.created.items()))
        out.write(
            f"Alerts created: {sum(result.created.values())}" + (f" ({per_channel})" if per_channel else "")
        )
        out.write(f"Alerts deduplicated: {result.deduped}")
        out.write(
            f"Skipped: {result.skipped_no_channels} with no channels for their tier, "
            f"{result.skipped_invalid_channel} to an unknown channel"
        )
