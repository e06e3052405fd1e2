"""ACME HTTP-01 answers this host publishes for the server (issuer `challenge: http-01-agent`).

The server lists the answers to serve now; each goes into `<acme_webroot>/.well-known/acme-challenge/<token>` (the
webroot must be inside `allowed_dirs`) or is served by a small built-in HTTP server on `acme_http_port` while the
agent runs. What was published is noted in `<state_dir>/acme-challenges.json`, so an answer that is no longer
listed (its order ended, successfully or not) is removed at the next poll, also after a restart.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

logger = logging.getLogger("certctl_agent")

TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
CHALLENGE_DIR = Path(".well-known/acme-challenge")


class ChallengeError(Exception):
    pass


class _AnswerServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int) -> None:
        self.answers: dict[str, str] = {}
        super().__init__(("", port), _AnswerHandler)
        self.thread = threading.Thread(target=self.serve_forever, name=f"acme-http-{port}", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.thread.join()


class _AnswerHandler(BaseHTTPRequestHandler):
    server: _AnswerServer

    def do_GET(self) -> None:
        prefix = f"/{CHALLENGE_DIR}/"
        token = self.path.split("?", 1)[0].removeprefix(prefix) if self.path.startswith(prefix) else ""
        answer = self.server.answers.get(token)
        body = (answer or "no such ACME challenge").encode()
        self.send_response(200 if answer is not None else 404)
        self.send_header("Content-Type", "application/octet-stream" if answer is not None else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # the tokens are not for the log
        return None


class ChallengePublisher:
    def __init__(self, state_dir: Path, allowed_dirs: tuple[Path, ...]) -> None:
        self.record_path = state_dir / "acme-challenges.json"
        self.allowed_dirs = allowed_dirs
        self.servers: dict[int, _AnswerServer] = {}
        self.lock = threading.Lock()  # the poll loop and the helper that runs while a CSR is signed

    def _published(self) -> dict[str, dict]:
        try:
            return json.loads(self.record_path.read_text())
        except (OSError, ValueError):
            return {}

    def _save(self, published: dict[str, dict]) -> None:
        temporary = self.record_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(published))
        os.replace(temporary, self.record_path)

    def sync(self, items: list[dict]) -> tuple[list[str], dict[str, str]]:
        """Publish what the server lists and remove what it no longer lists. Returns the tokens to report
        published (those the server does not know as published yet) and the tokens that failed, with why."""
        with self.lock:
            published = self._published()
            wanted = {item.get("token"): item for item in items if isinstance(item, dict)}
            for token in [t for t in published if t not in wanted]:
                self._remove(token, published.pop(token))
            to_report, failed = [], {}
            for token, item in wanted.items():
                try:
                    if token not in published or (
                        "port" in published[token] and published[token]["port"] not in self.servers
                    ):
                        published[token] = self._publish(str(token), item)
                except ChallengeError as exc:
                    failed[str(token)] = str(exc)
                    logger.error(
                        "ACME HTTP-01 answer not published for order=%s: %s", item.get("order_id"), exc
                    )
                    continue
                if not item.get("published"):
                    to_report.append(token)
            self._save(published)
            return to_report, failed

    def _publish(self, token: str, item: dict) -> dict:
        if not TOKEN.match(token):
            raise ChallengeError("the server sent a malformed challenge token")
        answer = str(item.get("key_authorization", ""))
        if not answer.startswith(f"{token}."):
            raise ChallengeError("the key authorisation does not belong to the token")
        webroot, port = item.get("acme_webroot") or "", item.get("acme_http_port")
        if webroot:
            path = self._webroot(webroot) / CHALLENGE_DIR / token
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(answer)
            path.chmod(0o644)
            logger.info("ACME HTTP-01 answer written for order=%s into %s", item.get("order_id"), webroot)
            return {"path": str(path)}
        if isinstance(port, int) and 1 <= port <= 65535:
            server = self.servers.get(port)
            if server is None:
                try:
                    server = self.servers[port] = _AnswerServer(port)
                except OSError as exc:
                    raise ChallengeError(f"cannot serve HTTP-01 on port {port}: {exc.strerror}") from exc
            server.answers[token] = answer
            logger.info("ACME HTTP-01 answer served for order=%s on port %s", item.get("order_id"), port)
            return {"port": port}
        raise ChallengeError("the target's config has neither acme_webroot nor a usable acme_http_port")

    def _webroot(self, raw: str) -> Path:
        path = Path(raw)
        if not path.is_absolute():
            raise ChallengeError(f"acme_webroot must be an absolute path, got {raw!r}")
        resolved = path.resolve()
        if not any(resolved.is_relative_to(root.resolve()) for root in self.allowed_dirs):
            raise ChallengeError(f"acme_webroot {raw} is outside this agent's allowed_dirs")
        return resolved

    def _remove(self, token: str, where: dict) -> None:
        if "path" in where:
            Path(where["path"]).unlink(missing_ok=True)
        elif "port" in where and (server := self.servers.get(where["port"])) is not None:
            server.answers.pop(token, None)
            if not server.answers:
                self.servers.pop(where["port"]).stop()
        logger.info("ACME HTTP-01 answer removed (its order ended)")

    def close(self) -> None:
        with self.lock:
            for server in self.servers.values():
                server.stop()
            self.servers.clear()
