"""DNS-01's real parts for the ACME tests: pebble-challtestsrv (pebble's DNS server, which pebble validates DNS-01
against), exec hooks written as small Python scripts, and a loopback RFC 2136 server.

challtestsrv takes no dynamic updates, so `Rfc2136Server` is a real RFC 2136 peer in front of it: it listens on
UDP and TCP, verifies each UPDATE's TSIG with dnspython, and applies the accepted changes to challtestsrv through
its management API (answering NOTAUTH with a TSIG error, as BIND does, when the signature or key is wrong).
"""

from __future__ import annotations

import os
import socketserver
import stat
import struct
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.tsig
import pytest
import requests

from tests.acme_support import _in_ci


@dataclass(frozen=True)
class Challtestsrv:
    url: str  # management API
    dns: str  # host:port of its DNS server

    def set_txt(self, name: str, value: str) -> None:
        requests.post(f"{self.url}/set-txt", json={"host": _fqdn(name), "value": value}, timeout=5)

    def clear_txt(self, name: str) -> None:
        requests.post(f"{self.url}/clear-txt", json={"host": _fqdn(name)}, timeout=5)


def _fqdn(name: str) -> str:
    return name.rstrip(".") + "."


@pytest.fixture(scope="session")
def challtestsrv(pebble) -> Challtestsrv:
    """The pebble-challtestsrv scripts/with-services.sh started next to pebble."""
    missing = [name for name in ("CHALLTESTSRV_URL", "CHALLTESTSRV_DNS") if not os.environ.get(name)]
    if missing:
        reason = (
            f"no pebble-challtestsrv ({', '.join(missing)} unset); run the tests through with-services.sh"
        )
        if _in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    return Challtestsrv(url=os.environ["CHALLTESTSRV_URL"], dns=os.environ["CHALLTESTSRV_DNS"])


def unique_domain() -> str:
    """A fresh name per test, so pebble validates it anew and no other test's TXT records are in the way."""
    return f"dns-{uuid.uuid4().hex[:10]}.certctl-acme.test"


HOOK_TEMPLATE = """#!{python}
# A DNS-01 exec hook for the tests: publishes through pebble-challtestsrv's management API.
import json, os, subprocess, sys, urllib.request

action, name, value = sys.argv[1:4]
with open({log!r}, "a") as log:
    log.write(json.dumps({{"action": action, "name": name, "value": value, "env": sorted(os.environ),
                          "env_name": os.environ.get("CERTCTL_ACME_DNS_NAME"),
                          "env_value": os.environ.get("CERTCTL_ACME_DNS_VALUE")}}) + "\\n")


def post(path, body):
    request = urllib.request.Request({url!r} + path, data=json.dumps(body).encode(), method="POST")
    urllib.request.urlopen(request, timeout=5).read()


behaviour = {behaviour!r}
host = name.rstrip(".") + "."
if behaviour == "fail":
    print("calling the DNS API with token " + os.environ.get("DNS_API_TOKEN", "?"), file=sys.stderr)
    print("x" * 2000, file=sys.stderr)
    print("DNS API said: 403 forbidden for token " + os.environ.get("DNS_API_TOKEN", "?"), file=sys.stderr)
    sys.exit(1)
if behaviour == "sleep":
    import time
    time.sleep(30)
if action == "present":
    if behaviour == "late":  # the record appears a while after the hook returns, like a slow DNS API
        code = "import time, json, urllib.request; time.sleep(1.5); urllib.request.urlopen(urllib.request." \\
            "Request(%r, data=json.dumps(%r).encode(), method='POST'), timeout=5).read()" % (
                {url!r} + "/set-txt", {{"host": host, "value": value}})
        subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    elif behaviour != "silent":
        post("/set-txt", {{"host": host, "value": value}})
else:
    post("/clear-txt", {{"host": host}})
"""


@dataclass(frozen=True)
class DnsHook:
    path: Path
    log: Path

    def calls(self) -> list[dict]:
        if not self.log.exists():
            return []
        import json

        return [json.loads(line) for line in self.log.read_text().splitlines()]


