"""`manage.py create_api_key NAME [--admin]`: make an API key; the key is printed once, as the last line."""

from django.core.management.base import BaseCommand, CommandError

from certctl.services.api_keys import ApiKeyNameInvalid, ApiKeyNameTaken, create_api_key


class Command(BaseCommand):
    help = "Create an API key. Only its SHA-256 is stored: the key is printed once, as the last line."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="a name for the key, used as the audit actor")
        parser.add_argument("--admin", action="store_true", help="allow admin-only endpoints")

    def handle(self, *args, name: str, admin: bool, **options) -> None:
        try:
            api_key, raw = create_api_key(name, admin, actor="manage.py create_api_key", actor_type="System")
        except (ApiKeyNameTaken, ApiKeyNameInvalid) as exc:
            raise CommandError(str(exc)) from exc
        kind = "admin API key" if api_key.is_admin else "API key"
        self.stderr.write(
            f"Created {kind} {api_key.name!r} ({api_key.id}). Store it now; it is not shown again:"
        )
        self.stdout.write(raw)
