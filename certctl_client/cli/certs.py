"""`certctl certs`: list (cursor paging), show, renew, revoke, issue from a CSR, export, alert routes."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

import typer

from certctl_client.cli.errors import USAGE
from certctl_client.cli.options import Every, Limit, PageSize
from certctl_client.cli.output import warn
from certctl_client.cli.session import api, fetch_rows, more_caption, out
from certctl_client.vocabulary import CertificateStatus, RevocationReason

app = typer.Typer(
    help="Certificates: list, show, renew, revoke, issue, export, alert routes.", no_args_is_help=True
)

PATH = "/api/v1/certificates"
COLUMNS = ("id", "name", "common_name", "status", "expires_at", "team_id")
CertId = Annotated[str, typer.Argument(metavar="ID", help="Certificate id (cert-...).")]


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@app.command("list")
def list_certificates(
    status: Annotated[CertificateStatus | None, typer.Option(help="Only this status (exact case).")] = None,
    team: Annotated[str | None, typer.Option(metavar="TEAM_ID", help="Only this team (team-...).")] = None,
    issuer: Annotated[str | None, typer.Option(metavar="ISSUER_ID", help="Only this issuer.")] = None,
    environment: Annotated[str | None, typer.Option(help="Only this environment.")] = None,
    expiring_within: Annotated[
        int | None,
        typer.Option(metavar="DAYS", min=0, max=36500, help="Only those expiring within DAYS from now."),
    ] = None,
    every: Every = False,
    limit: Limit = 50,
    page_size: PageSize = None,
) -> None:
    """List certificates, newest first (cursor paging; --all walks every page)."""
    expires_before = None
    if expiring_within is not None:
        expires_before = rfc3339(datetime.now(UTC) + timedelta(days=expiring_within))
    rows, more = fetch_rows(
        PATH,
        every=every,
        limit=limit,
        page_size=page_size,
        status=status,
        team_id=team,
        issuer_id=issuer,
        environment=environment,
        expires_before=expires_before,
    )
    out().rows(rows, COLUMNS, caption=more_caption(more, limit))


@app.command("get")
def get_certificate(cert_id: CertId) -> None:
    """Show one certificate."""
    out().record(api().get(f"{PATH}/{cert_id}"))


@app.command()
def renew(
    cert_id: CertId,
    force: Annotated[bool, typer.Option("--force", help="Replace a renewal job that is still open.")] = False,
) -> None:
    """Start a renewal (or the first issuance); prints the job."""
    answer = api().post(f"{PATH}/{cert_id}/renew", {"force": force})
    text = f"renewal started: job {answer['job_id']} ({answer['job_type']}, {answer['job_status']})"
    out().message(answer, text, ident="job_id")


@app.command()
def revoke(
    cert_id: CertId,
    reason: Annotated[
        RevocationReason,
        typer.Option("--reason", "-r", help="RFC 5280 reason (required).", show_choices=True),
    ],
) -> None:
    """Revoke one certificate with an RFC 5280 reason."""
    answer = api().post(f"{PATH}/{cert_id}/revoke", {"reason": reason})
    text = f"revoked {answer['certificate_id']} (serial {answer['serial']}, {answer['reason']})"
    out().message(answer, text, ident="certificate_id")


@app.command()
def issue(
    cert_id: CertId,
    csr: Annotated[
        Path,
        typer.Option(
            "--csr", exists=True, dir_okay=False, allow_dash=True, help="PEM CSR file ('-' for stdin)."
        ),
    ],
) -> None:
    """Issue a certificate from a CSR; prints the new version."""
    csr_pem = sys.stdin.read() if str(csr) == "-" else csr.read_text()
    version = api().post(f"{PATH}/{cert_id}/issue", {"csr_pem": csr_pem})
    fields = ("id", "certificate_id", "serial_number", "not_before", "not_after", "fingerprint_sha256")
    out().record(version, fields=fields)


def write_private(path: Path, data: bytes) -> None:
    """Key material is readable by its owner only, from the first byte written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def read_password(password_file: Path | None) -> str:
    if password_file is not None:
        return password_file.read_text().rstrip("\r\n")
    if not sys.stdin.isatty():
        warn(
            "error: a PKCS#12 export needs a password: --password-file FILE, or run in a terminal to be asked"
        )
        raise typer.Exit(USAGE)
    return typer.prompt("PKCS#12 password", hide_input=True, confirmation_prompt=True)


