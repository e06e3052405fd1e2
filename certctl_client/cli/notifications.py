"""`certctl notifications`: the outbox. List, show, requeue failed/dead rows (one by one or in bulk), mark read."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from certctl_client.api import ApiError
from certctl_client.cli.errors import USAGE, error_line, exit_code_of
from certctl_client.cli.options import Every, Limit, PageSize
from certctl_client.cli.output import warn
from certctl_client.cli.session import api, fetch_rows, more_caption, out
from certctl_client.vocabulary import Channel, NotificationStatus

app = typer.Typer(help="Notifications: list, requeue failed or dead ones, mark read.", no_args_is_help=True)

PATH = "/api/v1/notifications"
COLUMNS = ("id", "status", "channel", "type", "certificate_id", "recipient", "attempts", "created_at")
ChannelOption = Annotated[Channel | None, typer.Option(case_sensitive=False, help="Only this channel.")]
Ids = Annotated[list[str] | None, typer.Argument(metavar="ID...", help="Notification ids (notif-...).")]


@app.command("list")
def list_notifications(
    status: Annotated[NotificationStatus | None, typer.Option(help="Only this status.")] = None,
    channel: ChannelOption = None,
    certificate: Annotated[str | None, typer.Option(metavar="CERT_ID", help="Only this certificate.")] = None,
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
    )
    out().rows(rows, COLUMNS, caption=more_caption(more, limit))


@app.command("get")
def get_notification(notification_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Show one notification."""
    out().record(api().get(f"{PATH}/{notification_id}"))


def each(ids: list[str], action: str) -> None:
    """POST `action` on every id; a failure is reported and the rest still run. Exit code of the first failure."""
    done, first_failure = [], 0
    for notification_id in ids:
        try:
            answer = api().post(f"{PATH}/{notification_id}/{action}")
        except ApiError as exc:
            warn(f"{notification_id}: {error_line(exc)}")
            first_failure = first_failure or exit_code_of(exc)
            continue
        done.append(answer["notification"])
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
) -> None:
    """Requeue failed or dead notifications: by id (a sent one is exit 5), or in bulk by --status/--channel."""
    if status is None and channel is None:
        if not ids:
            warn("error: give notification ids, or --status dead|failed and/or --channel for a bulk requeue")
            raise typer.Exit(USAGE)
        each(ids, "requeue")
        return
    body: dict = {"status": status, "channel": channel, "ids": ids or None}
    answer = api().post(f"{PATH}/requeue", {key: value for key, value in body.items() if value})
    if out().quiet:
        for notification_id in answer["ids"]:
            print(notification_id)
    else:
        out().message(answer, f"requeued {answer['count']} notification(s)")


@app.command()
def read(ids: Annotated[list[str], typer.Argument(metavar="ID...", help="Notification ids.")]) -> None:
    """Mark sent or dead notifications as read (acknowledged)."""
    each(ids, "read")
