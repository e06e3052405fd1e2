"""`certctl`: the Typer app, its global options, and `main()`, which turns client errors into exit codes."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
import typer.main
from typer.core import TyperGroup

from certctl_client.api import ClientError
from certctl_client.cli import audit, bulk, certs, destinations, discovery, jobs, misc, notifications
from certctl_client.cli.errors import error_line, exit_code_of
from certctl_client.cli.output import Mode
from certctl_client.cli.session import Session, activate, current
from certctl_client.config import ConfigError


def _set_mode(value: Mode | None) -> Mode | None:
    if value is not None:
        current().mode = value
    return value


def _set_quiet(value: bool) -> bool:
    if value:
        current().quiet = True
    return value


_after = typer.Typer(add_completion=False)


@_after.command()
def _output_options(
    output: Annotated[
        Mode | None,
        typer.Option(
            "--output",
            "-o",
            callback=_set_mode,
            expose_value=False,
            help="table, or json: the API's objects.",
        ),
    ] = None,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", callback=_set_quiet, expose_value=False, help="Print ids only."),
    ] = False,
) -> None:
    """Carries --output/--quiet for every command (built by Typer, copied onto each command below)."""


class CertctlGroup(TyperGroup):
    """Accepts --output/--quiet after the command too (`certctl certs list -o json`), not only before it."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._add_output_options(self, typer.main.get_command(_after).params)

    def _add_output_options(self, group: Any, options: list) -> None:
        for command in group.commands.values():
            if hasattr(command, "commands"):
                self._add_output_options(command, options)
            elif not any(param.name == "output" for param in command.params):
                command.params.extend(options)


app = typer.Typer(
    name="certctl",
    help="Manage a certctl server from the shell: certificates, jobs, notifications, destinations, audit. "
    "See docs/cli.md.",
    cls=CertctlGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(certs.app, name="certs")
app.add_typer(jobs.app, name="jobs")
app.add_typer(notifications.app, name="notifications")
app.add_typer(destinations.app, name="destinations")
app.add_typer(audit.app, name="audit")
app.add_typer(misc.issuers, name="issuers")
app.add_typer(misc.agents, name="agents")
app.add_typer(discovery.app, name="discovery")
app.add_typer(discovery.violations, name="violations")
app.command("status")(misc.status)
app.command("stats")(misc.stats)
app.command("revoke-bulk")(bulk.revoke_bulk)


@app.callback()
def root(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option("--url", metavar="URL", help="Server URL; default CERTCTL_URL, then the profile's url."),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            metavar="KEY",
            help="API key. It lands in your shell history: prefer CERTCTL_API_KEY or a profile.",
        ),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option("--profile", "-p", metavar="NAME", help="Profile in ~/.config/certctl/config.toml."),
    ] = None,
    output: Annotated[
        Mode, typer.Option("--output", "-o", help="table, or json: the API's objects as they come.")
    ] = "table",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print ids only, one per line.")] = False,
) -> None:
    session = activate(ctx.obj if isinstance(ctx.obj, Session) else current())
    session.url, session.api_key, session.profile = url, api_key, profile
    session.mode, session.quiet = output, quiet
    ctx.call_on_close(session.close)


def main() -> None:
    """The console script: runs the app; an API, network or configuration error is one line on stderr."""
    session = Session()
    try:
        app(prog_name="certctl", obj=session)
    except (ClientError, ConfigError) as exc:
        print(error_line(exc, key_configured=session.has_key), file=sys.stderr)
        sys.exit(exit_code_of(exc))


if __name__ == "__main__":
    main()
