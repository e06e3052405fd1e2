"""`certctl notifications`: the outbox. List, show, requeue failed/dead rows (one by one or in bulk), mark read,
acknowledge an alert's incident."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from certctl_client.api import ApiError
from certctl_client.cli.errors import USAGE, error_line, exit_code_of
from certctl_client.cli.options import Every, Limit, PageSize
from certctl_client.cli.output import warn
from certctl_client.cli.session import api, fetch_rows, more_caption, out
from certctl_client.vocabulary import Channel, NotificationStatus

app = typer.Typer(
    help="Notifications: list, requeue failed or dead ones, mark read, acknowledge alerts.",
    no_args_is_help=True,
)

PATH = "/api/v1/notifications"
COLUMNS = ("id", "status", "channel", "type", "certificate_id", "recipient", "attempts", "created_at")
ChannelOption = Annotated[Channel | None, typer.Option(case_sensitive=False, help="Only this channel.")]
DestinationOption = Annotated[
    str | None, typer.Option("--destination", metavar="DEST_ID", help="Only this destination (dest-...).")
]
Ids = Annotated[list[str] | None, typer.Argument(metavar="ID...", help="Notification ids (notif-...).")]


@app.command("list")
def list_notifications(
    status: Annotated[NotificationStatus | None, typer.Option(help="Only this status.")] = None,
    channel: ChannelOption = None,
    certificate: Annotated[str | None, typer.Option(metavar="CERT_ID", help="Only this certificate.")] = None,
    destination: DestinationOption = None,
    every: Every = False,
    limit: Limit = 50,
    page_size: PageSize = None,
) -> None:
    """List notifications, newest first."""
    rows, more = fetch_rows(
        PATH,
        every=every,
        limit=limit,
        page_size=page_size,
        status=status,
        channel=channel,
        certificate_id=certificate,
        destination_id=destination,
    )
    out().rows(rows, COLUMNS, caption=more_caption(more, limit))


@app.command("get")
def get_notification(notification_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Show one notification."""
    out().record(api().get(f"{PATH}/{notification_id}"))


def each(ids: list[str], action: str) -> tuple[list[dict], int]:
    """POST `action` on every id; a failure is reported and the rest still run. The answers, and the exit code of
    the first failure (0: none)."""
    answers, first_failure = [], 0
    for notification_id in ids:
        try:
            answers.append(api().post(f"{PATH}/{notification_id}/{action}"))
        except ApiError as exc:
            warn(f"{notification_id}: {error_line(exc)}")
            first_failure = first_failure or exit_code_of(exc)
    return answers, first_failure


def transition(ids: list[str], action: str) -> None:
    """Requeue or read: prints each notification's new status (--output json: the notifications)."""
    answers, first_failure = each(ids, action)
    done = [answer["notification"] for answer in answers]
    if out().mode == "json" and not out().quiet:
        out().json(done)
    else:
        for row in done:
            out().message(row, f"{row['id']}: {row['status']}")
    if first_failure:
        raise typer.Exit(first_failure)


@app.command()
def requeue(
    ids: Ids = None,
    status: Annotated[
        Literal["dead", "failed"] | None, typer.Option(help="Bulk: every notification in this status.")
    ] = None,
    channel: ChannelOption = None,
    destination: DestinationOption = None,
) -> None:
    """Requeue failed or dead notifications: by id (a sent one is exit 5), or in bulk by --status, --channel
    and/or --destination."""
    if status is None and channel is None and destination is None:
        if not ids:
            warn(
                "error: give notification ids, or --status dead|failed, --channel and/or --destination "
                "for a bulk requeue"
            )
            raise typer.Exit(USAGE)
        transition(ids, "requeue")
        return
    body: dict = {"status": status, "channel": channel, "destination_id": destination, "ids": ids or None}
    answer = api().post(f"{PATH}/requeue", {key: value for key, value in body.items() if value})
    if out().quiet:
        for notification_id in answer["ids"]:
            print(notification_id)
    else:
        out().message(answer, f"requeued {answer['count']} notification(s)")


@app.command()
def read(ids: Annotated[list[str], typer.Argument(metavar="ID...", help="Notification ids.")]) -> None:
    """Mark sent or dead notifications as read (seen in the outbox; this does not stop an escalation: see ack)."""
    transition(ids, "read")


@app.command()
def ack(
    ids: Annotated[list[str], typer.Argument(metavar="ID...", help="Notification ids (notif-...).")],
) -> None:
    """Acknowledge alerts: every alert of the same incident (certificate and expiry) is acknowledged and its
    escalation stops. Acknowledging twice is not an error; an unknown id is exit 3."""
    answers, first_failure = each(ids, "ack")
    if out().mode == "json" and not out().quiet:
        out().json(answers)
    else:
        for answer in answers:
            out().message(answer["notification"], acknowledgement_line(answer))
    if first_failure:
        raise typer.Exit(first_failure)


def acknowledgement_line(answer: dict) -> str:
    notification_id = answer["notification"]["id"]
    who = f"by {answer['acknowledged_by']} at {answer['acknowledged_at']}"
    if answer["status"] == "already_acknowledged":
        return f"{notification_id}: already acknowledged {who}"
    return f"{notification_id}: acknowledged {who} ({answer['rows_acknowledged']} alert(s) of the incident)"
