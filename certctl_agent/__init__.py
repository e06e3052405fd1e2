"""certctl-agent: polls a certctl server, keeps private keys on this host and deploys certificates to files."""

__version__ = "0.1.0"
