"""Which destination a claimed row goes to, and each destination's last delivery outcome.

A row names its destination (`destination`, with `destination_name` as a snapshot); a row that names only a
channel (renewal, deployment and revocation notices) goes to that channel's built-in environment destination.
A destination deleted since the row was written, a disabled one, or one whose secrets cannot be decrypted is a
permanent failure with a message that says so (never a secret).
"""

from __future__ import annotations

from datetime import datetime

from certctl.kernel import crypto
from notifications.channels.base import DeliveryError
from notifications.channels.targets import Target, builtin_target, target_for
from notifications.enums import builtin_destination_id
from notifications.models import Destination, NotificationEvent
from notifications.services.destinations import row_destination_id


class Targets:
    """The targets of one batch of rows: each destination read (and its secrets decrypted) once per batch."""

    def __init__(self) -> None:
        self._destinations: dict[str, Destination | None] = {}
        self._targets: dict[str, Target | DeliveryError] = {}
        self._outcomes: dict[str, tuple[datetime, str, str]] = {}

    def prefetch(self, events: list[NotificationEvent]) -> None:
        wanted = {self.destination_id(event) for event in events} - {None} - set(self._destinations)
        if wanted:
            found = Destination.objects.in_bulk(list(wanted))
            for dest_id in wanted:
                self._destinations[dest_id] = found.get(dest_id)

    def target(self, event: NotificationEvent) -> Target:
        """The row's target, or DeliveryError (permanent) when it has none it may be sent to."""
        if event.destination_id:
            key = event.destination_id
        elif event.destination_name:
            raise DeliveryError(f"destination {event.destination_name} was deleted", permanent=True)
        else:
            key = builtin_destination_id(event.channel)
        if key not in self._targets:
            self._targets[key] = self._resolve(key, event)
        found = self._targets[key]
        if isinstance(found, DeliveryError):
            raise found
        return found

    def _resolve(self, dest_id: str, event: NotificationEvent) -> Target | DeliveryError:
        if dest_id not in self._destinations:
            self._destinations[dest_id] = Destination.objects.filter(pk=dest_id).first()
        destination = self._destinations[dest_id]
        if destination is None:
            if event.destination_id:  # deleted after the row was claimed
                name = event.destination_name or dest_id
                return DeliveryError(f"destination {name} was deleted", permanent=True)
            return builtin_target(event.channel)  # a database without the built-in rows: as before
        if not destination.enabled:
            return DeliveryError("destination disabled", permanent=True)
        try:
            return target_for(destination)
        except crypto.DecryptionError:
            return DeliveryError(
                f"cannot decrypt the secrets of destination {destination.name} (was CERTCTL_ENCRYPTION_KEY "
                "changed?); enter them again",
                permanent=True,
            )

    def label(self, event: NotificationEvent) -> str:
        """The destination's name for metrics and logs."""
        key = self.destination_id(event) or ""
        target = self._targets.get(key)
        if isinstance(target, Target):
            return target.name
        destination = self._destinations.get(key)
        return destination.name if destination is not None else event.destination_name

    def destination_id(self, event: NotificationEvent) -> str | None:
        """The stored destination this row goes to (None: one deleted since, or an unknown channel)."""
        return row_destination_id(event.destination_id, event.destination_name, event.channel)

    def note(self, event: NotificationEvent, status: str, error: str | None, at: datetime) -> None:
        """Remember an attempt's outcome; `write_outcomes` stores the latest per destination."""
        dest_id = self.destination_id(event)
        if dest_id is not None:
            self._outcomes[dest_id] = (at, status, error or "")

    def write_outcomes(self) -> None:
        """One UPDATE per destination with the batch's latest outcome (not one per row)."""
        for dest_id, (at, status, error) in self._outcomes.items():
            _store_outcome(dest_id, status, error, at)
        self._outcomes.clear()


def record_outcome(destination: Destination, status: str, error: str, at: datetime) -> None:
    """Store one destination's last delivery outcome (a test send)."""
    _store_outcome(destination.pk, status, error, at)
    destination.last_delivery_at, destination.last_delivery_status = at, status
    destination.last_delivery_error = error


def _store_outcome(destination_id: str, status: str, error: str, at: datetime) -> None:
    Destination.objects.filter(pk=destination_id).update(
        last_delivery_at=at, last_delivery_status=status, last_delivery_error=error
    )
