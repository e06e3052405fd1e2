"""`certctl-agent`: run the agent loop (or one cycle with --once)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from certctl_agent import __version__
from certctl_agent.config import ConfigError, load
from certctl_agent.runner import EXIT_CONFIG, Agent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="certctl-agent", description=__doc__)
    parser.add_argument(
        "-c", "--config", default=os.environ.get("CERTCTL_AGENT_CONFIG"), help="TOML config file"
    )
    parser.add_argument("--once", action="store_true", help="run a single cycle and exit (cron, tests)")
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
    stop = threading.Event()
    agent = Agent(config, stop=stop)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.once:
        return agent.run_once()
    return agent.run_forever()
