"""`manage.py revoke_api_key NAME`: stop accepting an API key."""

from django.core.management.base import BaseCommand, CommandError

from certctl.api.models import ApiKey
from certctl.services.api_keys import revoke_api_key


class Command(BaseCommand):
    help = "Revoke an API key by name; requests with it get 401 from now on."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name")

    def handle(self, *args, name: str, **options) -> None:
        api_key = ApiKey.objects.filter(name=name).first()
        if api_key is None:
            raise CommandError(f"no API key named {name!r}")
        if revoke_api_key(api_key, actor="manage.py revoke_api_key", actor_type="System"):
            self.stdout.write(f"Revoked API key {name!r}.")
        else:
            self.stdout.write(f"API key {name!r} was already revoked.")
