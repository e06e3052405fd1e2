"""`manage.py create_api_key NAME [--scope S ...] [--team T ...] [--expires-in-days N]`: make an API key; the key
is printed once, as the last line."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils import timezone

from certctl.api.scopes import ADMIN, SCOPES, default_scopes
from certctl.services.api_keys import ApiKeyNameInvalid, ApiKeyNameTaken, create_api_key
from certificates.inventory.models import Team


class Command(BaseCommand):
    help = "Create an API key. Only its SHA-256 is stored: the key is printed once, as the last line."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="a name for the key, used as the audit actor")
        parser.add_argument(
            "--scope",
            action="append",
            choices=SCOPES,
            dest="scopes",
            help="what the key may do; repeat for several (default: read)",
        )
        parser.add_argument(
            "--admin", action="store_true", help="the admin scope (everything); same as --scope admin"
        )
        parser.add_argument(
            "--team",
            action="append",
            dest="teams",
            default=[],
            help="bind the key to a team (id or name); repeat",
        )
        parser.add_argument("--expires-in-days", type=int, help="the key stops working after this many days")

    def handle(self, *args, name: str, admin: bool, scopes, teams, expires_in_days, **options) -> None:
        scopes = list(scopes or []) + ([ADMIN] if admin else [])
        found = []
        for wanted in teams:
            team = Team.objects.filter(Q(pk=wanted) | Q(name=wanted)).first()
            if team is None:
                raise CommandError(f"no team {wanted!r}")
            found.append(team)
        if expires_in_days is not None and expires_in_days < 1:
            raise CommandError("--expires-in-days must be at least 1")
        expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
        try:
            api_key, raw = create_api_key(
                name,
                scopes=scopes or default_scopes(),
                teams=found,
                expires_at=expires_at,
                actor="manage.py create_api_key",
                actor_type="System",
            )
        except (ApiKeyNameTaken, ApiKeyNameInvalid) as exc:
            raise CommandError(str(exc)) from exc
        bound = f", teams {', '.join(t.name for t in found)}" if found else ""
        self.stderr.write(
            f"Created API key {api_key.name!r} ({api_key.id}) with scopes {', '.join(api_key.scopes)}{bound}. "
            "Store it now; it is not shown again:"
        )
        self.stdout.write(raw)
