"""The agent loop: heartbeat, poll, make keys and CSRs for CSR jobs, deploy for deployment jobs, report."""

from __future__ import annotations

import logging
import platform
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from certctl_agent import __version__, discovery, keys
from certctl_agent.challenges import ChallengePublisher
from certctl_agent.client import AgentRetiredError, RequestRejected, ServerClient, ServerUnavailable
from certctl_agent.config import AgentConfig
from certctl_agent.state import Identity, State
from certctl_agent.targets import TARGETS, DeployError, Material, Policy

logger = logging.getLogger("certctl_agent")

EXIT_OK, EXIT_SERVER_ERROR, EXIT_CONFIG, EXIT_RETIRED = 0, 1, 2, 3
CHALLENGE_POLL_SECONDS = (
    1.0  # while a CSR is being signed: how often to ask for ACME HTTP-01 answers to serve
)


class AgentStopped(Exception):
    pass


class Agent:
    def __init__(self, config: AgentConfig, *, stop: threading.Event | None = None) -> None:
        self.config = config
        self.state = State(config.state_dir)
        self.stop = stop or threading.Event()
        self.client = ServerClient(config)
        self.identity: Identity | None = None
        self.policy = Policy(
            allowed_dirs=tuple(config.allowed_dirs),
            allowed_commands=tuple(config.allowed_commands),
            command_timeout=config.command_timeout,
        )
        self._last_heartbeat = 0.0
        self.challenges = ChallengePublisher(config.state_dir, tuple(config.allowed_dirs))

    # --- lifecycle -------------------------------------------------------------------------------------

    def ensure_registered(self) -> Identity:
        if self.identity is not None:
            return self.identity
        self.state.prepare()
        identity = self.state.identity()
        if identity is None:
            if not self.config.bootstrap_token:
                raise RequestRejected(401, "not_registered", "no saved credential and no bootstrap token")
            data = self.client.register(self.config.bootstrap_token, self.config.name, self.facts())
            identity = Identity(agent_id=data["id"], credential=data["api_key"])
            self.state.save_identity(identity)
            logger.info("registered as agent=%s name=%s", identity.agent_id, self.config.name)
            self._last_heartbeat = time.monotonic()
        self.identity = identity
        self.client.credential = identity.credential
        return identity

    def facts(self) -> dict[str, str]:
        return {
            "hostname": socket.gethostname()[:255],
            "os": platform.system().lower()[:64],
            "architecture": platform.machine()[:64],
            "ip_address": self._local_ip(),
            "version": __version__,
        }

    def _local_ip(self) -> str:
        """The address this host uses towards the server (a UDP connect sends nothing)."""
        parts = urlsplit(self.config.server_url)
        try:
            with socket.socket(
                socket.AF_INET6 if ":" in (parts.hostname or "") else socket.AF_INET, socket.SOCK_DGRAM
            ) as s:
                s.connect((parts.hostname, parts.port or 443))
                return s.getsockname()[0]
        except OSError:
            return ""

    def run_once(self) -> int:
        try:
            self.ensure_registered()
            self.cycle(force_heartbeat=True)
        except AgentStopped:
            logger.info("stopping")
        except AgentRetiredError:
            logger.error("this agent was retired on the server; stopping")
            return EXIT_RETIRED
        except ServerUnavailable as exc:
            logger.error("server unavailable: %s", exc)
            return EXIT_SERVER_ERROR
        except RequestRejected as exc:
            logger.error("server rejected the agent: %s", exc)
            return EXIT_CONFIG
        return EXIT_OK

    def run_forever(self) -> int:
        failures = 0
        while not self.stop.is_set():
            try:
                self.ensure_registered()
                self.cycle()
                failures = 0
                delay = self.config.poll_interval
            except AgentRetiredError:
                logger.error("this agent was retired on the server; stopping")
                return EXIT_RETIRED
            except RequestRejected as exc:
                if exc.status == 401 or self.identity is None:
                    # A refused credential or registration (bad token, name taken) will not fix itself.
                    logger.error("the server refused this agent: %s", exc)
                    return EXIT_CONFIG
                failures += 1
                delay = self.backoff(failures)
                logger.warning("request rejected: %s; retrying in %.0fs", exc, delay)
            except ServerUnavailable as exc:
                failures += 1
                delay = self.backoff(failures)
                logger.warning("server unavailable (%s); retrying in %.0fs", exc, delay)
            except AgentStopped:
                break
            self.stop.wait(delay)
        logger.info("stopping")
        return EXIT_OK

    def backoff(self, failures: int) -> float:
        return min(self.config.poll_interval * 2 ** (failures - 1), self.config.max_backoff)

    # --- one cycle -------------------------------------------------------------------------------------

    def cycle(self, *, force_heartbeat: bool = False) -> None:
        agent_id = self.identity.agent_id
        now = time.monotonic()
        if force_heartbeat or now - self._last_heartbeat >= self.config.heartbeat_interval:
            self.client.heartbeat(agent_id, self.facts())
            self._last_heartbeat = now
        work = self.client.poll(agent_id)
        self.publish_challenges(self.client, work.get("challenges") or [])
        issued = self.handle(work.get("jobs") or [])
        if issued:
            # A signed CSR creates deployment jobs right away: take them in the same cycle.
            self.handle(self.client.work(agent_id))
        if self.discovery_due():
            self.discover()

    # --- file discovery ----------------------------------------------------------------------------------

    def discovery_due(self) -> bool:
        """Discovery directories are configured and the last report is older than discovery_interval (the time
        is kept in the state dir, so `--once` under cron scans at that interval too)."""
        if not self.config.discovery_dirs:
            return False
        return time.time() - self.state.last_discovery() >= self.config.discovery_interval

    def discover(self) -> dict:
        """Scan the discovery directories and report what was found; returns the server's totals."""
        result = discovery.scan(self.config.discovery_dirs)
        totals = {"accepted": 0, "new": 0, "rejected": 0, "errors": len(result.errors)}
        try:
            for body in discovery.batches(result):
                answer = self.client.report_discoveries(self.identity.agent_id, body)
                totals["accepted"] += int(answer.get("accepted", 0))
                totals["new"] += int(answer.get("new", 0))
                totals["rejected"] += len(answer.get("rejected") or [])
        except RequestRejected as exc:
            if exc.status in (401, 410):
                raise
            logger.error("discovery report refused: %s", exc)  # retried at the next interval, not every poll
        self.state.save_last_discovery(time.time())
        logger.info(
            "discovery: %d certificate file(s) in %d dir(s), %d accepted, %d new, %d rejected, %d error(s)",
            len(result.certificates),
            len(result.scanned_dirs),
            totals["accepted"],
            totals["new"],
            totals["rejected"],
            totals["errors"],
        )
        return totals

    def run_discovery(self) -> int:
        """`certctl-agent --discover`: one scan and report now, whatever the interval says."""
        try:
            self.ensure_registered()
            self.discover()
        except AgentRetiredError:
            logger.error("this agent was retired on the server; stopping")
            return EXIT_RETIRED
        except ServerUnavailable as exc:
            logger.error("server unavailable: %s", exc)
            return EXIT_SERVER_ERROR
        except RequestRejected as exc:
            logger.error("server rejected the agent: %s", exc)
            return EXIT_CONFIG
        return EXIT_OK

    def handle(self, jobs: list[dict]) -> int:
        """Work through one poll's jobs; one bad job is reported and does not stop the others."""
        issued = 0
        for item in jobs:
            if self.stop.is_set():
                raise AgentStopped()
            job_id = item.get("id", "?")
            try:
                if item.get("type") == "Deployment":
                    self.deploy(item)
                elif item.get("status") == "AwaitingCSR":
                    issued += self.submit_csr(item)
            except (AgentRetiredError, ServerUnavailable):
                raise
            except RequestRejected as exc:
                if exc.status == 401:
                    raise
                logger.error("job=%s server refused a request: %s", job_id, exc)
                self._report(job_id, "Failed", error=f"server refused a request: {exc.message}")
            except Exception as exc:  # a malformed job or chain must not stop the agent
                logger.error("job=%s failed on the agent: %s", job_id, type(exc).__name__)
                self._report(job_id, "Failed", error=f"agent error: {type(exc).__name__}: {exc}")
        return issued

    def submit_csr(self, item: dict) -> int:
        job_id, cert_id = item["id"], item["certificate_id"]
        algorithm, size = item.get("key_algorithm", "ECDSA"), int(item.get("key_size") or 256)
        try:
            key = keys.generate_key(algorithm, size)
            csr = keys.build_csr(key, item["common_name"], item.get("sans") or [])
        except (ValueError, KeyError) as exc:
            self._report(job_id, "Failed", error=f"cannot make a key/CSR on the agent: {exc}")
            return 0
        key_path = self.state.save_key(cert_id, key)
        logger.info(
            "job=%s certificate=%s generated %s-%s key, submitting CSR", job_id, cert_id, algorithm, size
        )
        try:
            with self.answering_challenges():
                result = self.client.submit_csr(
                    self.identity.agent_id, certificate_id=cert_id, csr_pem=csr, job_id=job_id
                )
        except RequestRejected as exc:
            # Refused, so never signed: the key is useless. (After a timeout the CSR may have been signed, so
            # the key is kept then; unused keys are pruned later.)
            self.state.discard_key(key_path)
            if exc.status in (401, 410):
                raise
            logger.error("job=%s CSR rejected: %s", job_id, exc)
            if exc.status in (400, 422):
                self._report(job_id, "Failed", error=f"CSR rejected: {exc.message}")
            return 0
        logger.info("job=%s certificate issued serial=%s", job_id, result.get("serial_number", "?"))
        return 1

    def publish_challenges(self, client: ServerClient, items: list[dict]) -> None:
        """Serve the ACME HTTP-01 answers the server lists, remove the others, report what is served now."""
        to_report, _failed = self.challenges.sync(items)
        for token in to_report:
            try:
                client.challenge_published(self.identity.agent_id, token)
            except RequestRejected as exc:  # the order ended meanwhile: removed at the next sync
                logger.warning("ACME HTTP-01 answer not accepted as published: %s", exc)

    @contextmanager
    def answering_challenges(self) -> Iterator[None]:
        """While the server signs a CSR with an ACME issuer that has this agent answer HTTP-01, it waits for the
        answers: poll for them on the side (with a client of its own) until the submission returns."""
        done = threading.Event()
        client = ServerClient(self.config, self.identity.credential)

        def poll() -> None:
            while not done.wait(CHALLENGE_POLL_SECONDS):
                try:
                    self.publish_challenges(client, client.challenges(self.identity.agent_id))
                except (RequestRejected, ServerUnavailable) as exc:
                    logger.warning("ACME HTTP-01 answers not fetched: %s", exc)

        helper = threading.Thread(target=poll, name="acme-challenges", daemon=True)
        helper.start()
        try:
            yield
        finally:
            done.set()
            helper.join()

    def deploy(self, item: dict) -> None:
        job_id, cert_id = item["id"], item["certificate_id"]
        target_type = item.get("target_type", "")
        target_class = TARGETS.get(target_type)
        if target_class is None:
            self._report(
                job_id, "Failed", error=f"target type {target_type!r} is not supported by this agent"
            )
            return
        pickup = self.client.certificate(self.identity.agent_id, cert_id)
        chain = keys.split_chain(pickup["certificate_pem"])
        leaf = keys.leaf_of(pickup["certificate_pem"])
        key_pem = self.state.key_for(cert_id, leaf.public_key())
        if key_pem is None:
            self._report(
                job_id, "Failed", error="the private key of this certificate was not generated on this host"
            )
            return
        material = Material(leaf_pem=chain[0], chain_pem="".join(chain[1:]), key_pem=key_pem)
        name = item.get("target_name", item.get("target_id", ""))
        try:
            result = target_class(item.get("target_config") or {}, self.policy).deploy(material)
        except DeployError as exc:
            logger.error("job=%s target=%s deployment failed: %s", job_id, name, exc)
            self._report(job_id, "Failed", error=str(exc))
            return
        self.state.prune_keys(cert_id, keys.spki_fingerprint(leaf.public_key()))
        logger.info("job=%s target=%s %s", job_id, name, result.message)
        detail = result.message if result.changed else "skipped: " + result.message
        self._report(job_id, "Completed", detail=detail)

    def _report(self, job_id: str, status: str, *, error: str = "", detail: str = "") -> None:
        try:
            self.client.report(self.identity.agent_id, job_id, status, error=error, detail=detail)
        except RequestRejected as exc:
            logger.warning("job=%s status %s not accepted: %s", job_id, status, exc)
