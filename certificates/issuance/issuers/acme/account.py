"""The ACME account: an EC P-256 key generated on first use and kept encrypted, and its registration at the CA.

The key, the account URL and the directory it belongs to are stored together in the issuer's encrypted secrets,
so pointing the issuer at another CA registers the same key there instead of using a foreign account URL.
"""

from __future__ import annotations

import josepy as jose
from acme import errors as acme_errors
from acme import messages
from acme.client import ClientV2
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import transaction

from certctl.kernel.crypto import encrypt_json
from certificates.inventory.models import Issuer
from certificates.issuance.issuers.acme.config import AcmeConfig, stored_secrets
from certificates.issuance.issuers.acme.network import (
    NETWORK_TIMEOUT_SECONDS,
    USER_AGENT,
    RecordingNetwork,
    issuer_error,
)
from certificates.issuance.issuers.base import IssuerError


def _store_secrets(issuer: Issuer, changes: dict) -> dict:
    """Merge `changes` into the issuer's encrypted secrets under a row lock; returns the stored secrets.

    A key already stored by another worker wins over ours, so two first uses never make two accounts.
    """
    with transaction.atomic():
        locked = Issuer.objects.select_for_update().only("id", "encrypted_config").get(pk=issuer.pk)
        current = stored_secrets(locked)
        if "account_key_pem" in changes and current.get("account_key_pem"):
            merged = current
        else:
            merged = {**current, **changes}
            locked.encrypted_config = encrypt_json(merged)
            Issuer.objects.filter(pk=issuer.pk).update(encrypted_config=locked.encrypted_config)
    issuer.encrypted_config = locked.encrypted_config
    return merged


def account_key(issuer: Issuer) -> jose.JWKEC:
    """The account key, made (EC P-256, used with ES256) and stored encrypted the first time it is needed."""
    secrets = stored_secrets(issuer)
    if not secrets.get("account_key_pem"):
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        secrets = _store_secrets(issuer, {"account_key_pem": pem})
    key = serialization.load_pem_private_key(secrets["account_key_pem"].encode(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise IssuerError(f"ACME issuer {issuer.name}: the stored account key is not an EC key")
    return jose.JWKEC(key=key)


def open_client(issuer: Issuer, config: AcmeConfig, *, register: bool = True) -> ClientV2:
    """A client for the issuer's CA with its account key; registers the account first when it has none here."""
    net = RecordingNetwork(
        key=account_key(issuer),
        alg=jose.ES256,
        verify_ssl=config.tls_verify,
        user_agent=USER_AGENT,
        timeout=NETWORK_TIMEOUT_SECONDS,
    )
    try:
        client = ClientV2(ClientV2.get_directory(config.directory_url, net), net)
    except Exception as exc:
        raise issuer_error(exc, "directory fetch", net) from exc
    secrets = stored_secrets(issuer)
    if secrets.get("account_url") and secrets.get("account_directory") == config.directory_url:
        net.account = messages.RegistrationResource(body=messages.Registration(), uri=secrets["account_url"])
    elif register:
        _register(issuer, client, config)
    return client


def _register(issuer: Issuer, client: ClientV2, config: AcmeConfig) -> None:
    net = client.net
    binding = None
    if config.eab_kid:
        binding = messages.ExternalAccountBinding.from_data(
            account_public_key=net.key.public_key(),
            kid=config.eab_kid,
            hmac_key=config.eab_hmac_key,
            directory=client.directory,
        )
    elif client.external_account_required():
        raise IssuerError(
            f"the ACME CA of issuer {issuer.name} requires External Account Binding: set eab_kid in the config "
            "and eab_hmac_key in the secrets (the CA gives you both)"
        )
    registration = messages.NewRegistration.from_data(
        email=config.contact_email or None,
        terms_of_service_agreed=True,
        external_account_binding=binding,
    )
    try:
        account_url = client.new_account(registration).uri
    except acme_errors.ConflictError as exc:  # the key already has an account at this CA
        account_url = exc.location
    except Exception as exc:
        raise issuer_error(exc, "account registration", net) from exc
    net.account = messages.RegistrationResource(body=messages.Registration(), uri=account_url)
    _store_secrets(issuer, {"account_url": account_url, "account_directory": config.directory_url})


def check_account(issuer: Issuer, client: ClientV2) -> str:
    """Ask the CA for the account (registering it when needed); returns its URL."""
    try:
        account = client.query_registration(client.net.account)
    except Exception as exc:
        raise issuer_error(exc, "account check", client.net) from exc
    return account.uri
