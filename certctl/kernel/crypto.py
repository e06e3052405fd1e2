"""Encryption of secrets at rest (issuer credentials, CA private keys) with keys from CERTCTL_ENCRYPTION_KEY.

Each configured key is stretched with HKDF-SHA256 into a Fernet key (AES-128-CBC + HMAC-SHA256). The first key
encrypts; every key decrypts, so keys rotate by prepending a new one.
"""

from __future__ import annotations

import base64
import json
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


class DecryptionError(Exception):
    """The ciphertext was not made with any configured CERTCTL_ENCRYPTION_KEY."""


def _fernet_key(secret: str) -> bytes:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"certctl-at-rest-v1", info=b"fernet").derive(
        secret.encode()
    )
    return base64.urlsafe_b64encode(derived)


@cache
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(_fernet_key(k)) for k in keys])


def encrypt_bytes(plaintext: bytes) -> str:
    return _cipher(tuple(settings.ENCRYPTION_KEYS)).encrypt(plaintext).decode()


def decrypt_bytes(token: str) -> bytes:
    try:
        return _cipher(tuple(settings.ENCRYPTION_KEYS)).decrypt(token.encode())
    except InvalidToken as exc:
        raise DecryptionError(
            "secret cannot be decrypted with the configured CERTCTL_ENCRYPTION_KEY"
        ) from exc


def encrypt_json(value: object) -> str:
    return encrypt_bytes(json.dumps(value, sort_keys=True).encode())


def decrypt_json(token: str) -> object:
    return json.loads(decrypt_bytes(token))
