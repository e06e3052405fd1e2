from django.core.management.base import BaseCommand, CommandError

from notifications.services.test_send import send_test


class Command(BaseCommand):
    help = "Send a test message through one channel now (Email, Webhook, Slack, Teams, PagerDuty, OpsGenie)."

    def add_arguments(self, parser):
        parser.add_argument("channel", help="channel name, case-insensitive")
        parser.add_argument(
            "--to", default="", help="recipient address for Email (default: the From address)"
        )

    def handle(self, *args, channel, to, **options):
        try:
            result = send_test(channel, actor="cli", actor_type="User", recipient=to)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if not result.ok:
            raise CommandError(f"{result.channel}: {result.detail}")
        self.stdout.write(self.style.SUCCESS(f"{result.channel}: {result.detail}"))
