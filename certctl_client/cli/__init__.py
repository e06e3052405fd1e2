"""The `certctl` command line: Typer commands over certctl_client.api, one module per command group."""
