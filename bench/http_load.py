"""Driving a gunicorn-served WSGI application with `wrk` over loopback (bench/ocsp_http.py): start gunicorn as the
Procfile does, run wrk with a Lua script that POSTs DER bodies from a file (optionally with a fresh 16-byte nonce
spliced into each) and checks every OCSP response's status, and parse wrk's figures. `floor_app` is the
reference: the same gunicorn answering a fixed body with no work.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def production_like_environment(data_prefix: str) -> None:
    """Settings as production has them, for this process and the gunicorn it starts (the child inherits them):
    DEBUG off, throwaway keys, plain HTTP on loopback, a throwaway data dir. Call before Django is set up."""
    os.environ["CERTCTL_DEBUG"] = "false"
    os.environ.setdefault("CERTCTL_SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("CERTCTL_ENCRYPTION_KEY", secrets.token_urlsafe(32))
    os.environ["CERTCTL_ALLOWED_HOSTS"] = "localhost,127.0.0.1"
    os.environ["CERTCTL_SSL_REDIRECT"] = "false"
    os.environ.setdefault("CERTCTL_LOG_LEVEL", "WARNING")
    os.environ.setdefault("CERTCTL_DATA_DIR", tempfile.mkdtemp(prefix=data_prefix))
    (Path(os.environ["CERTCTL_DATA_DIR"]) / "staticfiles").mkdir(
        parents=True, exist_ok=True
    )  # whitenoise's root


LUA = r"""
local bodies = {}
local prefixes, suffixes = {}, {}
local nonce_mode = os.getenv("OCSP_NONCE") == "1"
local function unhex(s) return (s:gsub("..", function(h) return string.char(tonumber(h, 16)) end)) end
for line in io.lines(os.getenv("OCSP_BODIES")) do
  if nonce_mode then
    local prefix, suffix = line:match("^(%x*)N(%x*)$")
    prefixes[#prefixes + 1] = unhex(prefix)
    suffixes[#suffixes + 1] = unhex(suffix)
  else
    bodies[#bodies + 1] = unhex(line)
  end
end
local path = os.getenv("OCSP_PATH")
local headers = {["Content-Type"] = "application/ocsp-request", ["Host"] = "localhost"}
local i = 0
local bad = 0
math.randomseed(os.time())
-- Random nonces made once (1,009 of them, so that they do not repeat in step with the serials): making 16 random
-- bytes per request took a fifth of a core from the server on this 2-core machine. The server signs every nonced
-- answer live either way; it keeps no nonces.
local nonces = {}
for j = 1, 1009 do
  local nonce = {}
  for k = 1, 16 do nonce[k] = string.char(math.random(0, 255)) end
  nonces[j] = table.concat(nonce)
end
request = function()
  i = i + 1
  local body
  if nonce_mode then
    local n = (i % #prefixes) + 1
    body = prefixes[n] .. nonces[(i % #nonces) + 1] .. suffixes[n]
  else
    body = bodies[(i % #bodies) + 1]
  end
  return wrk.format("POST", path, headers, body)
end
-- OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED (0 = successful), ... }: check the status byte.
response = function(status, headers, body)
  local len = body:byte(2)
  local at = 3
  if len and len > 128 then at = 3 + (len - 128) end
  if status ~= 200 or body:byte(at) ~= 10 or body:byte(at + 2) ~= 0 then bad = bad + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("wrk-check bad_answers %d\n", bad))
end
"""


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def floor_app(environ, start_response):
    """The reference: gunicorn answering a fixed 600-byte body with no work (what HTTP alone costs here)."""
    environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "application/ocsp-response"), ("Content-Length", "600")])
    return [FLOOR_BODY]


FLOOR_BODY = b"0\x82\x02T\n\x01\x00" + b"\x00" * 593


def start_gunicorn(port: int, workers: int, app: str = "certctl.wsgi", threads: int = 0) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
        "--no-control-socket", "--logger-class", "certctl.gunicorn_logging.RedactingLogger", "--log-level", "warning",
    ]  # fmt: skip
    if threads:
        command += ["--worker-class", "gthread", "--threads", str(threads)]
    process = subprocess.Popen(command, cwd=ROOT, env=os.environ.copy(), start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit("gunicorn exited") from None
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start")


def run_wrk(port: int, path: str, bodies_file: Path, nonce: bool, connections: int, seconds: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA)
    env = {
        **os.environ,
        "OCSP_BODIES": str(bodies_file),
        "OCSP_PATH": path,
        "OCSP_NONCE": "1" if nonce else "0",
    }
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name,
         f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, env=env, timeout=seconds + 60,
    )  # fmt: skip
    os.unlink(script.name)
    text = out.stdout
    result = {
        "rate": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
        "requests": int(re.search(r"(\d+) requests in", text).group(1)),
        "bad": int(re.search(r"wrk-check bad_answers (\d+)", text).group(1)),
        "errors": re.search(r"Socket errors:.*", text).group(0) if "Socket errors" in text else "none",
        "non2xx": int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", text)) else 0,
    }
    for pct in ("50", "99"):
        m = re.search(rf"\s{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)", text)
        if m:
            scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
            result[f"p{pct}_ms"] = float(m.group(1)) * scale
    return result
