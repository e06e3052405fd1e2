"""`certctl discovery`: import certificate files, list and show discovered certificates, claim or dismiss them,
start network scans; `certctl violations list`: compliance violations."""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from certctl_client.cli.options import Every, Limit, PageSize
from certctl_client.cli.session import api, fetch_rows, more_caption, out

app = typer.Typer(
    help="Discovered certificates: import files, list, show, claim, dismiss; network scans.",
    no_args_is_help=True,
)
scans = typer.Typer(help="Network scan runs.", no_args_is_help=True)
app.add_typer(scans, name="scans")
violations = typer.Typer(
    help="Compliance violations of managed and discovered certificates.", no_args_is_help=True
)

IMPORT = "/api/v1/discovery/import"
CERTIFICATES = "/api/v1/discovery/certificates"
PROFILES = "/api/v1/discovery/profiles"
SCANS = "/api/v1/discovery/scans"
VIOLATIONS = "/api/v1/violations"
COLUMNS = (
    "id",
    "common_name",
    "status",
    "not_after",
    "issuer_dn",
    "key_algorithm",
    "is_weak",
    "is_self_signed",
)
IMPORT_COLUMNS = ("id", "common_name", "not_after", "created", "has_private_key", "fingerprint_sha256")
VIOLATION_COLUMNS = (
    "id", "severity", "rule_type", "rule_name", "state", "certificate_id", "discovered_certificate_id", "message",
)  # fmt: skip
PKCS12_SUFFIXES = {".p12", ".pfx"}

DiscoveredId = Annotated[str, typer.Argument(metavar="ID", help="Discovered certificate id (dcert-...).")]


def import_body(data: bytes, filename: str) -> dict:
    """The JSON the import endpoint takes: PEM as text, anything else base64 (the server tells DER from PKCS#12)."""
    if b"-----BEGIN" in data:
        try:
            return {"pem": data.decode(), "filename": filename}
        except UnicodeDecodeError:
            pass
    key = "pkcs12_base64" if Path(filename).suffix.lower() in PKCS12_SUFFIXES else "der_base64"
    return {key: base64.b64encode(data).decode(), "filename": filename}


