"""The agent's side of the HTTP protocol. It only ever calls out to the server; nothing calls in."""

from __future__ import annotations

import requests

from certctl_agent import __version__
from certctl_agent.config import AgentConfig


class ServerUnavailable(Exception):
    """Connection failures, 5xx and 429: worth retrying after a back-off."""


class RequestRejected(Exception):
    """A 4xx answer: retrying the same request will not help."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(f"{status} {error}: {message}")
        self.status = status
        self.error = error
        self.message = message


class AgentRetiredError(RequestRejected):
    pass


class ServerClient:
    def __init__(self, config: AgentConfig, credential: str = "") -> None:
        self.base = f"{config.server_url}/api/v1"
        self.timeout = config.request_timeout
        self.session = requests.Session()
        self.session.verify = config.ca_bundle or True
        self.session.headers["User-Agent"] = f"certctl-agent/{__version__}"
        self.credential = credential

    def _call(self, method: str, path: str, *, token: str | None = None, body: dict | None = None) -> dict:
        headers = {"Authorization": f"Bearer {token if token is not None else self.credential}"}
        try:
            response = self.session.request(
                method, f"{self.base}{path}", json=body, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise ServerUnavailable(f"{method} {path}: {type(exc).__name__}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise ServerUnavailable(f"{method} {path}: HTTP {response.status_code}")
        try:
            data = response.json() if response.content else {}
        except ValueError:
            data = {}
        if response.status_code >= 400:
            error = str(data.get("error", "")) if isinstance(data, dict) else ""
            message = str(data.get("message", "")) if isinstance(data, dict) else ""
            kind = AgentRetiredError if response.status_code == 410 else RequestRejected
            raise kind(response.status_code, error, message or response.reason)
        return data

    def register(self, bootstrap_token: str, name: str, facts: dict) -> dict:
        return self._call("POST", "/agents", token=bootstrap_token, body={"name": name, **facts})

    def heartbeat(self, agent_id: str, facts: dict) -> dict:
        return self._call("POST", f"/agents/{agent_id}/heartbeat", body=facts)

    def work(self, agent_id: str) -> list[dict]:
        return self.poll(agent_id).get("jobs", [])

    def poll(self, agent_id: str) -> dict:
        """The agent's work: `jobs`, and the ACME HTTP-01 answers to serve (`challenges`)."""
        return self._call("GET", f"/agents/{agent_id}/work")

    def challenges(self, agent_id: str) -> list[dict]:
        return self._call("GET", f"/agents/{agent_id}/challenges").get("challenges", [])

    def challenge_published(self, agent_id: str, token: str) -> dict:
        return self._call("POST", f"/agents/{agent_id}/challenges/{token}/published")

    def submit_csr(self, agent_id: str, *, certificate_id: str, csr_pem: str, job_id: str) -> dict:
        body = {"certificate_id": certificate_id, "csr_pem": csr_pem, "job_id": job_id}
        return self._call("POST", f"/agents/{agent_id}/csr", body=body)

    def certificate(self, agent_id: str, certificate_id: str) -> dict:
        return self._call("GET", f"/agents/{agent_id}/certificates/{certificate_id}")

    def report_discoveries(self, agent_id: str, body: dict) -> dict:
        """Certificate files found on this host (paths, certificates, key_present); never a private key."""
        return self._call("POST", f"/agents/{agent_id}/discoveries", body=body)

    def report(self, agent_id: str, job_id: str, status: str, *, error: str = "", detail: str = "") -> dict:
        body = {"status": status, "error": error[:4000], "detail": detail[:1000]}
        return self._call("POST", f"/agents/{agent_id}/jobs/{job_id}/status", body=body)
