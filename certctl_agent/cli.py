"""`certctl-agent`: run the agent loop (or one cycle with --once, or one file discovery with --discover)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading

from certctl_agent import __version__, discovery
from certctl_agent.config import ConfigError, load
from certctl_agent.runner import EXIT_CONFIG, EXIT_OK, Agent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="certctl-agent", description=__doc__)
    parser.add_argument(
        "-c", "--config", default=os.environ.get("CERTCTL_AGENT_CONFIG"), help="TOML config file"
    )
    parser.add_argument("--once", action="store_true", help="run a single cycle and exit (cron, tests)")
    parser.add_argument(
        "--discover",
        action="store_true",
        help="scan discovery_dirs now, report the certificates found and exit (keys never leave the host)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="with --discover: print the report as JSON instead of sending it (needs no server)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"certctl-agent {__version__}")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s certctl-agent %(message)s",
        stream=sys.stderr,
    )
    # Request-level debug lines of urllib3 would carry header values; keep them out.
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    try:
        config = load(args.config)
    except ConfigError as exc:
        logging.getLogger("certctl_agent").error("configuration error: %s", exc)
        return EXIT_CONFIG
    os.umask(0o077)
    if args.discover and not config.discovery_dirs:
        logging.getLogger("certctl_agent").error("configuration error: --discover needs discovery_dirs")
        return EXIT_CONFIG
    if args.discover and args.dry_run:
        result = discovery.scan(config.discovery_dirs)
        json.dump(list(discovery.batches(result)), sys.stdout, indent=2)
        print()
        return EXIT_OK
    stop = threading.Event()
    agent = Agent(config, stop=stop)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.discover:
        return agent.run_discovery()
    if args.once:
        return agent.run_once()
    return agent.run_forever()
