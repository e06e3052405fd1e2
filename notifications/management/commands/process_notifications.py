from django.core.management.base import BaseCommand

from notifications.services.delivery import PENDING_MIN_AGE_SECONDS, process_pending


class Command(BaseCommand):
    help = "One pending sweep: deliver pending notifications older than a minute and rows whose worker died."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=None, help="rows claimed per batch")
        parser.add_argument(
            "--min-age",
            type=float,
            default=PENDING_MIN_AGE_SECONDS,
            help="only rows pending this many seconds",
        )

    def handle(self, *args, batch_size, min_age, **options):
        result = process_pending(batch_size=batch_size, min_age_seconds=min_age)
        self.stdout.write(" ".join(f"{name}={value}" for name, value in result.as_dict().items()))
