"""The exec hook: an operator's executable publishes the record, so any DNS API can be used.

config.dns: provider "exec", hook (absolute path of an executable), timeout_seconds
secrets:    dns_hook_env (optional): environment variables for the hook, e.g. the DNS API's token

The contract (docs/acme.md): certctl runs `<hook> present|cleanup <record name> <value>` without a shell, with
CERTCTL_ACME_DNS_ACTION, CERTCTL_ACME_DNS_NAME and CERTCTL_ACME_DNS_VALUE in its environment too. Exit 0 means
done; 75 (EX_TEMPFAIL) means "try again later" (the job retries); anything else fails the job. The hook gets a
minimal environment (PATH, LANG and dns_hook_env), never certctl's own, which holds its database and encryption
keys. Its output is shown trimmed in the error, with dns_hook_env's values blanked.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from typing import Any

from certificates.issuance.issuers.acme.dns.base import DnsProvider, timeout_problems
from certificates.issuance.issuers.base import IssuerError

HOOK_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
EX_TEMPFAIL = 75
OUTPUT_SHOWN_CHARS = 400
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
KILLED_OUTPUT_WAIT_SECONDS = 5


class ExecHookProvider(DnsProvider):
    name = "exec"

    def __init__(self, dns_config: dict[str, Any], secrets: dict[str, Any]) -> None:
        super().__init__(dns_config, secrets)
        self.hook: str = dns_config["hook"]
        self.hook_env: dict[str, str] = dict(secrets.get("dns_hook_env") or {})

    @classmethod
    def config_problems(cls, dns_config: dict[str, Any]) -> dict[str, str]:
        problems = timeout_problems(dns_config)
        hook = dns_config.get("hook")
        if not isinstance(hook, str) or not os.path.isabs(hook) or "\0" in hook:
            problems["dns.hook"] = "dns.hook must be the absolute path of an executable on the worker hosts"
        return problems

    @classmethod
    def secret_problems(cls, secrets: dict[str, Any]) -> dict[str, str]:
        env = secrets.get("dns_hook_env")
        if env is None:
            return {}
        if not isinstance(env, dict) or not all(
            isinstance(name, str) and ENV_NAME.fullmatch(name) and isinstance(value, str)
            for name, value in env.items()
        ):
            return {"dns_hook_env": "dns_hook_env must map environment variable names to strings"}
        return {}

    def present(self, name: str, value: str) -> None:
        self._run("present", name, value)

    def cleanup(self, name: str, value: str) -> None:
        self._run("cleanup", name, value)

    def _run(self, action: str, name: str, value: str) -> None:
        env = {
            "PATH": HOOK_PATH,
            "LANG": "C.UTF-8",
            **self.hook_env,
            "CERTCTL_ACME_DNS_ACTION": action,
            "CERTCTL_ACME_DNS_NAME": name,
            "CERTCTL_ACME_DNS_VALUE": value,
        }
        doing = f"the DNS hook {self.hook} {action} {name}"
        try:
            process = subprocess.Popen(  # noqa: S603 - the operator's hook, no shell, arguments as a list
                [self.hook, action, name, value],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                start_new_session=True,  # its own process group, so a timeout stops the hook's children too
            )
        except FileNotFoundError as exc:
            raise IssuerError(f"{doing} failed: {self.hook} does not exist on this worker") from exc
        except PermissionError as exc:
            raise IssuerError(f"{doing} failed: {self.hook} is not executable by the certctl worker") from exc
        except OSError as exc:
            raise IssuerError(f"{doing} failed: it cannot be run: {exc.strerror or exc}") from exc
        with process:
            try:
                stdout, stderr = process.communicate(timeout=self.timeout_seconds)
            except subprocess.TimeoutExpired as exc:
                stdout, stderr = self._stop(process)
                raise IssuerError(
                    f"{doing} did not finish within {self.timeout_seconds} seconds and was stopped"
                    f"{self._said(stdout, stderr)}",
                    permanent=False,
                ) from exc
        status = process.returncode
        if status == 0:
            return
        how = f"was killed by signal {-status}" if status < 0 else f"exited with status {status}"
        raise IssuerError(f"{doing} {how}{self._said(stdout, stderr)}", permanent=status != EX_TEMPFAIL)

    @staticmethod
    def _stop(process: subprocess.Popen) -> tuple[bytes, bytes]:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        try:
            return process.communicate(timeout=KILLED_OUTPUT_WAIT_SECONDS)
        except subprocess.TimeoutExpired:  # a child that left the group still holds the pipes
            return b"", b""

    def _said(self, stdout: bytes | None, stderr: bytes | None) -> str:
        """What the hook printed (stderr, else stdout), secrets blanked, trimmed to its last lines."""
        text = (stderr or b"").decode(errors="replace").strip() or (stdout or b"").decode(
            errors="replace"
        ).strip()
        for secret in self.hook_env.values():
            if len(secret) >= 4:
                text = text.replace(secret, "[redacted]")
        text = " | ".join(line.strip() for line in text.splitlines() if line.strip())
        if not text:
            return " (it printed nothing)"
        if len(text) > OUTPUT_SHOWN_CHARS:
            text = "..." + text[-OUTPUT_SHOWN_CHARS:]
        return f": {text}"
