"""`manage.py run_demo_tls_lab`: loopback TLS endpoints with typical certificate problems, for the demo scan."""

from __future__ import annotations

import contextlib
import signal
import socket
import ssl
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from certificates.discovery.demo import HOST, SITES, lab_contexts


class Command(BaseCommand):
    help = (
        "Serve the demo TLS lab on 127.0.0.1 from CERTCTL_DEMO_TLS_LAB_PORT (default 8443) upward: the demo scan "
        "profile finds a healthy chain, a second SNI name, a self-signed RSA-1024, an expired certificate and a "
        "missing intermediate. A TLS handshake only; runs until SIGTERM or Ctrl-C."
    )

    def handle(self, *args, **options) -> None:
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda *_: stop.set())
        base = settings.DEMO_TLS_LAB_PORT
        listeners = []
        for offset, by_name in lab_contexts(settings.DATA_DIR).items():
            default = next(iter(by_name.values()))

            def pick(sslobj, server_name, _context, by_name=by_name):
                if server_name in by_name:
                    sslobj.context = by_name[server_name]

            default.sni_callback = pick
            listener = socket.create_server((HOST, base + offset))
            listener.settimeout(0.5)
            listeners.append(listener)
            threading.Thread(target=_serve, args=(listener, default, stop), daemon=True).start()
        self.stdout.write(
            f"Demo TLS lab on {HOST} ports {base}-{base + max(s.port_offset for s in SITES)}: "
            + ", ".join(f"{s.name} ({s.problem})" for s in SITES)
        )
        try:
            while not stop.wait(0.5):
                pass
        finally:
            for listener in listeners:
                listener.close()


def _serve(listener: socket.socket, context: ssl.SSLContext, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        threading.Thread(target=_handshake, args=(conn, context), daemon=True).start()


def _handshake(conn: socket.socket, context: ssl.SSLContext) -> None:
    conn.settimeout(5)
    with contextlib.suppress(OSError, ssl.SSLError), conn, context.wrap_socket(conn, server_side=True) as tls:
        tls.recv(1)
