from django.core.management.base import BaseCommand

from notifications.services.delivery import retry_due


class Command(BaseCommand):
    help = "One retry sweep: attempt every failed notification whose next_retry_at has come."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=None, help="rows claimed per batch")

    def handle(self, *args, batch_size, **options):
        result = retry_due(batch_size=batch_size)
        self.stdout.write(" ".join(f"{name}={value}" for name, value in result.as_dict().items()))
