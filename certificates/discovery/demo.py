"""The demo TLS lab `make run` scans: a few loopback endpoints serving certificates with typical problems.

Certificates are made once and kept under CERTCTL_DATA_DIR/demo-tls-lab, so a restart serves the same ones
(a new certificate at a known endpoint would be flagged as a change, as it should). Demo only: nothing else uses it.
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

HOST = "127.0.0.1"


@dataclass(frozen=True)
class LabSite:
    name: str  # the SNI name and CN
    port_offset: int
    problem: str  # what the demo shows
    key: str = "ec"  # ec | rsa1024
    days: tuple[int, int] = (-10, 60)  # not_before, not_after relative to creation
    send_intermediate: bool = True
    self_signed: bool = False


SITES = [
    LabSite("www.lab.example", 0, "a healthy chain (leaf and intermediate)"),
    LabSite("api.lab.example", 0, "a second name behind SNI on the same port"),
    LabSite(
        "legacy.lab.example", 1, "self-signed RSA-1024", key="rsa1024", days=(-400, 3000), self_signed=True
    ),
    LabSite("expired.lab.example", 2, "expired three days ago", days=(-93, -3)),
    LabSite("partial.lab.example", 3, "the intermediate is not sent", send_intermediate=False, days=(-5, 20)),
]


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key(kind: str):
    if kind == "rsa1024":
        return rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the demo shows a weak key
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _certificate(cn, key, issuer_name, signing_key, start, end, *, ca: bool) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def _make(directory: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    root_key, inter_key = _key("ec"), _key("ec")
    root = _certificate(
        "certctl Demo Lab Root",
        root_key,
        _name("certctl Demo Lab Root"),
        root_key,
        now - dt.timedelta(days=30),
        now + dt.timedelta(days=3650),
        ca=True,
    )
    inter = _certificate(
        "certctl Demo Lab Issuing CA",
        inter_key,
        root.subject,
        root_key,
        now - dt.timedelta(days=30),
        now + dt.timedelta(days=1825),
        ca=True,
    )
    pem = serialization.Encoding.PEM
    for site in SITES:
        key = _key(site.key)
        start, end = (now + dt.timedelta(days=d) for d in site.days)
        if site.self_signed:
            cert = _certificate(site.name, key, _name(site.name), key, start, end, ca=False)
            chain = [cert]
        else:
            cert = _certificate(site.name, key, inter.subject, inter_key, start, end, ca=False)
            chain = [cert, inter] if site.send_intermediate else [cert]
        (directory / f"{site.name}.pem").write_bytes(b"".join(item.public_bytes(pem) for item in chain))
        (directory / f"{site.name}.key").write_bytes(_pem_key(key))
        (directory / f"{site.name}.key").chmod(0o600)
    (directory / "sites.json").write_text(json.dumps([site.name for site in SITES]))


def lab_contexts(data_dir: Path) -> dict[int, dict[str, ssl.SSLContext]]:
    """{port offset: {SNI name: server context}}; the first name of each offset is that port's default."""
    directory = data_dir / "demo-tls-lab"
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / "sites.json").exists() or json.loads((directory / "sites.json").read_text()) != [
        site.name for site in SITES
    ]:
        _make(directory)
    contexts: dict[int, dict[str, ssl.SSLContext]] = {}
    for site in SITES:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.set_ciphers("DEFAULT:@SECLEVEL=0")  # the RSA-1024 site must still load
        context.load_cert_chain(directory / f"{site.name}.pem", directory / f"{site.name}.key")
        contexts.setdefault(site.port_offset, {})[site.name] = context
    return contexts


def scan_targets(base_port: int) -> list[str]:
    """The demo scan profile's targets: each site by its name at the loopback address (SNI name@address:port)."""
    return [f"{site.name}@{HOST}:{base_port + site.port_offset}" for site in SITES]