@app.command("import")
def import_file(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="PEM bundle, DER certificate or PKCS#12 file.")
    ],
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin", help="Read the PKCS#12 (or encrypted key) password from stdin's first line."
        ),
    ] = False,
    with_key: Annotated[
        bool,
        typer.Option(
            "--with-key", help="Also import the file's private key (stored encrypted, never shown again)."
        ),
    ] = False,
) -> None:
    """Import the certificates of one file (with their chains); a problem anywhere imports nothing."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {file}: {exc.strerror}", param_hint="FILE") from None
    body = import_body(data, file.name)
    if password_stdin:
        body["password"] = sys.stdin.readline().rstrip("\r\n")
    if with_key:
        body["include_private_key"] = True
    answer = api().post(IMPORT, body)
    if out().quiet:
        for item in answer["imported"]:
            print(item["id"])
    elif out().mode == "json":
        out().json(answer)
    else:
        note = (
            "; the file's private key was NOT imported (--with-key)"
            if answer.get("private_key_ignored")
            else ""
        )
        caption = f"{answer['count']} imported, {answer['new']} new ({answer['format']}){note}"
        out().rows(answer["imported"], IMPORT_COLUMNS, caption=caption)


@app.command("list")
def list_discovered(
    status: Annotated[
        Literal["Unmanaged", "Managed", "Dismissed"] | None, typer.Option(help="Only this status.")
    ] = None,
    weak: Annotated[
        bool | None, typer.Option("--weak/--not-weak", help="Only weak (or not weak) ones.")
    ] = None,
    self_signed: Annotated[
        bool | None, typer.Option("--self-signed/--not-self-signed", help="Only self-signed (or not).")
    ] = None,
    expires_before: Annotated[
        str | None,
        typer.Option(metavar="WHEN", help="ISO date/time, e.g. 2026-01-31 or 2026-01-31T00:00:00Z."),
    ] = None,
    issuer: Annotated[str | None, typer.Option(metavar="TEXT", help="Issuer DN contains this.")] = None,
    every: Every = False,
    limit: Limit = 50,
    page_size: PageSize = None,
) -> None:
    """List discovered certificates, soonest expiry first."""
    rows, more = fetch_rows(
        CERTIFICATES,
        every=every,
        limit=limit,
        page_size=page_size,
        status=status,
        weak=_flag(weak),
        self_signed=_flag(self_signed),
        expires_before=expires_before,
        issuer=issuer,
    )
    out().rows(rows, COLUMNS, caption=more_caption(more, limit))


def _flag(value: bool | None) -> str | None:
    return None if value is None else str(value).lower()


@app.command("show")
def show(certificate_id: DiscoveredId) -> None:
    """Show one discovered certificate with where it was seen."""
    out().record(api().get(f"{CERTIFICATES}/{certificate_id}"))


@app.command()
def claim(
    certificate_id: DiscoveredId,
    owner: Annotated[
        str | None, typer.Option(metavar="OWNER_ID", help="Owner of the new managed certificate.")
    ] = None,
    team: Annotated[str | None, typer.Option(metavar="TEAM_ID", help="Its team.")] = None,
    policy: Annotated[str | None, typer.Option(metavar="POLICY_ID", help="Its renewal policy.")] = None,
    issuer: Annotated[str | None, typer.Option(metavar="ISSUER_ID", help="The issuer to renew with.")] = None,
    name: Annotated[str | None, typer.Option(help="Its name (default: from the certificate).")] = None,
    managed_certificate: Annotated[
        str | None,
        typer.Option(
            "--managed-certificate", metavar="CERT_ID", help="Link to this existing managed certificate."
        ),
    ] = None,
) -> None:
    """Adopt it: a new managed certificate (--owner --team --policy --issuer), or a link (--managed-certificate)."""
    if managed_certificate:
        if any(value is not None for value in (owner, team, policy, issuer, name)):
            raise typer.BadParameter("--managed-certificate goes alone", param_hint="--managed-certificate")
        body: dict = {"managed_certificate_id": managed_certificate}
    else:
        given = {"--owner": owner, "--team": team, "--policy": policy, "--issuer": issuer}
        missing = [flag for flag, value in given.items() if not value]
        if missing:
            raise typer.BadParameter(
                f"needs {', '.join(missing)} (or --managed-certificate)", param_hint="claim"
            )
        body = {"owner_id": owner, "team_id": team, "renewal_policy_id": policy, "issuer_id": issuer}
        if name:
            body["name"] = name
    answer = api().post(f"{CERTIFICATES}/{certificate_id}/claim", body)
    managed = (
        answer.get("managed_certificate") if isinstance(answer.get("managed_certificate"), dict) else answer
    )
    managed_id = managed.get("id") or answer.get("managed_certificate_id", "")
    out().message(answer, f"{certificate_id} is managed as {managed_id}")


@app.command()
def dismiss(
    certificate_id: DiscoveredId,
    reason: Annotated[str, typer.Option(help="Why it needs no management; stored and audited.")],
) -> None:
    """Dismiss it from the unmanaged list."""
    answer = api().post(f"{CERTIFICATES}/{certificate_id}/dismiss", {"reason": reason})
    out().message(answer, f"{certificate_id} dismissed")


@app.command()
def scan(profile_id: Annotated[str, typer.Argument(metavar="PROFILE_ID", help="Scan profile id.")]) -> None:
    """Start a network scan of a profile now; prints the run id (follow it with `discovery scans show`)."""
    run = api().post(f"{PROFILES}/{profile_id}/scan")
    out().message(run, f"scan {run['id']} {run.get('status', '')}: {run.get('targets_total', 0)} targets")


@scans.command("show")
def show_scan(run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="Scan run id.")]) -> None:
    """Progress and counts of one scan run."""
    out().record(api().get(f"{SCANS}/{run_id}"))


@violations.command("list")
def list_violations(
    severity: Annotated[str | None, typer.Option(help="Only this severity (e.g. Critical).")] = None,
    rule_type: Annotated[str | None, typer.Option("--rule-type", help="Only this rule type.")] = None,
    certificate: Annotated[
        str | None,
        typer.Option(metavar="CERT_ID", help="Of one managed (cert-…) or discovered (dcert-…) certificate."),
    ] = None,
    state: Annotated[Literal["open", "resolved", "all"] | None, typer.Option(help="Default open.")] = None,
    every: Every = False,
    limit: Limit = 50,
) -> None:
    """List compliance violations."""
    by_certificate = {}
    if certificate:
        field = "discovered_certificate_id" if certificate.startswith("dcert-") else "certificate_id"
        by_certificate[field] = certificate
    rows, more = fetch_rows(
        VIOLATIONS,
        every=every,
        limit=limit,
        severity=severity,
        rule_type=rule_type,
        state=state,
        **by_certificate,
    )
    out().rows(rows, VIOLATION_COLUMNS, caption=more_caption(more, limit))
