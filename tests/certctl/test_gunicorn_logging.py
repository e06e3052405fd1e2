"""gunicorn's access log redacts secret-like query parameters and credential headers, as the audit trail does."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORMAT = '%(h)s "%(r)s" %(s)s q=%(q)s auth=%({authorization}i)s'


def test_the_access_log_never_holds_a_token_from_the_query_or_the_authorization_header(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path / "access.log"
    env = {**os.environ, "CERTCTL_DEBUG": "true", "CERTCTL_DATA_DIR": str(tmp_path / "data")}
    env.pop("DATABASE_URL", None)  # /health needs no database
    command = [
        sys.executable, "-m", "gunicorn", "certctl.wsgi:application", "-b", f"127.0.0.1:{port}", "-w", "1",
        "--access-logfile", str(log), "--access-logformat", FORMAT,
        "--logger-class", "certctl.gunicorn_logging.RedactingLogger",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/health?token=s3cr3t-value&page=2")
                request.add_header("Authorization", "Bearer cctl_live_abcdef")
                urllib.request.urlopen(request, timeout=2).read()
                break
            except OSError:
                assert time.monotonic() < deadline, server.stderr.read1().decode()[-2000:]
                time.sleep(0.2)
        deadline = time.monotonic() + 10
        while "/health" not in (log.read_text() if log.exists() else ""):
            assert time.monotonic() < deadline, "no access log line"
            time.sleep(0.1)
    finally:
        server.kill()  # the log line is written; a graceful stop is tested elsewhere (tests/audit/test_writer.py)
        server.wait(timeout=30)
    line = [row for row in log.read_text().splitlines() if "/health" in row][-1]
    assert "s3cr3t-value" not in line and "cctl_live_abcdef" not in line
    assert "/health?token=%5BREDACTED%5D&page=2" in line or "/health?token=[REDACTED]&page=2" in line
    assert "auth=[REDACTED]" in line and " 200 " in line