def write_hook(tmp_path: Path, challtestsrv: Challtestsrv, behaviour: str = "publish") -> DnsHook:
    """An executable hook script: `publish` (at once), `late` (1.5 s after returning), `silent` (never),
    `fail` (exit 1 with a long stderr that names DNS_API_TOKEN) or `sleep` (30 s)."""
    path = tmp_path / f"dns-hook-{behaviour}"
    log = tmp_path / f"dns-hook-{behaviour}.log"
    path.write_text(
        HOOK_TEMPLATE.format(python=sys.executable, log=str(log), url=challtestsrv.url, behaviour=behaviour)
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return DnsHook(path=path, log=log)


class Rfc2136Server:
    """A loopback RFC 2136 server for one zone and one TSIG key, applying accepted updates to challtestsrv."""

    def __init__(self, challtestsrv: Challtestsrv, zone: str, key_name: str, secret: str, algorithm: str):
        self.challtestsrv = challtestsrv
        self.zone = dns.name.from_text(zone)
        self.keyring = {dns.name.from_text(key_name): dns.tsig.Key(key_name, secret, algorithm)}
        self.records: dict[str, set[str]] = {}
        self.applied: list[tuple[str, str, str]] = []  # (add|delete, name, value) of accepted updates
        self.refused: list[str] = []  # why each refused message was refused
        self.lock = threading.Lock()
        self.port = 0
        self._servers: list[socketserver.BaseServer] = []

    def answer(self, wire: bytes) -> bytes:
        try:
            update = dns.message.from_wire(wire, keyring=self.keyring)
        except (dns.message.UnknownTSIGKey, dns.tsig.BadSignature, dns.tsig.BadKey) as exc:
            return self._tsig_refusal(wire, exc)
        if update.opcode() != dns.opcode.UPDATE or not update.had_tsig:
            self.refused.append("not a signed UPDATE")
            return self._reply(update, dns.rcode.REFUSED)
        zone = update.question[0].name if update.question else None
        if zone != self.zone:
            self.refused.append(f"zone {zone}")
            return self._reply(update, dns.rcode.NOTAUTH)
        changes = []
        for rrset in update.authority:  # the update section
            if not rrset.name.is_subdomain(self.zone):
                self.refused.append(f"{rrset.name} outside {self.zone}")
                return self._reply(update, dns.rcode.NOTZONE)
            if rrset.rdtype != dns.rdatatype.TXT:
                return self._reply(update, dns.rcode.REFUSED)
            name = rrset.name.to_text()
            if rrset.deleting is None:  # dnspython keeps the zone's class and says what a deletion is here
                changes += [("add", name, b"".join(r.strings).decode()) for r in rrset]
            elif rrset.deleting == dns.rdataclass.NONE:
                changes += [("delete", name, b"".join(r.strings).decode()) for r in rrset]
            else:
                changes.append(("delete-all", name, ""))
        with self.lock:
            for action, name, value in changes:
                self._apply(action, name, value)
        return self._reply(update, dns.rcode.NOERROR)

    def _apply(self, action: str, name: str, value: str) -> None:
        values = self.records.setdefault(name, set())
        if action == "add":
            values.add(value)
        elif action == "delete":
            values.discard(value)
        else:
            values.clear()
        # challtestsrv can only clear a name, so set it to what remains.
        self.challtestsrv.clear_txt(name)
        for remaining in sorted(values):
            self.challtestsrv.set_txt(name, remaining)
        self.applied.append((action, name, value))

    @staticmethod
    def _reply(update: dns.message.Message, rcode: int) -> bytes:
        response = dns.message.make_response(update)  # signed with the request's key when it had one
        response.set_rcode(rcode)
        return response.to_wire()

    def _tsig_refusal(self, wire: bytes, exc: Exception) -> bytes:
        """NOTAUTH with the TSIG error BADKEY or BADSIG, as a real server answers a key it does not accept."""
        update = dns.message.from_wire(wire, keyring=False)
        self.refused.append(type(exc).__name__)
        response = dns.message.make_response(update)
        response.set_rcode(dns.rcode.NOTAUTH)
        error = dns.rcode.BADSIG if isinstance(exc, dns.tsig.BadSignature) else dns.rcode.BADKEY
        response.use_tsig(
            dns.tsig.Key(update.keyname, b"\0" * 32, update.keyalgorithm),
            tsig_error=error,
            algorithm=update.keyalgorithm,
        )
        return response.to_wire()

    def start(self) -> None:
        server = self

        class Udp(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data, sock = self.request
                sock.sendto(server.answer(data), self.client_address)

        class Tcp(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                while header := self.rfile.read(2):
                    (length,) = struct.unpack("!H", header)
                    reply = server.answer(self.rfile.read(length))
                    self.wfile.write(struct.pack("!H", len(reply)) + reply)

        for _ in range(20):  # a free port for both UDP and TCP
            tcp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Tcp, bind_and_activate=True)
            try:
                udp = socketserver.ThreadingUDPServer(("127.0.0.1", tcp.server_address[1]), Udp)
            except OSError:
                tcp.server_close()
                continue
            break
        else:
            raise RuntimeError("no free port for both UDP and TCP")
        self.port = tcp.server_address[1]
        for listener in (tcp, udp):
            listener.daemon_threads = True
            threading.Thread(target=listener.serve_forever, daemon=True).start()
            self._servers.append(listener)

    def stop(self) -> None:
        for listener in self._servers:
            listener.shutdown()
            listener.server_close()