@app.command()
def export(
    cert_id: CertId,
    fmt: Annotated[Literal["pem", "pkcs12"], typer.Option("--format", "-f", help="pem or pkcs12.")] = "pem",
    out_file: Annotated[Path | None, typer.Option("--out", dir_okay=False, help="Write to FILE.")] = None,
    password_file: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="PKCS#12 password (first line); else you are asked."),
    ] = None,
    include_key: Annotated[
        bool, typer.Option("--include-key", help="PEM: add the server-generated private key (admin key).")
    ] = False,
) -> None:
    """Export the current version: PEM (certificate and chain) or PKCS#12 (with the key; admin key)."""
    if fmt == "pkcs12":
        if out_file is None and sys.stdout.isatty():
            warn("error: PKCS#12 is binary: pass --out FILE or redirect stdout")
            raise typer.Exit(USAGE)
        password = read_password(password_file)
        bundle = api().request("POST", f"{PATH}/{cert_id}/export/pkcs12", json={"password": password}).content
        if out_file is None:
            sys.stdout.buffer.write(bundle)
            return
        write_private(out_file, bundle)
        summary = {"certificate_id": cert_id, "format": "pkcs12", "out": str(out_file)}
        out().message(summary, f"wrote {out_file} ({len(bundle)} bytes)", ident="certificate_id")
        return
    body = api().get(f"{PATH}/{cert_id}/export/pem", include_key="true" if include_key else None)
    pem = body.get("private_key_pem", "") + body["full_pem"]
    if out_file is None:
        if out().mode == "json" and not out().quiet:
            out().json(body)
        else:
            sys.stdout.write(pem)
        return
    write_private(out_file, pem.encode())
    summary = {key: body[key] for key in ("certificate_id", "version_id", "serial_number")}
    out().message({**summary, "format": "pem", "out": str(out_file)}, f"wrote {out_file}", ident="version_id")


@app.command("alert-routes")
def alert_routes(cert_id: CertId) -> None:
    """Where this certificate's expiry alerts go, per threshold: each destination considered, sent or skipped, why.

    --quiet prints the ids of the destinations some threshold sends to."""
    routes = api().get(f"{PATH}/{cert_id}/alert-routes")
    if out().quiet:
        included = (
            d["id"] for t in routes["thresholds"] for d in t["destinations"] if d["included"] and d["id"]
        )
        print("\n".join(dict.fromkeys(included)))
        return
    if out().mode == "json":
        out().json(routes)
        return
    rows = [
        {
            "threshold": threshold["label"],
            "tier": threshold["tier"],
            "fired": threshold["fired"],
            "destination": entry["name"],
            "route": entry["source"],
            "included": entry["included"],
            "reason": route_reason(entry),
        }
        for threshold in routes["thresholds"]
        for entry in threshold["destinations"] or [{"name": "(none)", "source": "", "included": False}]
    ]
    columns = ("threshold", "tier", "fired", "destination", "route", "included", "reason")
    out().rows(rows, columns, title=routes_title(routes), caption=quiet_hours_caption(routes))


def route_reason(entry: dict) -> str:
    """Why it is sent (and to whom, and when if quiet hours hold it), or why it is skipped."""
    if "reason" not in entry:
        return "no destination for this tier"
    if not entry["included"]:
        return f"skipped: {entry['skipped_reason']} ({entry['reason']})"
    text = entry["reason"]
    if entry.get("recipient") and entry["recipient"] != entry["name"]:
        text += f"; to {entry['recipient']}"
    if entry.get("deferred_until"):
        text += f"; held by quiet hours until {entry['deferred_until']}"
    return text


def routes_title(routes: dict) -> str:
    days = routes["days_left"]
    left = "no expiry" if days is None else f"expires {routes['expires_at']} ({days} days left)"
    return f"{routes['certificate_id']}: {left}; policy {routes['policy']['name']}, team {routes['team']['name']}"


def quiet_hours_caption(routes: dict) -> str | None:
    quiet = routes["quiet_hours"]
    parts = []
    if quiet["configured"]:
        state = f"active until {quiet['until']}" if quiet["active"] else "not active now"
        parts.append(f"quiet hours {quiet['start']}-{quiet['end']} {quiet['timezone']} ({state})")
    if routes["digest_enabled"]:
        parts.append("the team's non-critical alerts go in its daily digest")
    return "; ".join(parts) or None
