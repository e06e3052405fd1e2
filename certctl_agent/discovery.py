"""File discovery on this host: find certificate files in the configured directories and describe them.

What leaves the host, per certificate file: its path, the certificate (PEM), the other certificates of the same file
(`chain`) and `key_present`, whether a private key in the same directory belongs to it. The keys themselves are
read only to compare public keys, here, and are never sent, logged or kept.

Files: `.pem .crt .cer .der` (PEM, PEM bundles or DER). Skipped and reported as errors: files over 1 MiB, files that
cannot be read, `.crt/.cer/.der` files that hold no certificate. Symlinked directories are followed once (a loop is
walked once). Private keys: `.key` and `.pem` files holding an unencrypted `PRIVATE KEY` block (an encrypted key
cannot be compared without its password, so it does not count).
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

logger = logging.getLogger("certctl_agent")

MAX_FILE_BYTES = 1024 * 1024
CERT_SUFFIXES = frozenset({".pem", ".crt", ".cer", ".der"})
KEY_SUFFIXES = frozenset({".key", ".pem"})
MAX_ERRORS = 1000
REPORT_BYTES = 512 * 1024  # one report stays well under the server's default 1 MiB body limit
REPORT_ITEMS = 1000
PRIVATE_KEY_BLOCK = re.compile(
    rb"-----BEGIN ((?:RSA |EC |DSA )?PRIVATE KEY)-----.*?-----END \1-----", re.DOTALL
)


@dataclass
class ScanResult:
    certificates: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    scanned_dirs: list[str] = field(default_factory=list)

    def error(self, path: Path | str, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"path": str(path), "error": message})


def _spki(public_key) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, ValueError):
        return False


def _read(path: Path, result: ScanResult) -> bytes | None:
    """The file's bytes, or None (recorded as an error) when it is too big or cannot be read."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            return None
        if info.st_size > MAX_FILE_BYTES:
            result.error(path, f"skipped: {info.st_size} bytes, over {MAX_FILE_BYTES}")
            return None
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        result.error(path, f"cannot read: {exc.strerror or type(exc).__name__}")
        return None
    if len(data) > MAX_FILE_BYTES:  # grew while we looked
        result.error(path, f"skipped: over {MAX_FILE_BYTES} bytes")
        return None
    return data


def _certificates(path: Path, data: bytes) -> list[x509.Certificate]:
    """The certificates of a file; ValueError when a certificate file holds none."""
    if b"-----BEGIN CERTIFICATE" in data:
        return x509.load_pem_x509_certificates(data)
    if b"-----BEGIN" in data:
        return []  # another PEM object (a key, DH parameters): not a certificate file, not an error either
    return [x509.load_der_x509_certificate(data)]


def _key_spkis(data: bytes) -> set[bytes]:
    """Public keys of the unencrypted private keys in a file; the private keys are dropped right away."""
    found = set()
    for match in PRIVATE_KEY_BLOCK.finditer(data):
        try:
            key = serialization.load_pem_private_key(match.group(0), password=None)
        except (ValueError, TypeError):  # unreadable, or encrypted
            continue
        found.add(_spki(key.public_key()))
    return found


def _walk(root: Path, result: ScanResult) -> Iterator[tuple[Path, list[str]]]:
    """(directory, file names) under root, following symlinked directories but entering each directory once."""
    visited: set[tuple[int, int]] = set()

    def failed(exc: OSError) -> None:
        result.error(exc.filename or root, f"cannot list: {exc.strerror or type(exc).__name__}")

    for directory, dirnames, filenames in os.walk(root, onerror=failed, followlinks=True):
        try:
            info = os.stat(directory)
        except OSError as exc:
            failed(exc)
            dirnames[:] = []
            continue
        if (info.st_dev, info.st_ino) in visited:
            dirnames[:] = []  # a symlink loop, or a directory linked twice
            continue
        visited.add((info.st_dev, info.st_ino))
        dirnames.sort()
        yield Path(directory), sorted(filenames)


def _items(path: Path, certs: list[x509.Certificate], key_spkis: set[bytes]) -> list[dict]:
    """One report item per file: its first leaf with the file's other certificates as chain. A file of CA
    certificates only (a trust bundle) gives one item per certificate, at `path#n`."""
    leaves = [cert for cert in certs if not _is_ca(cert)]
    if leaves or len(certs) == 1:
        leaf = leaves[0] if leaves else certs[0]
        chain = [_pem(cert) for cert in certs if cert is not leaf]
        key_present = _spki(leaf.public_key()) in key_spkis
        return [{"path": str(path), "pem": _pem(leaf), "chain": chain, "key_present": key_present}]
    return [
        {"path": f"{path}#{number}", "pem": _pem(cert), "chain": [], "key_present": False}
        for number, cert in enumerate(certs, start=1)
    ]


def scan(directories: Iterable[Path]) -> ScanResult:
    """Walk the directories and describe every certificate file found (see the module docstring)."""
    result = ScanResult()
    for root in directories:
        root = Path(root)
        if not root.is_dir():
            result.error(root, "not a directory (or not readable)")
            continue
        result.scanned_dirs.append(str(root))
        for directory, names in _walk(root, result):
            contents: dict[Path, bytes] = {}
            key_spkis: set[bytes] = set()
            for name in names:
                path = directory / name
                suffix = path.suffix.lower()
                if suffix not in CERT_SUFFIXES and suffix not in KEY_SUFFIXES:
                    continue
                data = _read(path, result)
                if data is None:
                    continue
                contents[path] = data
                if suffix in KEY_SUFFIXES and b"PRIVATE KEY-----" in data:
                    key_spkis |= _key_spkis(data)
            for path, data in contents.items():
                if path.suffix.lower() not in CERT_SUFFIXES:
                    continue
                try:
                    certs = _certificates(path, data)
                except ValueError:
                    result.error(path, "not a certificate (neither PEM nor DER)")
                    continue
                if certs:
                    result.certificates.extend(_items(path, certs, key_spkis))
    return result


def batches(result: ScanResult) -> Iterator[dict]:
    """The report bodies to send: certificates split so each body stays under REPORT_BYTES and REPORT_ITEMS;
    the first body carries the scan errors. Always at least one body, so an empty scan is reported too."""
    body: dict = {"certificates": [], "scanned_dirs": result.scanned_dirs, "errors": result.errors}
    size = len(json.dumps(body))
    for item in result.certificates:
        item_size = len(json.dumps(item)) + 2
        if body["certificates"] and (
            size + item_size > REPORT_BYTES or len(body["certificates"]) >= REPORT_ITEMS
        ):
            yield body
            body = {"certificates": [], "scanned_dirs": result.scanned_dirs, "errors": []}
            size = len(json.dumps(body))
        body["certificates"].append(item)
        size += item_size
    yield body
