"""`certctl jobs`: list, show and cancel jobs; list, approve and reject approval requests (two-person rule)."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from certctl_client.api import ApiError
from certctl_client.cli.options import Every, Limit, PageSize
from certctl_client.cli.session import api, fetch_rows, more_caption, out
from certctl_client.vocabulary import JobStatus, JobType

app = typer.Typer(help="Jobs (renewal, issuance, deployment) and their approvals.", no_args_is_help=True)

JOBS = "/api/v1/jobs"
APPROVALS = "/api/v1/approvals"
COLUMNS = ("id", "type", "status", "certificate_id", "agent_id", "attempts", "created_at", "last_error")
APPROVAL_COLUMNS = ("id", "state", "job_id", "certificate_id", "requested_by", "decided_by", "created_at")
JobId = Annotated[str, typer.Argument(metavar="ID", help="Job id (job-...).")]
DecisionId = Annotated[
    str, typer.Argument(metavar="ID", help="Approval id (ar-...), or the id of the job awaiting approval.")
]
Note = Annotated[str, typer.Option("--note", help="Why; stored with the decision.")]


@app.command("list")
def list_jobs(
    status: Annotated[JobStatus | None, typer.Option(help="Only this status.")] = None,
    job_type: Annotated[JobType | None, typer.Option("--type", help="Only this type.")] = None,
    certificate: Annotated[
        str | None, typer.Option(metavar="CERT_ID", help="Jobs of one certificate.")
    ] = None,
    agent: Annotated[str | None, typer.Option(metavar="AGENT_ID", help="Jobs of one agent.")] = None,
    every: Every = False,
    limit: Limit = 50,
    page_size: PageSize = None,
) -> None:
    """List jobs, newest first."""
    rows, more = fetch_rows(
        JOBS,
        every=every,
        limit=limit,
        page_size=page_size,
        status=status,
        type=job_type,
        certificate_id=certificate,
        agent_id=agent,
    )
    out().rows(rows, COLUMNS, caption=more_caption(more, limit))


@app.command("get")
def get_job(job_id: JobId) -> None:
    """Show one job."""
    out().record(api().get(f"{JOBS}/{job_id}"))


@app.command()
def cancel(job_id: JobId) -> None:
    """Cancel an open job (exit 5 when it can no longer be cancelled)."""
    job = api().post(f"{JOBS}/{job_id}/cancel")
    out().message(job, f"{job['id']} is now {job['status']}")


@app.command("approvals")
def list_approvals(
    state: Annotated[
        Literal["pending", "approved", "rejected", "expired"] | None, typer.Option(help="Only this state.")
    ] = None,
    certificate: Annotated[str | None, typer.Option(metavar="CERT_ID", help="Only this certificate.")] = None,
    every: Every = False,
    limit: Limit = 50,
) -> None:
    """List approval requests, newest first."""
    rows, more = fetch_rows(APPROVALS, every=every, limit=limit, state=state, certificate_id=certificate)
    out().rows(rows, APPROVAL_COLUMNS, caption=more_caption(more, limit))


def approval_id(given: str) -> str:
    """An approval id as given, or the pending approval of a job id (a 404 when it has none)."""
    if not given.startswith("job-"):
        return given
    job = api().get(f"{JOBS}/{given}")
    for approval in api().paginate(APPROVALS, state="pending", certificate_id=job["certificate_id"]):
        if approval["job_id"] == given:
            return approval["id"]
    raise ApiError(404, "not_found", f"job {given} has no pending approval request")


def decide(given: str, verb: str, note: str) -> None:
    decision = api().post(f"{APPROVALS}/{approval_id(given)}/{verb}", {"note": note})
    text = f"{decision['id']} {decision['action']} by {decision['decided_by']} (job {decision['job_id']})"
    out().message(decision, text)


@app.command()
def approve(approval: DecisionId, note: Note = "") -> None:
    """Approve a request (not your own: that is exit 4)."""
    decide(approval, "approve", note)


@app.command()
def reject(approval: DecisionId, note: Note = "") -> None:
    """Reject a request; its job is cancelled."""
    decide(approval, "reject", note)
