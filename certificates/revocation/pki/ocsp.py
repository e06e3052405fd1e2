"""RFC 6960 OCSP: parse a request, sign a basic response with the delegated responder, canned error responses."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from certctl.kernel.x509 import serial_hex, signature_hash
from certificates.revocation.pki import reason_flag

HASH_ALGORITHMS = {"sha1": hashes.SHA1, "sha224": hashes.SHA224, "sha256": hashes.SHA256,
                   "sha384": hashes.SHA384, "sha512": hashes.SHA512}  # fmt: skip


class MalformedRequest(ValueError):
    """The bytes are not a single-certificate DER OCSPRequest we can answer."""


@dataclass(frozen=True)
class ParsedRequest:
    serial_number: int
    hash_algorithm: str
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    nonce: bytes | None

    @property
    def serial_hex(self) -> str:
        return serial_hex(self.serial_number)


def parse_request(der: bytes) -> ParsedRequest:
    try:
        request = ocsp.load_der_ocsp_request(der)
        algorithm = request.hash_algorithm.name
        serial = request.serial_number
        nonce = None
        for extension in request.extensions:
            if isinstance(extension.value, x509.OCSPNonce):
                nonce = extension.value.nonce
    except (ValueError, TypeError, x509.UnsupportedGeneralNameType) as exc:
        raise MalformedRequest(str(exc)) from exc
    if algorithm not in HASH_ALGORITHMS:
        raise MalformedRequest(f"unsupported CertID hash {algorithm}")
    return ParsedRequest(serial, algorithm, request.issuer_name_hash, request.issuer_key_hash, nonce)


def decode_get_path(encoded: str) -> bytes:
    """RFC 6960 appendix A.1: the URL path segment is the (URL-decoded) base64 of the DER request.

    `/` is a base64 character, so a trailing slash is either the request's own last character or one a client
    added to the URL. Clients send padded base64: a text of whole 4-character groups that decodes is taken as it
    is, then the text less one trailing slash (about one request in 200 ends with a `/` of its own, and
    stripping every trailing slash made them malformed); only then are unpadded forms tried."""
    text = encoded.strip().lstrip("/").replace(" ", "+")
    for whole in (text, text[:-1] if text.endswith("/") else ""):
        if whole and len(whole) % 4 == 0:
            try:
                return base64.b64decode(whole, validate=True)
            except ValueError:
                pass
    text = text.rstrip("/")
    if not text:
        raise MalformedRequest("empty request")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=None, validate=True)
    except ValueError:
        try:
            return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except ValueError as exc:
            raise MalformedRequest("request is not base64") from exc


@cache
def issuer_hashes(ca_cert_der: bytes, algorithm: str) -> tuple[bytes, bytes]:
    """(issuerNameHash, issuerKeyHash) of a CA for one CertID hash algorithm."""
    ca_cert = x509.load_der_x509_certificate(ca_cert_der)
    name_digest = hashes.Hash(HASH_ALGORITHMS[algorithm]())
    name_digest.update(ca_cert.subject.public_bytes())
    key_bits = ca_cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key_digest = hashes.Hash(HASH_ALGORITHMS[algorithm]())
    key_digest.update(_subject_public_key_bits(key_bits))
    return name_digest.finalize(), key_digest.finalize()


def _subject_public_key_bits(spki_der: bytes) -> bytes:
    """The BIT STRING contents of a SubjectPublicKeyInfo (what issuerKeyHash hashes)."""

    def read_tlv(data: bytes, offset: int) -> tuple[int, int, int]:
        tag = data[offset]
        length = data[offset + 1]
        offset += 2
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(data[offset : offset + count], "big")
            offset += count
        return tag, offset, length

    _, body, _ = read_tlv(spki_der, 0)  # SEQUENCE
    _, alg_body, alg_len = read_tlv(spki_der, body)  # AlgorithmIdentifier
    _, bits_body, bits_len = read_tlv(spki_der, alg_body + alg_len)  # BIT STRING
    return spki_der[bits_body + 1 : bits_body + bits_len]  # skip the unused-bits byte


@dataclass(frozen=True)
class Answer:
    status: str  # good | revoked | unknown
    revoked_at: datetime | None = None
    reason: str | None = None


_STATUS = {"good": ocsp.OCSPCertStatus.GOOD, "revoked": ocsp.OCSPCertStatus.REVOKED,
           "unknown": ocsp.OCSPCertStatus.UNKNOWN}  # fmt: skip


def build_response(
    request: ParsedRequest,
    answer: Answer,
    *,
    responder_cert: x509.Certificate,
    responder_key,
    this_update: datetime,
    next_update: datetime,
) -> bytes:
    """A successful basic OCSP response for the request's CertID, signed by the delegated responder."""
    revoked = answer.status == "revoked"
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response_by_hash(
            issuer_name_hash=request.issuer_name_hash,
            issuer_key_hash=request.issuer_key_hash,
            serial_number=request.serial_number,
            algorithm=HASH_ALGORITHMS[request.hash_algorithm](),
            cert_status=_STATUS[answer.status],
            this_update=this_update,
            next_update=next_update,
            revocation_time=answer.revoked_at if revoked else None,
            revocation_reason=reason_flag(answer.reason or "") if revoked else None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, responder_cert)
        .certificates([responder_cert])
    )
    if request.nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(request.nonce), critical=False)
    response = builder.sign(responder_key, signature_hash(responder_key))
    return response.public_bytes(serialization.Encoding.DER)


@cache
def error_response(status: str) -> bytes:
    """An unsigned OCSP error response: malformedRequest, internalError, tryLater or unauthorized."""
    code = {
        "malformedRequest": ocsp.OCSPResponseStatus.MALFORMED_REQUEST,
        "internalError": ocsp.OCSPResponseStatus.INTERNAL_ERROR,
        "tryLater": ocsp.OCSPResponseStatus.TRY_LATER,
        "unauthorized": ocsp.OCSPResponseStatus.UNAUTHORIZED,
    }[status]
    return ocsp.OCSPResponseBuilder.build_unsuccessful(code).public_bytes(serialization.Encoding.DER)
